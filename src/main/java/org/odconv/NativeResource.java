package org.odconv;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.StampedLock;

/**
 * The one pattern of every object that owns a native resource (layers, device tensors, streams, static
 * convolutions): each native call enters and exits; {@link #close()} makes later calls fail, waits for the calls
 * in flight, then frees the resource, once; a {@link Cleaner} frees it, as a backstop only, when the owner
 * becomes unreachable unclosed. Entering and exiting allocate nothing. (Host tensors differ: their memory's FFM
 * arena itself refuses to close under a native call, see {@link Tensor#close()}.)
 */
abstract class NativeResource implements AutoCloseable {
    /** One cleaner thread for every native resource of the API; its actions are backstops only. */
    static final Cleaner CLEANER = Cleaner.create();

    private final StampedLock lock = new StampedLock();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Cleaner.Cleanable free;

    /** @param free frees the resource, once; it must not refer to this object, or the object stays reachable */
    NativeResource(Runnable free) {
        this.free = CLEANER.register(this, free);
    }

    /** The message of the {@link IllegalStateException} that calls after close throw. */
    abstract String closedMessage();

    /** Runs once the calls in flight have ended and before the resource is freed (waits for queued stream work). */
    void beforeFree() {}

    /** Runs once the resource is freed. */
    void afterFree() {}

    /**
     * Admits a call unless closed; pass the stamp to {@link #exit(long)}. The flag is checked first so that a
     * close() waiting for the write lock is not starved by a stream of new readers (StampedLock does not
     * favour a waiting writer).
     *
     * @throws IllegalStateException once closed
     */
    final long enter() {
        long stamp = tryEnter();
        if (stamp == 0) throw new IllegalStateException(closedMessage());
        return stamp;
    }

    /** As {@link #enter()}, but 0 instead of an exception once closed. */
    final long tryEnter() {
        return closed.get() ? 0 : lock.tryReadLock();
    }

    /** Ends a call admitted by {@link #enter()} or {@link #tryEnter()}. */
    final void exit(long stamp) {
        lock.unlockRead(stamp);
    }

    /** Whether {@link #close()} has begun; a closed object refuses every call with {@link IllegalStateException}. */
    public final boolean isClosed() {
        return closed.get();
    }

    /** Waits for the calls in flight (and for queued stream work), then frees the native resource. Idempotent. */
    @Override
    public final void close() {
        if (!closed.compareAndSet(false, true)) return;
        lock.writeLock();  // never released: every later tryReadLock fails
        beforeFree();
        free.clean();
        afterFree();
    }
}
