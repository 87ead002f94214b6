package org.odconv.internal;

import java.lang.foreign.MemorySegment;
import java.util.function.BiFunction;

import org.odconv.DeviceTensor;

/**
 * Device addresses for native calls outside package {@code org.odconv} (the benchmark's static convolution),
 * without the public API handing out a segment anyone could read: {@link DeviceTensor} registers the one
 * {@link Access} when its class initializes.
 */
public final class DeviceMemory {
    /** What {@link DeviceTensor} grants to native-call code. */
    public interface Access {
        /**
         * Runs {@code body} with the two tensors' device addresses, both kept open meanwhile (closing either
         * waits for it).
         *
         * @param <R>    what body returns
         * @param first  a tensor
         * @param second another tensor (or the same)
         * @param body   the native call, given the two addresses
         * @return what body returned
         * @throws IllegalStateException when either tensor is closed
         */
        <R> R withAddresses(DeviceTensor first, DeviceTensor second, BiFunction<MemorySegment, MemorySegment, R> body);
    }

    private static Access access;

    private DeviceMemory() {}

    /**
     * Called once, by {@link DeviceTensor}'s static initializer.
     *
     * @param granted the access
     */
    public static synchronized void register(Access granted) {
        if (access != null) throw new IllegalStateException("DeviceMemory access is already registered");
        access = granted;
    }

    /**
     * The access {@link DeviceTensor} registered; there is one as soon as any DeviceTensor exists.
     *
     * @return the access
     */
    public static synchronized Access access() {
        if (access == null) throw new IllegalStateException("no DeviceTensor class has been initialized");
        return access;
    }
}
