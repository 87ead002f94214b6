package org.odconv;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.StampedLock;
import java.util.function.Supplier;

/**
 * The close protocol of the objects native calls borrow (layers, device tensors, streams): each call enters
 * and exits; {@link #close()} makes later calls fail and waits for the calls in flight. Entering and exiting
 * allocate nothing.
 */
final class Lifecycle {
    /** One cleaner thread for every native resource of the API; its actions are backstops only. */
    static final Cleaner CLEANER = Cleaner.create();

    private final StampedLock lock = new StampedLock();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Supplier<String> closedMessage;

    /** @param closedMessage the message of the {@link IllegalStateException} calls after close throw */
    Lifecycle(Supplier<String> closedMessage) {
        this.closedMessage = closedMessage;
    }

    /**
     * Admits a call unless closed; pass the stamp to {@link #exit(long)}. The flag is checked first so that a
     * close() waiting for the write lock is not starved by a stream of new readers (StampedLock does not
     * favour a waiting writer).
     *
     * @throws IllegalStateException once closed
     */
    long enter() {
        long stamp = tryEnter();
        if (stamp == 0) throw new IllegalStateException(closedMessage.get());
        return stamp;
    }

    /** As {@link #enter()}, but 0 instead of an exception once closed. */
    long tryEnter() {
        return closed.get() ? 0 : lock.tryReadLock();
    }

    /** Ends a call admitted by {@link #enter()} or {@link #tryEnter()}. */
    void exit(long stamp) {
        lock.unlockRead(stamp);
    }

    /**
     * Refuses later calls and waits for those in flight. True for the one call that closed it, false for
     * every later one (close is idempotent).
     */
    boolean close() {
        if (!closed.compareAndSet(false, true)) return false;
        lock.writeLock();  // never released: every later tryReadLock fails
        return true;
    }

    /** Whether {@link #close()} has begun. */
    boolean isClosed() {
        return closed.get();
    }
}
