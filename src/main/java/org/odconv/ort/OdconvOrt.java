package org.odconv.ort;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;

import org.odconv.Odconv;
import org.odconv.OdconvException;

/**
 * ODConv layers inside whole networks run by ONNX Runtime: registers odconv's operator library
 * ({@code libodconv_ort.so}, domain {@value #DOMAIN}, op {@value #OP_TYPE}) with a session's options, so that a
 * model exported with {@code tools/export/odconv_onnx.py} runs in ONNX Runtime Java with every ODConv layer on
 * odconv's oneDNN kernels. The node's contract is in {@code native/include/odconv_ort.h}.
 *
 * <pre>{@code
 * OrtEnvironment env = OdconvOrt.environment();             // not OrtEnvironment.getEnvironment(): see there
 * try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
 *     OdconvOrt.register(options, 2);                       // 2 threads, for ORT's ops and odconv's alike
 *     try (OrtSession session = env.createSession("model.onnx", options)) { ... }
 * }
 * }</pre>
 *
 * <p>The library is found the way {@code libodconv.so} is (the folder of {@code -Dodconv.library.path}, else
 * the jar's natives, extracted once). ONNX Runtime Java ({@code com.microsoft.onnxruntime:onnxruntime}, 1.17
 * or newer) is an optional dependency of odconv: declare it to use this class.
 *
 * <p>Threads: ODConv nodes run on the session's own intra-op pool, as tasks handed to it (ONNX Runtime's
 * {@code KernelContext_ParallelFor}), like ONNX Runtime's own operators: no second pool competes for the cores.
 * {@link #register(OrtSession.SessionOptions, int)} sets the pool's size and tells odconv how many tasks to
 * split each node into (measured in docs/onnx-runtime.md).
 */
public final class OdconvOrt {
    /** The ONNX domain of odconv's operator. */
    public static final String DOMAIN = "org.odconv";
    /** The operator type of an ODConv layer. */
    public static final String OP_TYPE = "ODConv2d";
    /**
     * The session configuration entry that says how many threads the session's intra-op pool has, which is how
     * many tasks odconv splits each ODConv node into (0: one per processor, ONNX Runtime's own default).
     */
    public static final String NUM_THREADS_KEY = "odconv.num_threads";
    static final String LIBRARY_FILE = "libodconv_ort.so";

    /**
     * Stack for creating ONNX Runtime's environment: a base, and this much per byte of the process's command line.
     * Measured with ONNX Runtime 1.29: a 1 MiB stack overflows at a command line of 3,000-4,000 bytes, a 4 MiB
     * one holds 8,000; this allows 1 KiB per byte, about three times what it takes. Only touched pages cost memory.
     */
    private static final long ENVIRONMENT_STACK_BASE = 1L << 20;
    private static final long ENVIRONMENT_STACK_PER_COMMAND_LINE_BYTE = 1024;
    private static volatile OrtEnvironment environment;

    private OdconvOrt() {}

    /**
     * ONNX Runtime's environment (one per process), with ONNX Runtime Java's default logging. Use this in place of
     * {@link OrtEnvironment#getEnvironment()}; see {@link #environment(OrtLoggingLevel, String)}.
     */
    public static OrtEnvironment environment() {
        return environment(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, OrtEnvironment.DEFAULT_NAME);
    }

    /**
     * ONNX Runtime's environment (one per process: the first call's level and name hold), created where the
     * process's command line cannot crash it. Creating the environment, ONNX Runtime (1.29, Linux) recurses as
     * deep as the process's command line is long: on the stack of an ordinary Java thread (1 MiB), a JVM started
     * with a command line of more than 3,000-4,000 bytes (a long class path, as build tools and IDEs start
     * programs with) dies of a stack overflow in native code, with no Java exception and no error report. This
     * creates it on a thread of its own whose stack grows with the command line; once created, every thread
     * uses it safely, {@link OrtEnvironment#getEnvironment()} included.
     *
     * @param level ONNX Runtime's logging level for the environment
     * @param name  the environment's log identifier
     * @throws IllegalStateException when ONNX Runtime cannot create its environment
     */
    public static OrtEnvironment environment(OrtLoggingLevel level, String name) {
        OrtEnvironment created = environment;
        if (created != null) return created;
        synchronized (OdconvOrt.class) {
            if (environment == null) environment = createOnLargeStack(level, name);
            return environment;
        }
    }

    private static OrtEnvironment createOnLargeStack(OrtLoggingLevel level, String name) {
        long stack = ENVIRONMENT_STACK_BASE + ENVIRONMENT_STACK_PER_COMMAND_LINE_BYTE * commandLineBytes();
        AtomicReference<OrtEnvironment> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread creator = new Thread(null, () -> {
            try {
                result.set(OrtEnvironment.getEnvironment(level, name));
            } catch (Throwable t) {
                failure.set(t);
            }
        }, "odconv-ort-environment", stack);
        creator.setDaemon(true);
        creator.start();
        boolean interrupted = false;
        while (true) {
            try {
                creator.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;  // the environment is needed either way; keep the interrupt for the caller
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        if (failure.get() instanceof RuntimeException e) throw e;
        if (failure.get() instanceof Error e) throw e;
        return result.get();
    }

    /** The length of this process's command line as the kernel keeps it, or 0 where it cannot be read. */
    static long commandLineBytes() {
        try {
            return Files.readAllBytes(Path.of("/proc/self/cmdline")).length;
        } catch (IOException | SecurityException e) {
            return 0;
        }
    }

    /**
     * Registers odconv's operator with {@code options}. Each ODConv node splits its work into as many tasks
     * for the session's intra-op pool as the options' {@value #NUM_THREADS_KEY} entry says, when set before
     * this call, else one per processor; prefer {@link #register(OrtSession.SessionOptions, int)}, which sets it
     * to the pool's size.
     *
     * @param options the session options; sessions created from them afterwards can run ODConv2d nodes
     * @throws OrtException   when ONNX Runtime refuses the library (a runtime older than 1.17, for one)
     * @throws OdconvException when odconv's native libraries cannot be found or loaded
     */
    public static void register(OrtSession.SessionOptions options) throws OrtException {
        options.registerCustomOpLibrary(libraryPath().toString());
    }

    /**
     * Runs the session on {@code threads} threads: sets ONNX Runtime's intra-op thread count to {@code threads},
     * and odconv's split of each ODConv node to match, then registers odconv's operator.
     *
     * @param options the session options
     * @param threads the thread count, at least 1
     * @throws IllegalArgumentException when {@code threads} is below 1
     * @throws OrtException             when ONNX Runtime refuses a setting or the library
     * @throws OdconvException          when odconv's native libraries cannot be found or loaded
     */
    public static void register(OrtSession.SessionOptions options, int threads) throws OrtException {
        if (threads < 1) throw new IllegalArgumentException("threads = " + threads + " must be at least 1");
        options.setIntraOpNumThreads(threads);
        options.addConfigEntry(NUM_THREADS_KEY, Integer.toString(threads));
        register(options);
    }

    /**
     * The operator library this JVM registers: {@code libodconv_ort.so} beside the loaded {@code libodconv.so}.
     * Loads (and if needed extracts) odconv's native libraries.
     *
     * @return the library's absolute path
     * @throws OdconvException when the library is missing there
     */
    public static Path libraryPath() {
        Path library = Odconv.libraryFolder().resolve(LIBRARY_FILE).toAbsolutePath();
        if (!Files.isRegularFile(library)) {
            throw new OdconvException("odconv's ONNX Runtime operator library is missing: " + library
                    + " (built by ./mvnw package beside libodconv.so)");
        }
        return library;
    }
}
