package org.odconv.examples.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import org.apache.spark.sql.SparkSession;

/**
 * Images per second through the scoring job on Spark in local mode, against the same inference in this JVM
 * without Spark, on the same cores: how much Spark's part (Parquet in and out, rows, tasks) costs.
 *
 * <pre>
 * ./mvnw -f examples/spark/pom.xml -Pbench verify -DskipTests -Dbench.args="--model M.onnx --input-shape 3,160,160"
 * </pre>
 *
 * Options: {@code --model} (ONNX network or ODConv layer file), {@code --input-shape C,H,W}, {@code --input-type}
 * ({@code float32} or {@code uint8}, default float32), {@code --images}
 * (default 2048), {@code --partitions} (8), {@code --batch-size} (8), {@code --cores} (2), {@code --repeats} (5),
 * {@code --work} (a folder for the Parquet files, default target/throughput).
 *
 * <p>Without Spark it runs two ways and the faster counts: {@code cores} Java threads each running whole batches
 * on a one-thread network (Spark's layout with {@code spark.task.cpus=1}), and one Java thread running batches
 * on a {@code cores}-thread network. Both take the samples from memory as the column holds them (converting
 * uint8 pixels to floats as the job does) and keep the outputs as the network returns them: no file, no row.
 */
public final class ThroughputBenchmark {
    private static final int WARM_UP_RUNS = 2;

    private ThroughputBenchmark() {}

    public static void main(String[] args) throws Exception {
        List<String> list = List.of(args);
        String model = option(list, "--model", null);
        long[] sampleShape = Arrays.stream(option(list, "--input-shape", "3,160,160").split(","))
                .mapToLong(Long::parseLong).toArray();
        int images = Integer.parseInt(option(list, "--images", "2048"));
        int partitions = Integer.parseInt(option(list, "--partitions", "8"));
        int batchSize = Integer.parseInt(option(list, "--batch-size", "8"));
        int cores = Integer.parseInt(option(list, "--cores", "2"));
        int repeats = Integer.parseInt(option(list, "--repeats", "5"));
        ElementType type = ElementType.of(option(list, "--input-type", "float32"));
        Path work = Path.of(option(list, "--work", "target/throughput"));
        if (model == null) throw new IllegalArgumentException("--model is required");

        deleteRecursively(work);
        SparkSession spark = LocalMode.session("odconv-throughput", cores, 1);
        double sparkRate;
        try {
            Path inputs = SyntheticInputs.write(spark, work.resolve("inputs"), images, sampleShape, type, partitions,
                    1L, true);
            ScoringJob.Options options = ScoringJob.Options.parse("--model", model, "--input", inputs.toString(),
                    "--output", work.resolve("outputs").toString(), "--batch-size", Integer.toString(batchSize));
            sparkRate = median(repeats, () -> {
                deleteRecursively(work.resolve("outputs"));
                ScoringJob.run(spark, options);
            }, images);
        } finally {
            spark.stop();
            ExecutorModels.closeAll();
        }

        List<byte[]> samples = new ArrayList<>(images);
        for (int id = 0; id < images; id++) samples.add(SyntheticInputs.sample(id, sampleShape, 1L, type));
        Path file = ExecutorModels.resolve(model);
        double threadsRate;
        try (Network network = ExecutorModels.open(file, 1)) {
            threadsRate = median(repeats, () -> runInThreads(network, samples, sampleShape, type, batchSize, cores),
                    images);
        }
        double networkThreadsRate;
        try (Network network = ExecutorModels.open(file, cores)) {
            networkThreadsRate = median(repeats, () -> runInThreads(network, samples, sampleShape, type, batchSize, 1),
                    images);
        }
        double plainRate = Math.max(threadsRate, networkThreadsRate);
        System.out.printf(Locale.ROOT, "model %s, %d %s images of %s, %d partitions of %d, batch %d, %d cores, "
                + "median of %d runs (images/s):%n", model, images, type.label(), Arrays.toString(sampleShape),
                partitions, images / partitions, batchSize, cores, repeats);
        System.out.printf(Locale.ROOT, "  Spark local[%d], spark.task.cpus=1:        %8.1f%n", cores, sparkRate);
        System.out.printf(Locale.ROOT, "  plain Java, %d threads x 1-thread network: %8.1f%n", cores, threadsRate);
        System.out.printf(Locale.ROOT, "  plain Java, 1 thread x %d-thread network:  %8.1f%n", cores,
                networkThreadsRate);
        System.out.printf(Locale.ROOT, "  Spark's overhead against the faster plain run: %.1f%%%n",
                100 * (plainRate / sparkRate - 1));
    }

    /** Splits the samples into {@code threads} equal runs of whole batches, one per thread. */
    private static void runInThreads(Network network, List<byte[]> samples, long[] sampleShape, ElementType type,
                                     int batchSize, int threads) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> parts = new ArrayList<>();
            int per = (samples.size() + threads - 1) / threads;
            for (int t = 0; t < threads; t++) {
                List<byte[]> part = samples.subList(Math.min(samples.size(), t * per),
                        Math.min(samples.size(), (t + 1) * per));
                parts.add(pool.submit(() -> { runBatches(network, part, sampleShape, type, batchSize); return null; }));
            }
            for (Future<?> part : parts) part.get();
        } finally {
            pool.shutdown();
        }
    }

    private static void runBatches(Network network, List<byte[]> samples, long[] sampleShape, ElementType type,
                                   int batchSize) {
        FloatBuffer batch = Network.batchBuffer(batchSize, sampleShape);
        for (int start = 0; start < samples.size(); start += batchSize) {
            int n = Math.min(batchSize, samples.size() - start);
            batch.clear();
            for (int i = 0; i < n; i++) type.appendTo(batch, samples.get(start + i));
            network.run(batch.flip(), Network.batchShape(n, sampleShape));
        }
    }

    interface Run {
        void run() throws Exception;
    }

    /**
     * Images per second of the median of {@code runs} timed runs after {@value #WARM_UP_RUNS} untimed ones: the
     * first run of a JVM is two to three times slower (class loading, JIT compilation, oneDNN's kernels).
     */
    private static double median(int runs, Run run, int images) throws Exception {
        for (int i = 0; i < WARM_UP_RUNS; i++) run.run();
        double[] seconds = new double[runs];
        for (int r = 0; r < seconds.length; r++) {
            long start = System.nanoTime();
            run.run();
            seconds[r] = (System.nanoTime() - start) / 1e9;
        }
        Arrays.sort(seconds);
        return images / seconds[seconds.length / 2];
    }

    private static String option(List<String> args, String name, String fallback) {
        int i = args.indexOf(name);
        return i >= 0 && i + 1 < args.size() ? args.get(i + 1) : fallback;
    }

    private static void deleteRecursively(Path folder) {
        if (!Files.exists(folder)) return;
        try (Stream<Path> paths = Files.walk(folder)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
