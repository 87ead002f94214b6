package org.odconv.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.EnumMap;
import java.util.Map;
import java.util.SplittableRandom;

import org.odconv.Layout;
import org.odconv.ODConv2d;
import org.odconv.ODConv2dConfig;
import org.odconv.ODConv2dWeights;
import org.odconv.Parameter;
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
     * @param threads    threads per forward (0: OMP_NUM_THREADS or every core)
     * @param warmup     untimed forwards of each kind before timing
     * @param iterations timed forwards of each kind
     */
    public BenchmarkRunner(int threads, int warmup, int iterations) {
        if (threads < 0 || warmup < 0 || iterations < ROUNDS) {
            throw new IllegalArgumentException("threads >= 0, warmup >= 0 and iterations >= " + ROUNDS + " required");
        }
        this.threads = threads;
        this.warmup = warmup;
        this.iterations = iterations;
    }

    public BenchmarkResult run(BenchmarkShape shape, int batch, Layout layout) {
        ODConv2dConfig config = shape.config();
        SplittableRandom random = new SplittableRandom(42);
        long[] outShape;
        try (Arena arena = Arena.ofShared()) {
            Map<Parameter, MemorySegment> parameters = new EnumMap<>(Parameter.class);
            for (Parameter p : Parameter.values()) {
                if (!p.isPresent(config)) continue;
                boolean variance = p == Parameter.BN_VAR || p == Parameter.ATTENTION_BN_VAR;
                parameters.put(p, randomSegment(arena, p.elementCount(config), random, variance ? 0.5 : -0.5, 1.0));
            }
            ODConv2dWeights weights = ODConv2dWeights.of(config, parameters);
            MemorySegment floorWeight = parameters.get(Parameter.WEIGHT)
                    .asSlice(0, (long) config.outPlanes() * (config.inPlanes() / config.groups()) * config.kernelSize()
                            * config.kernelSize() * Float.BYTES);
            MemorySegment floorBias = parameters.get(Parameter.BN_BIAS);
            outShape = new long[] {batch, config.outPlanes(), config.outputExtent(shape.hw(), "height"),
                    config.outputExtent(shape.hw(), "width")};
            try (ODConv2d layer = ODConv2d.create(weights);
                 StaticConvolution floor = StaticConvolution.create(config, floorWeight, floorBias, batch, shape.hw(),
                         shape.hw(), layout, threads);
                 Tensor input = Tensor.wrap(randomSegment(arena, (long) batch * config.inPlanes() * shape.hw() * shape.hw(),
                         random, -1, 2), batch, config.inPlanes(), shape.hw(), shape.hw(), layout);
                 Tensor output = Tensor.allocate(arena, outShape[0], outShape[1], outShape[2], outShape[3], layout)) {
                layer.setNumThreads(threads);
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

    private static MemorySegment randomSegment(Arena arena, long count, SplittableRandom random, double origin,
            double span) {
        MemorySegment segment = arena.allocate(count * Float.BYTES, 64);
        for (long i = 0; i < count; i++) {
            segment.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (float) (origin + span * random.nextDouble()));
        }
        return segment;
    }
}
