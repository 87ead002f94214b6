package org.odconv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.function.IntSupplier;

import org.odconv.bindings.odconv_h;

/**
 * A queue of work on one CUDA GPU: {@link DeviceTensor#copyFromAsync}, {@link ODConv2d#forwardAsync} and
 * {@link DeviceTensor#copyToAsync} only enqueue, in order, and return; {@link #synchronize()} waits for all of
 * it. Work on different streams may overlap. Any thread may enqueue on a stream.
 *
 * <p>What queued work uses stays safe until it has run: the stream keeps it reachable, and closing a layer,
 * a {@link DeviceTensor} or a pinned {@link Tensor} first waits for the streams with work on it.
 * {@link #close()} waits for the queued work, then destroys the stream; it is idempotent, and later calls throw
 * {@link IllegalStateException}. Errors raised by queued work are reported by {@link #synchronize()}, not by
 * {@code close()}. A stream that becomes unreachable unclosed is destroyed by a {@link Cleaner} as a backstop
 * only.
 */
public final class CudaStream extends NativeResource {
    private final Device device;
    private final MemorySegment handle;
    private final CountDownLatch destroyed;
    /** Serializes enqueueing with the bookkeeping below, so synchronize knows which work it has waited for. */
    private final Object queue = new Object();
    /** What queued work borrows, with the number of the last enqueue that used it; guarded by {@link #queue}. */
    private final Map<Object, Long> borrowed = new IdentityHashMap<>();
    /** Enqueues so far; guarded by {@link #queue}. */
    private long enqueued;

    private CudaStream(Device device, MemorySegment handle) {
        this(device, handle, new CountDownLatch(1));
    }

    private CudaStream(Device device, MemorySegment handle, CountDownLatch destroyed) {
        super(new Destroyer(handle, destroyed));
        this.device = device;
        this.handle = handle;
        this.destroyed = destroyed;
    }

    /**
     * Creates a stream on a CUDA GPU.
     *
     * @throws IllegalArgumentException   for the CPU (it has no streams: its forwards run on the calling
     *                                    thread) or a GPU index that does not exist
     * @throws DeviceUnavailableException when CUDA cannot be used, with the native reason
     */
    public static CudaStream create(Device device) {
        if (!device.isCuda()) {
            throw new IllegalArgumentException("streams are for CUDA devices, not " + device + ": CPU forwards run on"
                    + " the calling thread");
        }
        Natives.load();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment out = call.allocate(ValueLayout.ADDRESS);
            Natives.check(odconv_h.odconv_stream_create(out, device.type().nativeValue(), device.index()),
                    "odconv_stream_create", device);
            return new CudaStream(device, out.get(ValueLayout.ADDRESS, 0));
        }
    }

    /** The GPU this stream runs on. */
    public Device device() {
        return device;
    }

    /**
     * Blocks until all work enqueued so far has run.
     *
     * @throws NativeException       when that work failed (the message carries the CUDA or cuDNN error)
     * @throws IllegalStateException after close
     */
    public void synchronize() {
        long stamp = enter();
        try {
            long waitedFor;
            synchronized (queue) {
                waitedFor = enqueued;
            }
            Natives.check(odconv_h.odconv_stream_synchronize(handle), "odconv_stream_synchronize", device);
            synchronized (queue) {
                borrowed.values().removeIf(lastUse -> lastUse <= waitedFor);
            }
        } finally {
            exit(stamp);
        }
    }

    @Override
    String closedMessage() {
        return "CudaStream on " + device + " is closed";
    }

    /** What the queued work used may go once the stream's destruction has waited for it. */
    @Override
    void afterFree() {
        synchronized (queue) {
            borrowed.clear();
        }
    }

    @Override
    public String toString() {
        return "CudaStream on " + device + (isClosed() ? " (closed)" : "");
    }

    /** The native handle, for calls made while the stream is entered. */
    MemorySegment handle() {
        return handle;
    }

    /**
     * Runs {@code nativeEnqueue} (a native call that enqueues on this stream) and keeps {@code users}, what the
     * queued work reads or writes, reachable until a {@link #synchronize()} or {@link #close()} has waited for
     * it. Returns the call's status; the caller checks it on this thread.
     */
    int enqueue(IntSupplier nativeEnqueue, Object... users) {
        synchronized (queue) {
            long number = ++enqueued;
            for (Object user : users) borrowed.put(user, number);
            return nativeEnqueue.getAsInt();
        }
    }

    /** Whether the native stream is gone (and so has finished its work). */
    boolean isDestroyed() {
        return destroyed.getCount() == 0;
    }

    /**
     * Waits for the queued work, for an object closing that it used. Errors of that work are left to
     * {@link #synchronize()} to report: the closing object can do nothing about them.
     */
    void awaitIdle() {
        long stamp = tryEnter();
        if (stamp != 0) {
            try {
                odconv_h.odconv_stream_synchronize(handle);
            } finally {
                exit(stamp);
            }
            return;
        }
        boolean interrupted = false;
        while (true) {  // closed or closing: its destruction waits for the work
            try {
                destroyed.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    /** Holds only the handle and the latch, so the Cleaner does not keep the stream reachable. */
    private record Destroyer(MemorySegment handle, CountDownLatch destroyed) implements Runnable {
        @Override
        public void run() {
            odconv_h.odconv_stream_destroy(handle);  // waits for the queued work first
            destroyed.countDown();
        }
    }
}
