package org.odconv.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Comparator;
import java.util.stream.Stream;

import org.odconv.OdconvException;

/**
 * Loads libodconv.so once per class loader: from the folder named by the system property
 * {@value #PATH_PROPERTY} when it is set, else from the copies inside the jar, extracted once into a folder
 * keyed by the hash of their manifest (so a new build never reuses a stale extraction and concurrent
 * JVMs never see a half-written one).
 */
public final class NativeLibrary {
    /** A folder holding libodconv.so (and, unless its RUNPATH finds them elsewhere, oneDNN and libgomp). */
    public static final String PATH_PROPERTY = "odconv.library.path";
    /** Where jar extraction goes; default {@code java.io.tmpdir}. */
    public static final String EXTRACT_DIR_PROPERTY = "odconv.extract.dir";

    static final String LIBRARY_FILE = "libodconv.so";
    /** The C++ runtime libodconv.so and cuDNN link against, made global before libodconv.so loads. */
    static final String CPP_RUNTIME = "libstdc++.so.6";
    // glibc's <dlfcn.h> values, the same on every Linux architecture glibc supports.
    private static final int RTLD_NOW = 0x2;
    private static final int RTLD_GLOBAL = 0x100;
    private static final String RESOURCE_DIR = "/org/odconv/native/linux-x86_64/";
    private static final String MANIFEST = "natives.sha256";

    private static Path loadedFrom;

    private NativeLibrary() {}

    /** Loads the library if this class loader has not yet; returns the folder it came from. */
    public static synchronized Path load() {
        if (loadedFrom != null) return loadedFrom;
        String configured = System.getProperty(PATH_PROPERTY);
        Path folder = configured != null && !configured.isBlank() ? Path.of(configured) : extractFromJar();
        Path library = folder.resolve(LIBRARY_FILE);
        if (!Files.isRegularFile(library)) {
            throw new OdconvException("odconv native library not found: " + library
                    + (configured != null ? " (from -D" + PATH_PROPERTY + "=" + configured + ")" : ""));
        }
        loadCppRuntimeGlobally();
        try {
            System.load(library.toAbsolutePath().toString());
        } catch (UnsatisfiedLinkError e) {
            throw new OdconvException("cannot load " + library + ": " + e.getMessage()
                    + ". It needs libdnnl.so.3 and libgomp.so.1 beside it or on its RUNPATH, a glibc/libstdc++ as"
                    + " recent as the build machine's, and --enable-native-access=ALL-UNNAMED on the java command"
                    + " line (the runnable jar sets it in its manifest).", e);
        }
        loadedFrom = folder;
        return folder;
    }

    /**
     * Loads the C++ runtime with RTLD_GLOBAL, before libodconv.so. The JVM loads libraries with RTLD_LOCAL,
     * so libstdc++ would otherwise arrive as a private dependency of libodconv.so; cuDNN 9 (seen with 9.19 on
     * an H200) then calls through a null pointer in its first std::call_once (cudnn::graph::LibraryConfig::init)
     * and takes the JVM down. A C program that dlopens libodconv.so RTLD_LOCAL crashes the same way, and
     * stops crashing when libstdc++ was loaded globally first; promoting it to global afterwards does not
     * help. Best effort: where this fails, the CPU backend is unaffected.
     */
    private static void loadCppRuntimeGlobally() {
        Linker linker = Linker.nativeLinker();
        MemorySegment dlopenAddress = linker.defaultLookup().find("dlopen").orElse(null);
        if (dlopenAddress == null) return;
        MethodHandle dlopen = linker.downcallHandle(dlopenAddress,
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment handle = (MemorySegment) dlopen.invokeExact(arena.allocateFrom(CPP_RUNTIME),
                    RTLD_NOW | RTLD_GLOBAL);
            // The handle is never closed: the runtime must stay loaded as long as libodconv.so is.
        } catch (Throwable e) {
            throw new AssertionError("dlopen cannot throw", e);
        }
    }

    private static Path extractFromJar() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        byte[] manifest = readResource(MANIFEST, "this jar carries no native libraries for linux-x86_64"
                + " (running on " + os + "/" + arch + "); build them with ./mvnw package or set -D" + PATH_PROPERTY);
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            throw new OdconvException("odconv's bundled native libraries are for linux-x86_64, not " + os + "/" + arch
                    + "; build native/ for this platform and set -D" + PATH_PROPERTY);
        }
        String key = HexFormat.of().formatHex(sha256(manifest)).substring(0, 16);
        Path base = Path.of(System.getProperty(EXTRACT_DIR_PROPERTY, System.getProperty("java.io.tmpdir")));
        Path target = base.resolve("odconv-native-" + key);
        if (Files.isRegularFile(target.resolve(MANIFEST))) return target;  // written last: a complete copy
        Path staging = null;
        try {
            Files.createDirectories(base);
            staging = Files.createTempDirectory(base, "odconv-native-" + key + "-");
            for (String file : manifestFiles(manifest)) {
                Files.write(staging.resolve(file), readResource(file, "the jar's " + MANIFEST + " lists " + file
                        + " but the jar lacks it"));
            }
            Files.write(staging.resolve(MANIFEST), manifest);
            try {
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException raced) {
                // Another JVM finished first (or the target is on another file system): use what is there.
                if (!Files.isRegularFile(target.resolve(MANIFEST))) throw raced;
            } catch (IOException e) {
                if (!Files.isRegularFile(target.resolve(MANIFEST))) throw e;  // rename onto a non-empty dir
            }
            return target;
        } catch (IOException e) {
            throw new OdconvException("cannot extract odconv's native libraries into " + target + ": " + e
                    + "; set -D" + EXTRACT_DIR_PROPERTY + " to a writable folder or -D" + PATH_PROPERTY
                    + " to an extracted copy", e);
        } finally {
            if (staging != null) deleteRecursively(staging);
        }
    }

    /** File names in load order, from lines of the form "sha256  file". */
    private static List<String> manifestFiles(byte[] manifest) {
        List<String> files = new ArrayList<>();
        for (String line : new String(manifest, StandardCharsets.UTF_8).split("\n")) {
            String[] parts = line.trim().split("\\s+");
            if (parts.length == 2) files.add(parts[1]);
        }
        return files;
    }

    private static byte[] readResource(String name, String missingMessage) {
        try (InputStream in = NativeLibrary.class.getResourceAsStream(RESOURCE_DIR + name)) {
            if (in == null) throw new OdconvException(missingMessage);
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE_DIR + name + " from the jar", e);
        }
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }

    private static void deleteRecursively(Path folder) {
        if (!Files.exists(folder)) return;
        try (Stream<Path> paths = Files.walk(folder)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // A leftover staging folder in tmp is harmless.
        }
    }
}
