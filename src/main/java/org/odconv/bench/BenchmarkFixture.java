package org.odconv.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumMap;
import java.util.Map;
import java.util.SplittableRandom;

import org.odconv.Device;
import org.odconv.DeviceTensor;
import org.odconv.LayerOptions;
import org.odconv.Layout;
import org.odconv.ODConv2d;
import org.odconv.ODConv2dConfig;
import org.odconv.ODConv2dWeights;
import org.odconv.Parameter;
import org.odconv.StaticConvolution;
import org.odconv.Tensor;

/**
 * Everything one benchmark case runs on: an ODConv2d layer with seeded random weights, the static
 * convolution of the same shape (its first kernel, the folded BatchNorm shift as bias), and one input and
 * one output buffer that both share, all on one device (on a CUDA GPU the buffers are {@link DeviceTensor}s).
 * Used by the {@code bench} command and the JMH benchmarks alike.
 */
public final class BenchmarkFixture implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final Device device;
    private final ODConv2d layer;
    private final StaticConvolution floor;
    private final Tensor input;
    private final Tensor output;
    /** The buffers on a GPU, copies of input and output; null on the CPU. */
    private final DeviceTensor deviceInput;
    private final DeviceTensor deviceOutput;

    /**
     * As {@link #BenchmarkFixture(BenchmarkShape, int, Layout, int, LayerOptions)} on the CPU.
     *
     * @param shape   the layer's shape and the input's side
     * @param batch   the input's batch size
     * @param layout  the layout of the input and output, for both
     * @param threads threads per forward, for both (0: OMP_NUM_THREADS or every core)
     * @throws IllegalArgumentException when the shape, batch or thread count is invalid
     * @throws org.odconv.NativeException when the native library cannot create the layer or the convolution
     */
    public BenchmarkFixture(BenchmarkShape shape, int batch, Layout layout, int threads) {
        this(shape, batch, layout, threads, LayerOptions.DEFAULT);
    }

    /**
     * Builds the case: weights drawn from a fixed seed, a random input in [-1, 1) and a zeroed output, all in
     * native memory this fixture owns until {@link #close()}, copied to the device's memory on a GPU.
     *
     * @param shape     the layer's shape and the input's side
     * @param batch     the input's batch size
     * @param layout    the layout of the input and output, for both
     * @param threads   threads per forward on the CPU, for both (0: OMP_NUM_THREADS or every core)
     * @param options   where the layer, the convolution and the buffers live, and whether TF32 is allowed for both
     * @throws IllegalArgumentException when the shape, batch or thread count is invalid
     * @throws org.odconv.NativeException when the native library cannot create the layer or the convolution
     * @throws org.odconv.DeviceUnavailableException when CUDA cannot be used
     */
    public BenchmarkFixture(BenchmarkShape shape, int batch, Layout layout, int threads, LayerOptions options) {
        this.device = options.device();
        ODConv2dConfig config = shape.config();
        SplittableRandom random = new SplittableRandom(42);
        boolean success = false;
        ODConv2d createdLayer = null;
        StaticConvolution createdFloor = null;
        DeviceTensor createdInput = null;
        try {
            Map<Parameter, MemorySegment> parameters = new EnumMap<>(Parameter.class);
            for (Parameter p : Parameter.values()) {
                if (!p.isPresent(config)) continue;
                boolean variance = p == Parameter.BN_VAR || p == Parameter.ATTENTION_BN_VAR;
                parameters.put(p, random(p.elementCount(config), random, variance ? 0.5 : -0.5, 1.0));
            }
            createdLayer = ODConv2d.create(ODConv2dWeights.of(config, parameters), options);
            createdLayer.setNumThreads(threads);
            long kernelBytes = (long) config.outPlanes() * (config.inPlanes() / config.groups()) * config.kernelSize()
                    * config.kernelSize() * Float.BYTES;
            createdFloor = StaticConvolution.create(config, parameters.get(Parameter.WEIGHT).asSlice(0, kernelBytes),
                    parameters.get(Parameter.BN_BIAS), batch, shape.hw(), shape.hw(), layout, threads, options);
            input = Tensor.wrap(random((long) batch * config.inPlanes() * shape.hw() * shape.hw(), random, -1, 2),
                    batch, config.inPlanes(), shape.hw(), shape.hw(), layout);
            long[] out = createdLayer.outputShape(batch, shape.hw(), shape.hw());
            output = Tensor.allocate(arena, out[0], out[1], out[2], out[3], layout);
            if (device.isCuda()) {
                createdInput = DeviceTensor.copyOf(input, device);
                deviceOutput = DeviceTensor.copyOf(output, device);
            } else {
                deviceOutput = null;
            }
            deviceInput = createdInput;
            layer = createdLayer;
            floor = createdFloor;
            success = true;
        } finally {
            if (!success) {
                if (createdInput != null) createdInput.close();
                if (createdFloor != null) createdFloor.close();
                if (createdLayer != null) createdLayer.close();
                arena.close();
            }
        }
    }

    /** Where the case runs. */
    public Device device() {
        return device;
    }

    /** One forward of the layer from Java on the fixture's buffers: what the benchmark's (a) times. */
    public void forward() {
        if (deviceInput != null) layer.forward(deviceInput, deviceOutput);
        else layer.forward(input, output);
    }

    /** (b): {@code iterations} forwards timed inside the native library, milliseconds each. */
    public double[] benchmarkNative(int iterations) {
        return deviceInput != null ? layer.benchmarkNative(deviceInput, deviceOutput, iterations)
                : layer.benchmarkNative(input, output, iterations);
    }

    /** (c): {@code iterations} runs of the static convolution timed inside the native library, milliseconds each. */
    public double[] benchmarkFloor(int iterations) {
        return deviceInput != null ? floor.benchmark(deviceInput, deviceOutput, iterations)
                : floor.benchmark(input, output, iterations);
    }

    /** The ODConv2d layer under test; owned by the fixture, which closes it. */
    public ODConv2d layer() {
        return layer;
    }

    /** The static convolution of the same shape and layout; owned by the fixture, which closes it. */
    public StaticConvolution floor() {
        return floor;
    }

    /**
     * The input, [batch, in, hw, hw] in the fixture's layout; a view of the fixture's host memory (on a GPU,
     * the source of the device copy the forwards read).
     */
    public Tensor input() {
        return input;
    }

    /**
     * The output buffer, of the layer's output shape, that every forward of either kind overwrites (on a GPU,
     * a host buffer of that shape; the forwards write the device copy).
     */
    public Tensor output() {
        return output;
    }

    @Override
    public void close() {
        layer.close();
        floor.close();
        if (deviceInput != null) deviceInput.close();
        if (deviceOutput != null) deviceOutput.close();
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
