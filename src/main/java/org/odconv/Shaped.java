package org.odconv;

/**
 * An activation tensor, wherever its memory is: the shape and layout forward checks before any call, and
 * close (which throws no checked exception).
 */
interface Shaped extends AutoCloseable {
    /** N. */
    long batch();

    /** C. */
    long channels();

    /** H. */
    long height();

    /** W. */
    long width();

    /** The memory order. */
    Layout layout();

    /** {batch, channels, height, width}. */
    long[] shape();

    /** Frees or ends the tensor's memory; idempotent. */
    @Override
    void close();
}
