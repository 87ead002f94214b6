package org.odconv;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The CUDA streams that may still have queued work reading or writing an object (device memory, pinned host
 * memory, a layer), so that closing the object first waits for that work instead of freeing memory a GPU is
 * about to use.
 */
final class PendingStreams {
    private final Set<CudaStream> streams = ConcurrentHashMap.newKeySet();

    /** Records that work using the object is about to be queued on {@code stream}. */
    void add(CudaStream stream) {
        if (streams.add(stream)) {
            streams.removeIf(CudaStream::isDestroyed);  // keeps the set as small as the streams still alive
        }
    }

    /** Waits until every recorded stream has run its queued work (or has been destroyed, which waits too). */
    void awaitAll() {
        for (CudaStream stream : streams) stream.awaitIdle();
        streams.clear();
    }
}
