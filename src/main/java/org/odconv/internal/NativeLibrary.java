package org.odconv.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.UUID;

import org.odconv.bindings.odconv_h;

/**
 * Loads libodconv.so once per class loader: from the folder named by the system property
 * {@value #PATH_PROPERTY} when it is set (trusted as given), else from the copies inside the jar, extracted
 * into a folder only this user can write and checked against the jar's SHA-256 manifest before every load
 * ({@link NativeExtraction}).
 */
public final class NativeLibrary {
    /** A folder holding libodconv.so (and, unless its RUNPATH finds them elsewhere, oneDNN and libgomp). */
    public static final String PATH_PROPERTY = "odconv.library.path";
    /** Where jar extraction goes; default {@code java.io.tmpdir}. */
    public static final String EXTRACT_DIR_PROPERTY = "odconv.extract.dir";

    /** libodconv.so.&lt;major&gt;: the SONAME the native build gives the library, from the same version macro. */
    public static final String LIBRARY_FILE = "libodconv.so." + odconv_h.ODCONV_VERSION_MAJOR();
    /** The C++ runtime libodconv.so and cuDNN link against, made global before libodconv.so loads. */
    static final String CPP_RUNTIME = "libstdc++.so.6";
    // glibc's <dlfcn.h> values, the same on every Linux architecture glibc supports.
    private static final int RTLD_NOW = 0x2;
    private static final int RTLD_GLOBAL = 0x100;

    private static Path loadedFrom;

    private NativeLibrary() {}

    /** Loads the library if this class loader has not yet; returns the folder it came from. */
    public static synchronized Path load() {
        if (loadedFrom != null) return loadedFrom;
        String configured = System.getProperty(PATH_PROPERTY);
        Path folder = configured != null && !configured.isBlank() ? Path.of(configured) : extractFromJar();
        Path library = folder.resolve(LIBRARY_FILE);
        if (!Files.isRegularFile(library)) {
            throw new NativeLoadException("odconv native library not found: " + library
                    + (configured != null ? " (from -D" + PATH_PROPERTY + "=" + configured + ")" : ""));
        }
        loadCppRuntimeGlobally();
        try {
            System.load(library.toAbsolutePath().toString());
        } catch (UnsatisfiedLinkError e) {
            // The JDK's words, the same since Java 1.2, for a file another class loader holds.
            if (e.getMessage() == null || !e.getMessage().contains("already loaded in another classloader")) {
                throw new NativeLoadException("cannot load " + library + ": " + e.getMessage()
                        + ". It needs libdnnl.so.3 and libgomp.so.1 beside it or on its RUNPATH, a glibc/libstdc++ as"
                        + " recent as the build machine's, and --enable-native-access=ALL-UNNAMED on the java command"
                        + " line (the runnable jar sets it in its manifest).", e);
            }
            loadForAnotherClassLoader(library);
        }
        return finishLoad(folder, library);
    }

    /** Checks the loaded library's version and records where it came from. */
    private static Path finishLoad(Path folder, Path library) {
        int built = odconv_h.ODCONV_VERSION_MAJOR() * 10000 + odconv_h.ODCONV_VERSION_MINOR() * 100
                + odconv_h.ODCONV_VERSION_PATCH();
        int loaded = odconv_h.odconv_version();
        if (loaded != built) {
            throw new NativeLoadException(library + " is odconv " + versionString(loaded) + ", but this Java code is odconv "
                    + versionString(built) + ": use the jar's own natives or a folder from the same build (-D"
                    + PATH_PROPERTY + ")");
        }
        loadedFrom = folder;
        if (Logging.LOGGER.isLoggable(System.Logger.Level.DEBUG)) {
            Logging.LOGGER.log(System.Logger.Level.DEBUG, "odconv: loaded {0}: {1}, ISA {2}", library,
                    CStrings.read(odconv_h.odconv_backend_description()), CStrings.read(odconv_h.odconv_cpu_isa()));
        }
        return folder;
    }

    /**
     * The JDK lets one class loader at a time hold a given library file, so a second class loader of this JVM (a
     * redeployed web application, a plugin host, a test runner) loads libodconv.so through a hard link of its own,
     * deleted once loaded. glibc recognizes the file (same device and inode) and hands back the library already
     * mapped, so every class loader shares one libodconv.so, its oneDNN and its caches.
     */
    private static void loadForAnotherClassLoader(Path library) {
        Path link = library.resolveSibling("." + library.getFileName() + "." + UUID.randomUUID());
        try {
            Files.createLink(link, library);
            System.load(link.toAbsolutePath().toString());
        } catch (IOException | UnsatisfiedLinkError e) {
            throw new NativeLoadException("cannot load " + library + " in a second class loader of this JVM (another one"
                    + " holds it, so this one loads it through a link beside it): " + e, e);
        } finally {
            try {
                Files.deleteIfExists(link);
            } catch (IOException ignored) {
                // a stray link to our own library in our own folder is harmless
            }
        }
    }

    /** "major.minor.patch" of an {@code odconv_version()} number. */
    public static String versionString(int version) {
        return (version / 10000) + "." + (version / 100 % 100) + "." + (version % 100);
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
        NativeExtraction.Manifest manifest = NativeExtraction.Manifest.fromJar();
        if (manifest == null) {
            throw new NativeLoadException("this jar carries no native libraries for linux-x86_64 (running on " + os + "/"
                    + arch + "); build them with ./mvnw package or set -D" + PATH_PROPERTY);
        }
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            throw new NativeLoadException("odconv's bundled native libraries are for linux-x86_64, not " + os + "/" + arch
                    + "; build native/ for this platform and set -D" + PATH_PROPERTY);
        }
        Path base = Path.of(System.getProperty(EXTRACT_DIR_PROPERTY, System.getProperty("java.io.tmpdir")));
        try {
            return NativeExtraction.extract(manifest, base);
        } catch (IOException | UncheckedIOException e) {
            throw new NativeLoadException("cannot extract odconv's native libraries into " + base + ": " + e.getMessage()
                    + "; set -D" + EXTRACT_DIR_PROPERTY + " to a writable folder or -D" + PATH_PROPERTY
                    + " to an extracted copy", e);
        }
    }
}
