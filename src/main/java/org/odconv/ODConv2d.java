package org.odconv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.odconv.bindings.odconv_h;
import org.odconv.bindings.odconv_tools_h;
import org.odconv.internal.Logging;
import org.odconv.io.SafeTensors;

/**
 * One ODConv2d layer in eval mode, run by the native library: the YOLO-style PyTorch module's forward
 * (attention, per-sample aggregated convolution, BatchNorm, activation), or the official OSVAI module's when
 * the configuration has no BatchNorm.
 *
 * <p>A layer lives on one {@link Device} and keeps its own copy of its weights, made when it is created (on a
 * CUDA GPU, uploaded): the weights' memory is free to go as soon as {@code create} returns. On the CPU it runs on
 * {@link Tensor}s; on a CUDA GPU on {@link DeviceTensor}s of that GPU, synchronously ({@link #forward(DeviceTensor, DeviceTensor)}) or queued on a {@link CudaStream}
 * ({@link #forwardAsync}); tensors or streams of another device are refused before any native call.
 *
 * <p>Forwards are safe to call from many threads at once; {@link #forward(Tensor, Tensor)} allocates nothing
 * on the Java heap. {@code close()} waits for forwards in flight and for queued stream work on the layer, is
 * idempotent, and later calls throw {@link IllegalStateException}. A layer that becomes unreachable unclosed
 * is freed by a {@link Cleaner} as a backstop only.
 */
public final class ODConv2d extends NativeResource {
    private final ODConv2dConfig config;
    private final ODConv2dWeights weights;
    private final Device device;
    private final LayerOptions options;
    private final MemorySegment handle;
    private final PendingStreams pendingStreams = new PendingStreams();
    /** See {@link #outputSize(long, long)}; racing forwards of different sizes may each replace it, harmlessly. */
    private volatile OutputSize lastOutputSize;
    /** Input sizes seen, for DEBUG logging only (and then at most {@link #LOGGED_SIZES} of them). */
    private final Set<String> sizesSeen = ConcurrentHashMap.newKeySet();
    private static final int LOGGED_SIZES = 64;

    private ODConv2d(ODConv2dConfig config, ODConv2dWeights weights, LayerOptions options, MemorySegment handle) {
        super(new Destroyer(handle));
        this.config = config;
        this.weights = weights;
        this.options = options;
        this.device = options.device();
        this.handle = handle;
    }

    /** Creates a layer on the CPU from a copy of the weights. */
    public static ODConv2d create(ODConv2dWeights weights) {
        return create(weights, LayerOptions.DEFAULT);
    }

    /** As {@link #create(ODConv2dWeights, LayerOptions)} with the default options on {@code device}. */
    public static ODConv2d create(ODConv2dWeights weights, Device device) {
        return create(weights, LayerOptions.DEFAULT.onDevice(device));
    }

    /**
     * Creates a layer on a device, from a copy of the weights (uploaded to a CUDA GPU): their memory is not used
     * after this call.
     *
     * @param weights the parameters
     * @param options where the layer runs and how (see {@link LayerOptions})
     * @throws DeviceUnavailableException    when CUDA cannot be used, with the native reason
     * @throws PrecisionUnavailableException when the device cannot compute in the options' precision, naming
     *                                       what it lacks
     * @throws IllegalArgumentException      when the GPU index does not exist
     * @throws IllegalStateException         when the weights' memory was already freed
     */
    public static ODConv2d create(ODConv2dWeights weights, LayerOptions options) {
        if (options == null) throw new IllegalArgumentException("options is null");
        Device device = options.device();
        Natives.load();
        int flags = options.nativeFlags();
        ODConv2dConfig config = weights.config();
        MemorySegment.Scope[] scopes = weights.segments().values().stream().map(MemorySegment::scope).distinct()
                .toArray(MemorySegment.Scope[]::new);
        checkAlive(scopes);
        // The native side reads the weights through addresses in a struct, which keep nothing alive: the file
        // stays mapped under a lease even if its owner closes it meanwhile, and weights in other memory are read
        // from a copy in this call's arena, since another thread may close a shared arena during the call.
        SafeTensors.Lease lease = weights.source() == null ? null : weights.source().lease();
        try (Arena call = Arena.ofConfined()) {
            Map<Parameter, MemorySegment> segments = lease != null ? weights.segments() : copies(weights.segments(), call);
            MemorySegment handleOut = call.allocate(ValueLayout.ADDRESS);
            int status = odconv_h.odconv_layer_create(handleOut, Natives.config(config, call),
                    Natives.weights(segments, call), device.type().nativeValue(), device.index(), flags);
            Natives.check(status, "odconv_layer_create", device);
            return new ODConv2d(config, weights, options, handleOut.get(ValueLayout.ADDRESS, 0));
        } finally {
            if (lease != null) lease.close();  // copied (or failed): the file may go
        }
    }

    /** The configuration the layer was created with; readable after close. */
    public ODConv2dConfig config() {
        return config;
    }

    /**
     * The weights the layer was created from, as given: the caller's memory, which the layer does not read after
     * creation (it may be closed, as a loaded model's file is). Readable after close.
     */
    public ODConv2dWeights weights() {
        return weights;
    }

    /** The device the layer runs on; readable after close. */
    public Device device() {
        return device;
    }

    /** The options the layer was created with; readable after close. */
    public LayerOptions options() {
        return options;
    }

    /** {batch, outPlanes, outHeight, outWidth} for an input of {batch, inPlanes, height, width}. */
    public long[] outputShape(long batch, long height, long width) {
        if (batch < 1) throw new IllegalArgumentException("batch = " + batch + " must be >= 1");
        OutputSize size = outputSize(height, width);
        return new long[] {batch, config.outPlanes(), size.height(), size.width()};
    }

    /** An input size and the output size the library computes for it. */
    private record OutputSize(long inputHeight, long inputWidth, long height, long width) {}

    /**
     * The output size for an input size: asked of the library ({@link ODConv2dConfig#outputSize}) when the size
     * changes, and remembered, so that forwards of one size (the steady state) allocate nothing for it.
     */
    private OutputSize outputSize(long height, long width) {
        OutputSize last = lastOutputSize;
        if (last != null && last.inputHeight() == height && last.inputWidth() == width) return last;
        long[] size = config.outputSize(height, width);
        OutputSize computed = new OutputSize(height, width, size[0], size[1]);
        lastOutputSize = computed;
        return computed;
    }

    /**
     * System property: the most elements {@link #forward(Tensor)} and {@link #forward(DeviceTensor)} allocate for
     * an output (default {@value #DEFAULT_MAX_OUTPUT_ELEMENTS}, 8 GiB of floats). Past it they throw
     * {@link IllegalArgumentException} before allocating anything.
     */
    public static final String MAX_OUTPUT_ELEMENTS_PROPERTY = "odconv.max.output.elements";
    static final long DEFAULT_MAX_OUTPUT_ELEMENTS = 1L << 31;

    /**
     * Runs the layer into a new owning tensor in the input's layout, which the caller closes.
     *
     * @throws IllegalArgumentException when the output would hold more than {@value #MAX_OUTPUT_ELEMENTS_PROPERTY}
     *                                  elements, or as {@link #forward(Tensor, Tensor)} does
     */
    public Tensor forward(Tensor input) {
        long[] shape = allocatedOutputShape(input);
        return Shaped.filledBy(Tensor.allocate(shape[0], shape[1], shape[2], shape[3], input.layout()),
                output -> forward(input, output));
    }

    /**
     * Runs the layer, writing every element of {@code output}. Both tensors are NCHW, or both NHWC (the
     * faster one on CPUs). Shapes and layouts are checked first: {@link IllegalArgumentException} names the
     * mismatch. No Java allocation in steady state.
     */
    public void forward(Tensor input, Tensor output) {
        checkShapes(input, output);
        checkHostTensors();
        long stamp = enter();
        try {
            if (Logging.LOGGER.isLoggable(System.Logger.Level.DEBUG)) logFirstForwardOfSize(input);
            int status = odconv_h.odconv_layer_forward(handle, input.batch(), input.height(), input.width(),
                    input.layout().nativeValue(), input.segment(), output.writableSegment("output"));
            Natives.check(status, "odconv_layer_forward");
        } finally {
            exit(stamp);
        }
    }

    /** Runs the layer into a new {@link DeviceTensor} on the layer's device, which the caller closes. */
    public DeviceTensor forward(DeviceTensor input) {
        long[] shape = allocatedOutputShape(input);
        return Shaped.filledBy(DeviceTensor.allocate(device, shape[0], shape[1], shape[2], shape[3], input.layout()),
                output -> forward(input, output));
    }

    /**
     * Runs the layer on tensors in its device's memory and returns when {@code output} is written. Shapes,
     * layouts and devices are checked first: {@link IllegalArgumentException} names the mismatch.
     */
    public void forward(DeviceTensor input, DeviceTensor output) {
        checkShapes(input, output);
        checkDevices(input, output);
        long stamp = enter();
        try {
            int status = DeviceTensor.withAddresses(input, output, (in, out) -> odconv_h.odconv_layer_forward(handle,
                    input.batch(), input.height(), input.width(), input.layout().nativeValue(), in, out));
            Natives.check(status, "odconv_layer_forward", device);
        } finally {
            exit(stamp);
        }
    }

    /**
     * Enqueues the forward on {@code stream} (of the layer's GPU) and returns; {@code output} is written once
     * the stream has run it ({@link CudaStream#synchronize()}). Closing the layer, either tensor or the stream
     * meanwhile waits for it. Concurrent calls, on the same or different streams, are allowed.
     *
     * @throws IllegalArgumentException when shapes, layouts or devices do not match (naming both)
     */
    public void forwardAsync(DeviceTensor input, DeviceTensor output, CudaStream stream) {
        if (stream == null) throw new IllegalArgumentException("stream is null");
        checkShapes(input, output);
        checkDevices(input, output);
        if (!stream.device().equals(device)) {
            throw new IllegalArgumentException("the stream is on " + stream.device() + " but the layer is on " + device
                    + "; use a stream of " + device);
        }
        long stamp = enter();
        long streamStamp = 0;
        long inputStamp = 0;
        long outputStamp = 0;
        try {
            streamStamp = stream.enter();
            inputStamp = input.acquire();
            outputStamp = output.acquire();
            pendingStreams.add(stream);
            input.pendingStreams().add(stream);
            output.pendingStreams().add(stream);
            int status = stream.enqueue(() -> odconv_h.odconv_layer_forward_async(handle, stream.handle(), input.batch(),
                    input.height(), input.width(), input.layout().nativeValue(), input.address(), output.address()),
                    this, input, output);
            Natives.check(status, "odconv_layer_forward_async", device);
        } finally {
            if (outputStamp != 0) output.release(outputStamp);
            if (inputStamp != 0) input.release(inputStamp);
            if (streamStamp != 0) stream.exit(streamStamp);
            exit(stamp);
        }
    }

    /**
     * For benchmarks: runs {@code iterations} forwards back to back inside the native library and returns
     * each one's wall time in milliseconds, so that the cost of calling from Java can be told apart.
     */
    public double[] benchmarkNative(Tensor input, Tensor output, int iterations) {
        checkShapes(input, output);
        checkHostTensors();
        return benchmarkNative(input, input.segment(), output.writableSegment("output"), iterations);
    }

    /** As {@link #benchmarkNative(Tensor, Tensor, int)} on the layer's device; each run includes waiting for it. */
    public double[] benchmarkNative(DeviceTensor input, DeviceTensor output, int iterations) {
        checkShapes(input, output);
        checkDevices(input, output);
        return DeviceTensor.withAddresses(input, output, (in, out) -> benchmarkNative(input, in, out, iterations));
    }

    private double[] benchmarkNative(Shaped input, MemorySegment inputAddress, MemorySegment outputAddress,
            int iterations) {
        if (iterations < 1) throw new IllegalArgumentException("iterations = " + iterations + " must be >= 1");
        long stamp = enter();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment times = call.allocate(ValueLayout.JAVA_DOUBLE, iterations);
            int status = odconv_tools_h.odconv_layer_benchmark(handle, input.batch(), input.height(), input.width(),
                    input.layout().nativeValue(), inputAddress, outputAddress, iterations, times);
            Natives.check(status, "odconv_layer_benchmark", device);
            return times.toArray(ValueLayout.JAVA_DOUBLE);
        } finally {
            exit(stamp);
        }
    }

    /** Threads per forward on this layer; 0 restores the default (OMP_NUM_THREADS, else every core). */
    public void setNumThreads(int threads) {
        if (threads < 0) throw new IllegalArgumentException("threads = " + threads + " must be >= 0");
        long stamp = enter();
        try {
            Natives.check(odconv_h.odconv_layer_set_num_threads(handle, threads), "odconv_layer_set_num_threads");
        } finally {
            exit(stamp);
        }
    }

    @Override
    String closedMessage() {
        return "ODConv2d layer is closed";
    }

    @Override
    void beforeFree() {
        pendingStreams.awaitAll();
    }

    @Override
    public String toString() {
        return "ODConv2d" + config + (device.isCuda() ? " on " + device : "") + (isClosed() ? " (closed)" : "");
    }

    /** The shape of an output this layer is about to allocate for input, within the configured limit. */
    private long[] allocatedOutputShape(Shaped input) {
        long[] shape = outputShape(input.batch(), input.height(), input.width());
        long limit = Long.getLong(MAX_OUTPUT_ELEMENTS_PROPERTY, DEFAULT_MAX_OUTPUT_ELEMENTS);
        double elements = (double) shape[0] * shape[1] * shape[2] * shape[3];
        if (elements > limit) {
            throw new IllegalArgumentException("the output " + Arrays.toString(shape) + " for input "
                    + Arrays.toString(input.shape()) + " would hold " + String.format("%.0f", elements)
                    + " elements, more than the limit of " + limit + " (-D" + MAX_OUTPUT_ELEMENTS_PROPERTY + ")");
        }
        return shape;
    }

    /** Host tensors reach only CPU layers. Allocation-free unless it throws. */
    private void checkHostTensors() {
        if (device.isCuda()) {
            throw new IllegalArgumentException("this layer is on " + device + " but the tensors are host Tensors (cpu);"
                    + " copy them into DeviceTensors on " + device + " (DeviceTensor.copyOf)");
        }
    }

    /** Allocation-free unless it throws. */
    private void checkDevices(DeviceTensor input, DeviceTensor output) {
        checkDevice(input, "input");
        checkDevice(output, "output");
    }

    private void checkDevice(DeviceTensor tensor, String role) {
        if (!tensor.device().equals(device)) {
            throw new IllegalArgumentException("the " + role + " is on " + tensor.device() + " but the layer is on "
                    + device + " (" + tensor + "); copy it to " + device + " first");
        }
    }

    /** Allocation-free unless it throws: forward runs it on every call. */
    private void checkShapes(Shaped input, Shaped output) {
        if (input.layout() != output.layout()) {
            throw new IllegalArgumentException("input is " + input.layout() + " but output is " + output.layout()
                    + "; both must have the same layout");
        }
        if (input.channels() != config.inPlanes()) {
            throw new IllegalArgumentException("input has " + input.channels() + " channels, layer expects inPlanes = "
                    + config.inPlanes() + " (input shape " + Arrays.toString(input.shape()) + ")");
        }
        OutputSize outSize = outputSize(input.height(), input.width());
        if (output.batch() != input.batch() || output.channels() != config.outPlanes()
                || output.height() != outSize.height() || output.width() != outSize.width()) {
            throw new IllegalArgumentException("output shape " + Arrays.toString(output.shape())
                    + " does not match " + Arrays.toString(outputShape(input.batch(), input.height(),
                    input.width())) + " for input " + Arrays.toString(input.shape()));
        }
    }

    /**
     * The native side plans (oneDNN primitives, the bank in their layout) at the first forward of each input size
     * and layout, and keeps the most recent plans: DEBUG says when one is made, so that a service's logs show
     * the cost of new sizes.
     */
    private void logFirstForwardOfSize(Shaped input) {
        String size = input.height() + "x" + input.width() + " " + input.layout();
        if (sizesSeen.size() < LOGGED_SIZES && sizesSeen.add(size)) {
            Logging.LOGGER.log(System.Logger.Level.DEBUG, "odconv: {0}: first forward of input size {1}: planning",
                    this, size);
        }
    }

    /** Weights whose memory was freed before creation: refuse rather than read it. */
    private static void checkAlive(MemorySegment.Scope[] weightScopes) {
        for (MemorySegment.Scope scope : weightScopes) {
            if (!scope.isAlive()) throw new IllegalStateException(WEIGHTS_FREED);
        }
    }

    private static final String WEIGHTS_FREED = "the memory of this layer's weights was freed (its arena is closed);"
            + " keep it open until the layer is created";

    /** Copies of the weights in {@code call}; their arena closing first makes the copy fail, never the native read. */
    private static Map<Parameter, MemorySegment> copies(Map<Parameter, MemorySegment> segments, Arena call) {
        Map<Parameter, MemorySegment> copies = new EnumMap<>(Parameter.class);
        try {
            segments.forEach((p, data) -> copies.put(p, call.allocate(data.byteSize(), Float.BYTES).copyFrom(data)));
        } catch (IllegalStateException closed) {
            throw new IllegalStateException(WEIGHTS_FREED, closed);
        }
        return copies;
    }

    /** Holds only the handle, so the Cleaner does not keep the layer reachable. */
    private record Destroyer(MemorySegment handle) implements Runnable {
        @Override
        public void run() {
            odconv_h.odconv_layer_destroy(handle);
        }
    }
}
