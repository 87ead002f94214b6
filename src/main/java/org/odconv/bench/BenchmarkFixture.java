package org.odconv.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 * Everything one benchmark case runs on: an ODConv2d layer with seeded random weights, the static
 * convolution of the same shape (its first kernel, the folded BatchNorm shift as bias), and one input and
 * one output buffer that both share. Used by the {@code bench} command and the JMH benchmarks alike.
 */
public final class BenchmarkFixture implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final ODConv2d layer;
    private final StaticConvolution floor;
    private final Tensor input;
    private final Tensor output;

    /**
     * Builds the case: weights drawn from a fixed seed, a random input in [-1, 1) and a zeroed output, all in
     * native memory this fixture owns until {@link #close()}.
     *
     * @param shape   the layer's shape and the input's side
     * @param batch   the input's batch size
     * @param layout  the layout of the input and output, for both
     * @param threads threads per forward, for both (0: OMP_NUM_THREADS or every core)
     * @throws IllegalArgumentException when the shape, batch or thread count is invalid
     * @throws org.odconv.NativeException when the native library cannot create the layer or the convolution
     */
    public BenchmarkFixture(BenchmarkShape shape, int batch, Layout layout, int threads) {
        ODConv2dConfig config = shape.config();
        SplittableRandom random = new SplittableRandom(42);
        boolean success = false;
        ODConv2d createdLayer = null;
        try {
            Map<Parameter, MemorySegment> parameters = new EnumMap<>(Parameter.class);
            for (Parameter p : Parameter.values()) {
                if (!p.isPresent(config)) continue;
                boolean variance = p == Parameter.BN_VAR || p == Parameter.ATTENTION_BN_VAR;
                parameters.put(p, random(p.elementCount(config), random, variance ? 0.5 : -0.5, 1.0));
            }
            createdLayer = ODConv2d.create(ODConv2dWeights.of(config, parameters));
            createdLayer.setNumThreads(threads);
            long kernelBytes = (long) config.outPlanes() * (config.inPlanes() / config.groups()) * config.kernelSize()
                    * config.kernelSize() * Float.BYTES;
            floor = StaticConvolution.create(config, parameters.get(Parameter.WEIGHT).asSlice(0, kernelBytes),
                    parameters.get(Parameter.BN_BIAS), batch, shape.hw(), shape.hw(), layout, threads);
            input = Tensor.wrap(random((long) batch * config.inPlanes() * shape.hw() * shape.hw(), random, -1, 2),
                    batch, config.inPlanes(), shape.hw(), shape.hw(), layout);
            long[] out = createdLayer.outputShape(batch, shape.hw(), shape.hw());
            output = Tensor.allocate(arena, out[0], out[1], out[2], out[3], layout);
            layer = createdLayer;
            success = true;
        } finally {
            if (!success) {
                if (createdLayer != null) createdLayer.close();
                arena.close();
            }
        }
    }

    /** The ODConv2d layer under test; owned by the fixture, which closes it. */
    public ODConv2d layer() {
        return layer;
    }

    /** The static convolution of the same shape and layout; owned by the fixture, which closes it. */
    public StaticConvolution floor() {
        return floor;
    }

    /** The input, [batch, in, hw, hw] in the fixture's layout; a view of the fixture's memory. */
    public Tensor input() {
        return input;
    }

    /** The output buffer, of the layer's output shape, that every forward of either kind overwrites. */
    public Tensor output() {
        return output;
    }

    @Override
    public void close() {
        layer.close();
        floor.close();
        arena.close();
    }

    private MemorySegment random(long count, SplittableRandom random, double origin, double span) {
        MemorySegment segment = arena.allocate(count * Float.BYTES, 64);
        for (long i = 0; i < count; i++) {
            segment.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (origin + span * random.nextDouble()));
        }
        return segment;
    }
}
