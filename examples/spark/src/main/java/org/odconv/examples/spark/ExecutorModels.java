package org.odconv.examples.spark;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.spark.SparkEnv;
import org.apache.spark.SparkFiles;

/**
 * The networks of this JVM: each loaded once, the first time a task asks for it, and shared by every task the
 * executor runs afterwards, at once or one after the other. Loading (building odconv's layers, ONNX Runtime's
 * session) costs far more than a batch, and a model per task would multiply native memory by the executor's
 * task slots. They live as long as the JVM: an executor's exit frees their native memory with the process, and
 * closing them from a shutdown hook could free a network under a task still running it.
 */
final class ExecutorModels {
    /** A network and how it runs: the file as given to the job, and threads per batch. */
    record Key(String model, int threads) {}

    private static final Map<Key, Network> NETWORKS = new ConcurrentHashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();

    private ExecutorModels() {}

    /**
     * The network for {@code key}, loading it if this JVM has not yet.
     *
     * @throws IllegalArgumentException when the file is neither found nor loadable
     */
    static Network get(Key key) {
        return NETWORKS.computeIfAbsent(key, k -> {
            LOADS.incrementAndGet();
            return open(resolve(k.model()), k.threads());
        });
    }

    /** How many networks this JVM has loaded so far (each key once, unless closed and asked for again). */
    static int loads() {
        return LOADS.get();
    }

    /** The networks this JVM holds now. */
    static Set<Key> loaded() {
        return Set.copyOf(NETWORKS.keySet());
    }

    /**
     * Closes every network of this JVM; the next {@link #get} loads afresh. For tests and benchmarks, between
     * jobs: no task may be running one.
     */
    static void closeAll() {
        NETWORKS.keySet().forEach(key -> {
            Network network = NETWORKS.remove(key);
            if (network != null) network.close();
        });
    }

    /**
     * The model file on this machine: the path as given when it exists here (a local run, or a file system every
     * node mounts), else the copy Spark shipped to this executor ({@code spark-submit --files}).
     */
    static Path resolve(String model) {
        Path given = Path.of(model);
        if (Files.isRegularFile(given)) return given;
        Path shipped = SparkEnv.get() == null ? null : Path.of(SparkFiles.get(given.getFileName().toString()));
        if (shipped != null && Files.isRegularFile(shipped)) return shipped;
        throw new IllegalArgumentException("model file " + model + " is neither on this machine nor shipped with "
                + "the job (looked for " + given.toAbsolutePath() + (shipped == null ? "" : " and " + shipped)
                + "; pass it with spark-submit --files, or put it where every node can read it)");
    }

    /** An ONNX network ({@code .onnx}) or a file of ODConv layers (anything else: safetensors). */
    static Network open(Path file, int threads) {
        return file.getFileName().toString().endsWith(".onnx") ? new OnnxNetwork(file, threads)
                : new LayerChain(file, threads);
    }
}
