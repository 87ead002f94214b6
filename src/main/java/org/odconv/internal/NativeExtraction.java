package org.odconv.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The jar's native libraries on disk, in a form no other local user can have written: the process loads code from
 * these files, so a file another user could create or change would run that user's code in this process.
 *
 * <p>Each user has a folder of their own in the extraction base ({@code odconv-native-<uid>}, mode 0700), with one
 * subfolder per build (named by the hash of the jar's manifest). Before a folder is used, it and every file the
 * manifest lists must be owned by this process's user, writable by nobody else, not symbolic links, and match the
 * manifest's SHA-256. A damaged or tampered copy is replaced by a fresh extraction. A per-user folder that fails
 * the ownership test (another user created it first) is left alone, and the libraries go to a private folder of
 * this process's own, deleted when the JVM exits.
 */
final class NativeExtraction {
    static final String MANIFEST = "natives.sha256";
    /** The CUDA part's manifest, in the jars that carry libodconv_cuda.so (the runnable one, the "cuda" classifier). */
    static final String CUDA_MANIFEST = "natives-cuda.sha256";
    static final String RESOURCE_DIR = "/org/odconv/native/linux-x86_64/";
    static final String USER_FOLDER_PREFIX = "odconv-native-";

    private static final Set<PosixFilePermission> WRITABLE_BY_OTHERS =
            Set.of(PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_WRITE);

    private NativeExtraction() {}

    /**
     * The class path's manifests, the CPU one and the CUDA one where a jar carries it: file name to SHA-256 (hex),
     * in load order; bytes, both manifests' text.
     */
    record Manifest(byte[] bytes, Map<String, String> sha256ByFile) {
        static Manifest fromJar() {
            byte[] cpu = readResource(MANIFEST);
            if (cpu == null) return null;
            byte[] cuda = readResource(CUDA_MANIFEST);
            byte[] bytes = cuda == null ? cpu : (new String(cpu, StandardCharsets.UTF_8)
                    + new String(cuda, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
            Map<String, String> files = new LinkedHashMap<>();
            for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
                String[] parts = line.trim().split("\\s+");
                if (parts.length == 2) files.put(parts[1], parts[0]);
            }
            return new Manifest(bytes, files);
        }

        /** The build's folder name: a new build never reuses an older build's files. */
        String key() {
            return HexFormat.of().formatHex(sha256(bytes)).substring(0, 16);
        }
    }

    /** The folder holding verified copies of every file in the manifest, extracting them under base if needed. */
    static Path extract(Manifest manifest, Path base) throws IOException {
        Files.createDirectories(base);
        int uid = currentUid();
        Path userFolder = base.resolve(USER_FOLDER_PREFIX + uid);
        try {
            Files.createDirectory(userFolder, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (FileAlreadyExistsException existing) {
            // Ours from an earlier run, or planted: judged next.
        }
        Optional<String> untrusted = ownershipProblem(userFolder, uid);
        if (untrusted.isPresent()) {
            Path own = Files.createTempDirectory(base, USER_FOLDER_PREFIX + uid + "-");  // mode 0700, a fresh name
            Logging.LOGGER.log(Level.WARNING, "odconv: not using {0}: {1}; extracting into {2} for this process instead",
                    userFolder, untrusted.get(), own);
            writeFiles(manifest, own);
            deleteOnExit(own, manifest);
            return own;
        }

        Path target = userFolder.resolve(manifest.key());
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            Optional<String> problem = verify(manifest, target, uid);
            if (problem.isEmpty()) {
                Logging.LOGGER.log(Level.DEBUG, "odconv: native libraries from {0}", target);
                return target;
            }
            Logging.LOGGER.log(Level.WARNING, "odconv: extracting the native libraries again: {0}", problem.get());
            discard(target);
        }
        Path staging = Files.createTempDirectory(userFolder, manifest.key() + "-");
        try {
            writeFiles(manifest, staging);
            try {
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException raced) {
                // Another JVM of this user finished first; its copy is judged like any other.
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot rename " + staging + " to " + target + " atomically", e);
            }
        } finally {
            discard(staging);
        }
        Optional<String> problem = verify(manifest, target, uid);
        if (problem.isPresent()) throw new IOException("the extracted copy fails its check: " + problem.get());
        Logging.LOGGER.log(Level.DEBUG, "odconv: native libraries extracted into {0}", target);
        return target;
    }

    /** Why a folder or file must not be trusted by user uid, if it must not. */
    static Optional<String> ownershipProblem(Path path, int uid) throws IOException {
        PosixFileAttributes attributes;
        try {
            attributes = Files.readAttributes(path, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return Optional.of(path + " is missing");
        }
        if (attributes.isSymbolicLink()) return Optional.of(path + " is a symbolic link");
        int owner = (Integer) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        if (owner != uid) return Optional.of(path + " belongs to uid " + owner + ", not to this process's uid " + uid);
        if (attributes.permissions().stream().anyMatch(WRITABLE_BY_OTHERS::contains)) {
            return Optional.of(path + " is writable by others (" + PosixFilePermissions.toString(attributes.permissions()) + ")");
        }
        return Optional.empty();
    }

    /** Why the copy in folder must not be loaded, if it must not: ownership, then every file's content. */
    static Optional<String> verify(Manifest manifest, Path folder, int uid) throws IOException {
        Optional<String> problem = ownershipProblem(folder, uid);
        if (problem.isPresent()) return problem;
        for (Map.Entry<String, String> file : manifest.sha256ByFile().entrySet()) {
            Path path = folder.resolve(file.getKey());
            problem = ownershipProblem(path, uid);
            if (problem.isPresent()) return problem;
            if (!Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) return Optional.of(path + " is not a file");
            String actual = HexFormat.of().formatHex(sha256(path));
            if (!actual.equals(file.getValue())) {
                return Optional.of(path + " has SHA-256 " + actual + ", the jar's manifest says " + file.getValue());
            }
        }
        return Optional.empty();
    }

    /** The effective uid of this process: the owner of /proc/self (Linux, the only platform the jar carries). */
    static int currentUid() throws IOException {
        return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    }

    private static void writeFiles(Manifest manifest, Path folder) throws IOException {
        for (Map.Entry<String, String> file : manifest.sha256ByFile().entrySet()) {
            byte[] content = readResource(file.getKey());
            if (content == null) throw new IOException("the jar's " + MANIFEST + " lists " + file.getKey() + " but the jar lacks it");
            String actual = HexFormat.of().formatHex(sha256(content));
            if (!actual.equals(file.getValue())) {
                throw new IOException("the jar's " + file.getKey() + " has SHA-256 " + actual + ", its " + MANIFEST
                        + " says " + file.getValue() + ": the jar is damaged");
            }
            Files.write(folder.resolve(file.getKey()), content);
        }
        Files.write(folder.resolve(MANIFEST), manifest.bytes());
    }

    /** Moves folder out of the way (so no reader sees it half deleted), then deletes it; best effort. */
    private static void discard(Path folder) {
        if (!Files.exists(folder, LinkOption.NOFOLLOW_LINKS)) return;
        Path doomed = folder.resolveSibling(folder.getFileName() + ".discarded-" + System.nanoTime());
        try {
            Files.move(folder, doomed, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            doomed = folder;
        }
        try (Stream<Path> paths = Files.walk(doomed)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException ignored) {
            // What is left is private to this user and never loaded: it fails verification by its name.
        }
    }

    private static void deleteOnExit(Path folder, Manifest manifest) {
        folder.toFile().deleteOnExit();  // runs last: the files registered after it go first
        folder.resolve(MANIFEST).toFile().deleteOnExit();
        manifest.sha256ByFile().keySet().forEach(file -> folder.resolve(file).toFile().deleteOnExit());
    }

    static byte[] readResource(String name) {
        try (InputStream in = NativeExtraction.class.getResourceAsStream(RESOURCE_DIR + name)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE_DIR + name + " from the jar", e);
        }
    }

    private static byte[] sha256(byte[] bytes) {
        return digest().digest(bytes);
    }

    private static byte[] sha256(Path file) throws IOException {
        MessageDigest digest = digest();
        byte[] buffer = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
            for (int n; (n = in.read(buffer)) > 0; ) digest.update(buffer, 0, n);
        }
        return digest.digest();
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }
}
