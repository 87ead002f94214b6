package org.odconv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.concurrent.locks.ReentrantLock;

import org.odconv.bindings.odconv_h;
import org.odconv.bindings.odconv_tools_h;

/**
 * The floor ODConv is measured against: a plain convolution of a layer's shape (one fixed kernel reordered
 * once, BatchNorm folded into a bias, the activation as a post-op) for one input shape and layout, by oneDNN
 * on the CPU or cuDNN on a CUDA GPU (on {@link DeviceTensor}s there): what a static convolution of the same
 * work costs, for benchmarks and performance regression suites (odconv_tools.h; its shape may change in any
 * release). Runs on one convolution take turns (the native convolution points its buffers at each run's
 * tensors, so two at once would write into each other's); {@link #close()} waits for a run in flight, is
 * idempotent, and later runs throw {@link IllegalStateException}. One that becomes unreachable unclosed is freed
 * by a {@link Cleaner} as a backstop only.
 */
public final class StaticConvolution extends NativeResource {
    private final MemorySegment handle;
    private final long[] inputShape;
    private final long[] outputShape;
    private final Layout layout;
    private final Device device;
    /** Held for each run: the native convolution is not safe for concurrent runs. */
    private final ReentrantLock runs = new ReentrantLock();

    private StaticConvolution(MemorySegment handle, long[] inputShape, long[] outputShape, Layout layout,
            Device device) {
        super(new Destroyer(handle));
        this.handle = handle;
        this.device = device;
        this.inputShape = inputShape;
        this.outputShape = outputShape;
        this.layout = layout;
    }

    /**
     * Creates the convolution of {@code config}'s shape and activation for inputs [batch, inPlanes, height,
     * width] in {@code layout}; its {@link #close()} frees it.
     *
     * @param config  the layer whose shape and activation to use
     * @param weight  [out, in / groups, k, k] float32, copied
     * @param bias    [out] float32 or null, copied
     * @param batch   the input's batch size
     * @param height  the input's height
     * @param width   the input's width
     * @param layout  the layout of the input and output
     * @param threads threads per run; 0 for the default
     * @return the convolution, which only runs on tensors of exactly this input shape and its output shape
     * @throws IllegalArgumentException when weight or bias has the wrong size or an argument is out of range
     * @throws org.odconv.NativeException when the native library cannot create it
     */
    public static StaticConvolution create(ODConv2dConfig config, MemorySegment weight, MemorySegment bias, long batch,
            long height, long width, Layout layout, int threads) {
        return create(config, weight, bias, batch, height, width, layout, threads, LayerOptions.DEFAULT);
    }

    /**
     * As {@link #create(ODConv2dConfig, MemorySegment, MemorySegment, long, long, long, Layout, int)}, on a
     * device. The weight and bias are host memory, copied (uploaded) during the call.
     *
     * @param config    the layer whose shape and activation to use
     * @param weight    [out, in / groups, k, k] float32, copied
     * @param bias      [out] float32 or null, copied
     * @param batch     the input's batch size
     * @param height    the input's height
     * @param width     the input's width
     * @param layout    the layout of the input and output
     * @param threads   threads per run on the CPU; 0 for the default; ignored on a GPU
     * @param options   where it runs, its precision (the floor of layers in that precision), and whether TF32 is
     *                  allowed
     * @return the convolution, which only runs on tensors of exactly this input shape and its output shape
     * @throws org.odconv.DeviceUnavailableException when CUDA cannot be used, with the native reason
     * @throws PrecisionUnavailableException when the device cannot compute in the options' precision
     */
    public static StaticConvolution create(ODConv2dConfig config, MemorySegment weight, MemorySegment bias, long batch,
            long height, long width, Layout layout, int threads, LayerOptions options) {
        Natives.load();
        Device device = options.device();
        long expected = (long) config.outPlanes() * (config.inPlanes() / config.groups()) * config.kernelSize()
                * config.kernelSize() * Float.BYTES;
        if (weight.byteSize() != expected) {
            throw new IllegalArgumentException("weight has " + weight.byteSize() + " bytes, expected " + expected);
        }
        if (bias != null && bias.byteSize() != (long) config.outPlanes() * Float.BYTES) {
            throw new IllegalArgumentException("bias has " + bias.byteSize() + " bytes, expected " + config.outPlanes() * 4L);
        }
        int flags = options.nativeFlags();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment out = call.allocate(ValueLayout.ADDRESS);
            int status = odconv_tools_h.odconv_static_conv_create(out, Natives.config(config, call), weight,
                    bias == null ? MemorySegment.NULL : bias, batch, height, width, layout.nativeValue(), threads,
                    device.type().nativeValue(), device.index(), flags);
            Natives.check(status, "odconv_static_conv_create", device);
            long[] in = {batch, config.inPlanes(), height, width};
            long[] size = config.outputSize(height, width);
            long[] o = {batch, config.outPlanes(), size[0], size[1]};
            return new StaticConvolution(out.get(ValueLayout.ADDRESS, 0), in, o, layout, device);
        }
    }

    /** Runs the convolution once on a CPU convolution. */
    public void forward(Tensor input, Tensor output) {
        checkTensors(input.shape(), input.layout(), output.shape(), output.layout(), Device.cpu());
        MemorySegment in = input.segment(), out = output.writableSegment("output");
        long stamp = enter();
        runs.lock();
        try {
            Natives.check(odconv_tools_h.odconv_static_conv_forward(handle, in, out), "odconv_static_conv_forward");
        } finally {
            runs.unlock();
            exit(stamp);
        }
    }

    /**
     * Runs {@code iterations} convolutions back to back natively on a CPU convolution; each one's wall time in
     * milliseconds.
     */
    public double[] benchmark(Tensor input, Tensor output, int iterations) {
        checkTensors(input.shape(), input.layout(), output.shape(), output.layout(), Device.cpu());
        return benchmark(input.segment(), output.writableSegment("output"), iterations);
    }

    /**
     * As {@link #benchmark(Tensor, Tensor, int)} on tensors of the convolution's device; each run includes
     * waiting for it.
     */
    public double[] benchmark(DeviceTensor input, DeviceTensor output, int iterations) {
        checkTensors(input.shape(), input.layout(), output.shape(), output.layout(), input.device());
        checkTensors(input.shape(), input.layout(), output.shape(), output.layout(), output.device());
        return DeviceTensor.withAddresses(input, output, (in, out) -> benchmark(in, out, iterations));
    }

    private double[] benchmark(MemorySegment input, MemorySegment output, int iterations) {
        if (iterations < 1) throw new IllegalArgumentException("iterations = " + iterations + " must be >= 1");
        long stamp = enter();
        runs.lock();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment times = call.allocate(ValueLayout.JAVA_DOUBLE, iterations);
            Natives.check(odconv_tools_h.odconv_static_conv_benchmark(handle, input, output, iterations, times),
                    "odconv_static_conv_benchmark", device);
            return times.toArray(ValueLayout.JAVA_DOUBLE);
        } finally {
            runs.unlock();
            exit(stamp);
        }
    }

    private void checkTensors(long[] input, Layout inputLayout, long[] output, Layout outputLayout, Device on) {
        if (isClosed()) throw new IllegalStateException(closedMessage());
        if (!on.equals(device)) {
            throw new IllegalArgumentException("the tensors are on " + on + " but the convolution is on " + device);
        }
        if (inputLayout != layout || outputLayout != layout || !java.util.Arrays.equals(input, inputShape)
                || !java.util.Arrays.equals(output, outputShape)) {
            throw new IllegalArgumentException("tensors " + java.util.Arrays.toString(input) + " " + inputLayout + ", "
                    + java.util.Arrays.toString(output) + " " + outputLayout + " do not match the convolution's "
                    + java.util.Arrays.toString(inputShape) + " -> " + java.util.Arrays.toString(outputShape) + " " + layout);
        }
    }

    @Override
    String closedMessage() {
        return "StaticConvolution is closed";
    }

    /** Holds only the handle, so the Cleaner does not keep the convolution reachable. */
    private record Destroyer(MemorySegment handle) implements Runnable {
        @Override
        public void run() {
            odconv_tools_h.odconv_static_conv_destroy(handle);
        }
    }
}
