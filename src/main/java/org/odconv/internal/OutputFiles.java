package org.odconv.internal;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;

/**
 * How odconv writes every output file (model outputs, benchmark JSON and reports): into a temporary file beside
 * the target, renamed over it when complete, so that a reader never sees half a file and a failure leaves nothing.
 * The target may be a regular file or missing, never a folder, FIFO, socket or device (as root, an output of
 * {@code /dev/null} would otherwise become a regular file). The temporary file has a short name (a long target
 * name leaves no room for a long temporary one) nobody can guess ahead, and the mode the umask gives new files.
 * Every failure says why.
 */
public final class OutputFiles {
    private static final SecureRandom NAMES = new SecureRandom();

    /** Fills the temporary file it is given. */
    @FunctionalInterface
    public interface Writer {
        void write(Path temporary) throws IOException;
    }

    private OutputFiles() {}

    /**
     * Writes target through {@code writer}, then atomically replaces it.
     *
     * @throws IOException "cannot write TARGET: REASON", the writer's own failure as its cause
     */
    public static void replace(Path target, Writer writer) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path temporary = null;
        try {
            refuseNonRegular(absolute);
            temporary = createTemporary(absolute.getParent());
            writer.write(temporary);
            Files.move(temporary, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new IOException("cannot write " + target + ": " + reason(e, absolute), e);
        } finally {
            if (temporary != null) Files.deleteIfExists(temporary);
        }
    }

    /**
     * Fails as {@link #replace} would before writing anything: the target exists and is not a regular file, or its
     * folder does not exist. A command with several outputs checks each first, so that a bad second one does not
     * fail it after the first has been replaced.
     *
     * @throws IOException "cannot write TARGET: REASON"
     */
    public static void checkReplaceable(Path target) throws IOException {
        Path absolute = target.toAbsolutePath();
        try {
            refuseNonRegular(absolute);
            if (!Files.isDirectory(absolute.getParent())) throw new NoSuchFileException(absolute.toString());
        } catch (IOException e) {
            throw new IOException("cannot write " + target + ": " + reason(e, absolute), e);
        }
    }

    private static void refuseNonRegular(Path absolute) throws FileSystemException {
        if (Files.exists(absolute) && !Files.isRegularFile(absolute)) {
            throw new FileSystemException(absolute.toString(), null, "it is not a regular file (a folder, FIFO,"
                    + " socket or device), which an output never replaces");
        }
    }

    private static Path createTemporary(Path folder) throws IOException {
        for (int attempt = 0; ; attempt++) {
            try {
                return Files.createFile(folder.resolve(".odconv-" + Long.toHexString(NAMES.nextLong() >>> 16) + ".tmp"));
            } catch (FileAlreadyExistsException taken) {
                if (attempt == 100) throw taken;
            }
        }
    }

    /** What went wrong, in words: the JDK's I/O exceptions carry the path as their message and the reason apart. */
    private static String reason(IOException e, Path target) {
        if (e instanceof NoSuchFileException) return "no such folder: " + target.getParent();
        if (e instanceof AccessDeniedException) return "permission denied in " + target.getParent();
        if (e instanceof FileSystemException f && f.getReason() != null) return f.getReason();
        return e.toString();
    }
}
