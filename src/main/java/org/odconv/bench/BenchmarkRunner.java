package org.odconv.bench;

import org.odconv.LayerOptions;
import org.odconv.Layout;

/**
 * Times one case three ways on the same input and output buffers, on one device: ODConv2d.forward from Java,
 * the same forward timed inside native code, and the static-convolution floor. The three are measured in alternating
 * rounds so that drift in the machine's speed touches all of them alike.
 */
public final class BenchmarkRunner {
    /** Timing rounds per kind; each needs one timed forward at least. */
    public static final int ROUNDS = 5;

    private final int threads;
    private final int warmup;
    private final int iterations;
    private final LayerOptions options;

    /**
     * A runner with these settings for every case it runs, on the CPU.
     *
     * @param threads    threads per forward (0: OMP_NUM_THREADS or every core)
     * @param warmup     untimed forwards of each kind before timing
     * @param iterations timed forwards of each kind
     * @throws IllegalArgumentException unless threads &gt;= 0, warmup &gt;= 0 and iterations &gt;= 5 (one per round)
     */
    public BenchmarkRunner(int threads, int warmup, int iterations) {
        this(threads, warmup, iterations, LayerOptions.DEFAULT);
    }

    /**
     * A runner with these settings for every case it runs, on a device.
     *
     * @param threads    threads per forward on the CPU (0: OMP_NUM_THREADS or every core)
     * @param warmup     untimed forwards of each kind before timing
     * @param iterations timed forwards of each kind
     * @param options    where the cases run, in which precision, and whether TF32 is allowed (for the layer and the
     *                   floor alike)
     * @throws IllegalArgumentException unless threads &gt;= 0, warmup &gt;= 0 and iterations &gt;= 5 (one per round)
     */
    public BenchmarkRunner(int threads, int warmup, int iterations, LayerOptions options) {
        if (threads < 0 || warmup < 0 || iterations < ROUNDS) {
            throw new IllegalArgumentException("threads >= 0, warmup >= 0 and iterations >= " + ROUNDS + " required");
        }
        if (options == null) throw new IllegalArgumentException("options is null");
        this.threads = threads;
        this.warmup = warmup;
        this.iterations = iterations;
        this.options = options;
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
        try (BenchmarkFixture fixture = new BenchmarkFixture(shape, batch, layout, threads, options)) {
            for (int i = 0; i < warmup; i++) fixture.forward();
            if (warmup > 0) {
                fixture.benchmarkNative(warmup);
                fixture.benchmarkFloor(warmup);
            }
            double[] java = new double[iterations];
            double[] nativeTimes = new double[iterations];
            double[] floorTimes = new double[iterations];
            int done = 0;
            for (int round = 0; round < ROUNDS; round++) {
                int count = iterations * (round + 1) / ROUNDS - done;
                for (int i = 0; i < count; i++) {
                    long start = System.nanoTime();
                    fixture.forward();
                    java[done + i] = (System.nanoTime() - start) / 1e6;
                }
                System.arraycopy(fixture.benchmarkNative(count), 0, nativeTimes, done, count);
                System.arraycopy(fixture.benchmarkFloor(count), 0, floorTimes, done, count);
                done += count;
            }
            return new BenchmarkResult(shape, batch, layout, options.device(), options.precision(), Statistics.of(java),
                    Statistics.of(nativeTimes), Statistics.of(floorTimes));
        }
    }
}
