package org.odconv.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.odconv.Layout;
import org.odconv.ODConv2dConfig;
import org.odconv.Tensor;
import org.odconv.bindings.odconv_h;
import org.odconv.internal.NativeCalls;
import org.odconv.internal.NativeLibrary;
import org.odconv.internal.NativeStructs;

/**
 * The floor ODConv is measured against: a plain oneDNN convolution of a layer's shape (one fixed kernel
 * reordered once, BatchNorm folded into a bias, the activation as a post-op) for one input shape and layout.
 * Not thread-safe.
 */
public final class StaticConvolution implements AutoCloseable {
    private final MemorySegment handle;
    private final long[] inputShape;
    private final long[] outputShape;
    private final Layout layout;
    private boolean closed;

    private StaticConvolution(MemorySegment handle, long[] inputShape, long[] outputShape, Layout layout) {
        this.handle = handle;
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
        NativeLibrary.load();
        long expected = (long) config.outPlanes() * (config.inPlanes() / config.groups()) * config.kernelSize()
                * config.kernelSize() * Float.BYTES;
        if (weight.byteSize() != expected) {
            throw new IllegalArgumentException("weight has " + weight.byteSize() + " bytes, expected " + expected);
        }
        if (bias != null && bias.byteSize() != (long) config.outPlanes() * Float.BYTES) {
            throw new IllegalArgumentException("bias has " + bias.byteSize() + " bytes, expected " + config.outPlanes() * 4L);
        }
        try (Arena call = Arena.ofConfined()) {
            MemorySegment out = call.allocate(ValueLayout.ADDRESS);
            int status = odconv_h.odconv_static_conv_create(out, NativeStructs.config(config, call), weight,
                    bias == null ? MemorySegment.NULL : bias, batch, height, width, layout.nativeValue(), threads);
            NativeCalls.check(status, "odconv_static_conv_create");
            long[] in = {batch, config.inPlanes(), height, width};
            long[] o = {batch, config.outPlanes(), config.outputExtent(height, "height"), config.outputExtent(width, "width")};
            return new StaticConvolution(out.get(ValueLayout.ADDRESS, 0), in, o, layout);
        }
    }

    /** Runs the convolution once. */
    public void forward(Tensor input, Tensor output) {
        checkTensors(input, output);
        NativeCalls.check(odconv_h.odconv_static_conv_forward(handle, input.segment(), output.segment()),
                "odconv_static_conv_forward");
    }

    /** Runs {@code iterations} convolutions back to back natively; each one's wall time in milliseconds. */
    public double[] benchmark(Tensor input, Tensor output, int iterations) {
        checkTensors(input, output);
        if (iterations < 1) throw new IllegalArgumentException("iterations = " + iterations + " must be >= 1");
        try (Arena call = Arena.ofConfined()) {
            MemorySegment times = call.allocate(ValueLayout.JAVA_DOUBLE, iterations);
            NativeCalls.check(odconv_h.odconv_static_conv_benchmark(handle, input.segment(), output.segment(), iterations,
                    times), "odconv_static_conv_benchmark");
            return times.toArray(ValueLayout.JAVA_DOUBLE);
        }
    }

    private void checkTensors(Tensor input, Tensor output) {
        if (closed) throw new IllegalStateException("StaticConvolution is closed");
        if (input.layout() != layout || output.layout() != layout || input.batch() != inputShape[0]
                || input.channels() != inputShape[1] || input.height() != inputShape[2] || input.width() != inputShape[3]
                || output.batch() != outputShape[0] || output.channels() != outputShape[1]
                || output.height() != outputShape[2] || output.width() != outputShape[3]) {
            throw new IllegalArgumentException("tensors " + input + ", " + output + " do not match the convolution's "
                    + java.util.Arrays.toString(inputShape) + " -> " + java.util.Arrays.toString(outputShape) + " " + layout);
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        odconv_h.odconv_static_conv_destroy(handle);
    }
}
