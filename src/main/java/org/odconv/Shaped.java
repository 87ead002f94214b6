package org.odconv;

import java.util.function.Consumer;

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

    /** Returns the new {@code tensor} once {@code write} has filled it; closes it and rethrows when write fails. */
    static <T extends Shaped> T filledBy(T tensor, Consumer<? super T> write) {
        try {
            write.accept(tensor);
            return tensor;
        } catch (RuntimeException | Error e) {
            tensor.close();
            throw e;
        }
    }
}
