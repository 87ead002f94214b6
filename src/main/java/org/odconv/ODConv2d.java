package org.odconv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.StampedLock;

import org.odconv.bindings.odconv_h;
import org.odconv.internal.NativeCalls;
import org.odconv.internal.NativeLibrary;
import org.odconv.internal.NativeStructs;
import org.odconv.io.SafeTensors;

/**
 * One ODConv2d layer in eval mode, run by the native library: the YOLO-style PyTorch module's forward
 * (attention, per-sample aggregated convolution, BatchNorm, activation), or the official OSVAI module's when
 * the configuration has no BatchNorm.
 *
 * <p>The layer borrows its weights' memory (see {@link ODConv2dWeights}) until {@link #close()}.
 * {@link #forward(Tensor, Tensor)} is safe to call from many threads at once and allocates nothing on the
 * Java heap; {@code close()} waits for forwards in flight, is idempotent, and later calls throw
 * {@link IllegalStateException}. A layer that becomes unreachable unclosed is freed by a {@link Cleaner}
 * as a backstop only.
 */
public final class ODConv2d implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final ODConv2dConfig config;
    private final ODConv2dWeights weights;  // keeps the borrowed segments reachable while the layer lives
    private final MemorySegment.Scope[] weightScopes;
    private final MemorySegment handle;
    private final StampedLock lifecycle = new StampedLock();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Cleaner.Cleanable cleanable;

    private ODConv2d(ODConv2dConfig config, ODConv2dWeights weights, MemorySegment handle, SafeTensors.Lease lease) {
        this.config = config;
        this.weights = weights;
        this.weightScopes = weights.segments().values().stream().map(MemorySegment::scope).distinct()
                .toArray(MemorySegment.Scope[]::new);
        this.handle = handle;
        this.cleanable = CLEANER.register(this, new Destroyer(handle, lease));
    }

    /**
     * Creates a layer; the weights' memory is borrowed until {@link #close()} (a file's, through a lease on
     * it: see {@link ODConv2dWeights}).
     */
    public static ODConv2d create(ODConv2dWeights weights) {
        NativeLibrary.load();
        ODConv2dConfig config = weights.config();
        SafeTensors.Lease lease = weights.source() == null ? null : weights.source().lease();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment handleOut = call.allocate(ValueLayout.ADDRESS);
            int status = odconv_h.odconv_layer_create(handleOut, NativeStructs.config(config, call),
                    NativeStructs.weights(weights.segments(), call));
            NativeCalls.check(status, "odconv_layer_create");
            return new ODConv2d(config, weights, handleOut.get(ValueLayout.ADDRESS, 0), lease);
        } catch (RuntimeException | Error e) {
            if (lease != null) lease.close();
            throw e;
        }
    }

    /** The configuration the layer was created with; readable after close. */
    public ODConv2dConfig config() {
        return config;
    }

    /** The weights whose memory the layer borrows until {@link #close()}; readable after close. */
    public ODConv2dWeights weights() {
        return weights;
    }

    /** {batch, outPlanes, outHeight, outWidth} for an input of {batch, inPlanes, height, width}. */
    public long[] outputShape(long batch, long height, long width) {
        if (batch < 1) throw new IllegalArgumentException("batch = " + batch + " must be >= 1");
        return new long[] {batch, config.outPlanes(), config.outputExtent(height, "height"),
                config.outputExtent(width, "width")};
    }

    /** Runs the layer into a new owning tensor in the input's layout, which the caller closes. */
    public Tensor forward(Tensor input) {
        long[] shape = outputShape(input.batch(), input.height(), input.width());
        Tensor output = Tensor.allocate(shape[0], shape[1], shape[2], shape[3], input.layout());
        try {
            forward(input, output);
            return output;
        } catch (RuntimeException | Error e) {
            output.close();
            throw e;
        }
    }

    /**
     * Runs the layer, writing every element of {@code output}. Both tensors are NCHW, or both NHWC (the
     * faster one on CPUs). Shapes and layouts are checked first: {@link IllegalArgumentException} names the
     * mismatch. No Java allocation in steady state.
     */
    public void forward(Tensor input, Tensor output) {
        checkShapes(input, output);
        long stamp = enter();
        try {
            checkWeightsAlive();
            int status = odconv_h.odconv_layer_forward(handle, input.batch(), input.height(), input.width(),
                    input.layout().nativeValue(), input.segment(), output.segment());
            NativeCalls.check(status, "odconv_layer_forward");
        } finally {
            lifecycle.unlockRead(stamp);
        }
    }

    /**
     * For benchmarks: runs {@code iterations} forwards back to back inside the native library and returns
     * each one's wall time in milliseconds, so that the cost of calling from Java can be told apart.
     */
    public double[] benchmarkNative(Tensor input, Tensor output, int iterations) {
        checkShapes(input, output);
        if (iterations < 1) throw new IllegalArgumentException("iterations = " + iterations + " must be >= 1");
        long stamp = enter();
        try (Arena call = Arena.ofConfined()) {
            checkWeightsAlive();
            MemorySegment times = call.allocate(ValueLayout.JAVA_DOUBLE, iterations);
            int status = odconv_h.odconv_layer_benchmark(handle, input.batch(), input.height(), input.width(),
                    input.layout().nativeValue(), input.segment(), output.segment(), iterations, times);
            NativeCalls.check(status, "odconv_layer_benchmark");
            return times.toArray(ValueLayout.JAVA_DOUBLE);
        } finally {
            lifecycle.unlockRead(stamp);
        }
    }

    /** Threads per forward on this layer; 0 restores the default (OMP_NUM_THREADS, else every core). */
    public void setNumThreads(int threads) {
        if (threads < 0) throw new IllegalArgumentException("threads = " + threads + " must be >= 0");
        long stamp = enter();
        try {
            NativeCalls.check(odconv_h.odconv_layer_set_num_threads(handle, threads), "odconv_layer_set_num_threads");
        } finally {
            lifecycle.unlockRead(stamp);
        }
    }

    /** Whether {@link #close()} has been called; a closed layer refuses every call with {@link IllegalStateException}. */
    public boolean isClosed() {
        return closed.get();
    }

    /** Waits for forwards in flight, then frees the native layer. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        lifecycle.writeLock();  // never released: every later call fails its tryReadLock
        cleanable.clean();
    }

    @Override
    public String toString() {
        return "ODConv2d" + config + (isClosed() ? " (closed)" : "");
    }

    /** Allocation-free unless it throws: forward runs it on every call. */
    private void checkShapes(Tensor input, Tensor output) {
        if (input.layout() != output.layout()) {
            throw new IllegalArgumentException("input is " + input.layout() + " but output is " + output.layout()
                    + "; both must have the same layout");
        }
        if (input.channels() != config.inPlanes()) {
            throw new IllegalArgumentException("input has " + input.channels() + " channels, layer expects inPlanes = "
                    + config.inPlanes() + " (input shape " + java.util.Arrays.toString(input.shape()) + ")");
        }
        long outHeight = config.outputExtent(input.height(), "height");
        long outWidth = config.outputExtent(input.width(), "width");
        if (output.batch() != input.batch() || output.channels() != config.outPlanes() || output.height() != outHeight
                || output.width() != outWidth) {
            throw new IllegalArgumentException("output shape " + java.util.Arrays.toString(output.shape())
                    + " does not match " + java.util.Arrays.toString(outputShape(input.batch(), input.height(),
                    input.width())) + " for input " + java.util.Arrays.toString(input.shape()));
        }
    }

    /**
     * Admits a call unless the layer is closed. The flag is checked first so that a close() waiting for the
     * write lock is not starved by a stream of new readers (StampedLock does not favour a waiting writer).
     */
    private long enter() {
        if (closed.get()) throw closedException();
        long stamp = lifecycle.tryReadLock();
        if (stamp == 0) throw closedException();
        return stamp;
    }

    /** Memory the caller owns may have been freed behind the layer's back: refuse rather than read it. */
    private void checkWeightsAlive() {
        for (MemorySegment.Scope scope : weightScopes) {
            if (!scope.isAlive()) {
                throw new IllegalStateException("the memory of this layer's weights was freed (its arena is closed);"
                        + " keep it open until the layer is closed");
            }
        }
    }

    private IllegalStateException closedException() {
        return new IllegalStateException("ODConv2d layer is closed");
    }

    /** Holds only the handle and the file lease, so the Cleaner does not keep the layer reachable. */
    private record Destroyer(MemorySegment handle, SafeTensors.Lease lease) implements Runnable {
        @Override
        public void run() {
            odconv_h.odconv_layer_destroy(handle);
            if (lease != null) lease.close();
        }
    }
}
