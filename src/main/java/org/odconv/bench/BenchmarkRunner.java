package org.odconv.bench;

import org.odconv.Layout;
import org.odconv.ODConv2d;
import org.odconv.Tensor;

/**
 * Times one case three ways on the same input and output buffers: ODConv2d.forward from Java, the same
 * forward timed inside native code, and the static-convolution floor. The three are measured in alternating
 * rounds so that drift in the machine's speed touches all of them alike.
 */
public final class BenchmarkRunner {
    private static final int ROUNDS = 5;

    private final int threads;
    private final int warmup;
    private final int iterations;

    /**
     * A runner with these settings for every case it runs.
     *
     * @param threads    threads per forward (0: OMP_NUM_THREADS or every core)
     * @param warmup     untimed forwards of each kind before timing
     * @param iterations timed forwards of each kind
     * @throws IllegalArgumentException unless threads &gt;= 0, warmup &gt;= 0 and iterations &gt;= 5 (one per round)
     */
    public BenchmarkRunner(int threads, int warmup, int iterations) {
        if (threads < 0 || warmup < 0 || iterations < ROUNDS) {
            throw new IllegalArgumentException("threads >= 0, warmup >= 0 and iterations >= " + ROUNDS + " required");
        }
        this.threads = threads;
        this.warmup = warmup;
        this.iterations = iterations;
    }

    /**
     * Builds a {@link BenchmarkFixture} for the case, warms each kind up, then times the three kinds in
     * alternating rounds; the fixture is closed before this returns.
     *
     * @param shape  the layer's shape and input side
     * @param batch  the batch size
     * @param layout the layout of the input and output
     * @return the statistics of each kind, in milliseconds per forward
     * @throws IllegalArgumentException when the shape or batch is invalid
     */
    public BenchmarkResult run(BenchmarkShape shape, int batch, Layout layout) {
        try (BenchmarkFixture fixture = new BenchmarkFixture(shape, batch, layout, threads)) {
            ODConv2d layer = fixture.layer();
            StaticConvolution floor = fixture.floor();
            Tensor input = fixture.input();
            Tensor output = fixture.output();
            for (int i = 0; i < warmup; i++) layer.forward(input, output);
            if (warmup > 0) {
                layer.benchmarkNative(input, output, warmup);
                floor.benchmark(input, output, warmup);
            }
            double[] java = new double[iterations];
            double[] nativeTimes = new double[iterations];
            double[] floorTimes = new double[iterations];
            int done = 0;
            for (int round = 0; round < ROUNDS; round++) {
                int count = iterations * (round + 1) / ROUNDS - done;
                for (int i = 0; i < count; i++) {
                    long start = System.nanoTime();
                    layer.forward(input, output);
                    java[done + i] = (System.nanoTime() - start) / 1e6;
                }
                System.arraycopy(layer.benchmarkNative(input, output, count), 0, nativeTimes, done, count);
                System.arraycopy(floor.benchmark(input, output, count), 0, floorTimes, done, count);
                done += count;
            }
            return new BenchmarkResult(shape, batch, layout, Statistics.of(java), Statistics.of(nativeTimes),
                    Statistics.of(floorTimes));
        }
    }
}
