package org.odconv.internal;

import java.lang.foreign.MemorySegment;

import org.odconv.Device;
import org.odconv.DeviceUnavailableException;
import org.odconv.NativeException;
import org.odconv.bindings.odconv_h;

/** Turns native statuses into Java exceptions, and reads the library's static strings. */
public final class NativeCalls {
    private NativeCalls() {}

    /**
     * Throws for a non-zero status: {@link IllegalArgumentException} for invalid arguments, else
     * {@link NativeException}; both carry the native last-error message. Must run on the thread that made
     * the call, right after it, since the message is thread-local.
     */
    public static void check(int status, String call) {
        if (status == odconv_h.ODCONV_STATUS_SUCCESS()) return;
        String message = cString(odconv_h.odconv_last_error_message());
        if (status == odconv_h.ODCONV_STATUS_INVALID_ARGUMENT()) throw new IllegalArgumentException(message);
        throw new NativeException(NativeException.Status.of(status), cString(odconv_h.odconv_status_string(status)),
                call, message);
    }

    /**
     * As {@link #check(int, String)} for a call concerning {@code device}: "device unavailable" (the CUDA
     * backend, driver or cuDNN cannot be used) throws {@link DeviceUnavailableException}. Other failures on
     * a usable GPU, such as a shape cuDNN cannot run ("unsupported"), stay {@link NativeException}s.
     */
    public static void check(int status, String call, Device device) {
        if (status == odconv_h.ODCONV_STATUS_DEVICE_UNAVAILABLE()) {
            String message = cString(odconv_h.odconv_last_error_message());
            throw new DeviceUnavailableException(device, call + " failed on " + device + " ("
                    + cString(odconv_h.odconv_status_string(status)) + "): " + message);
        }
        check(status, call);
    }

    /** A NUL-terminated string the library owns; "" for NULL. */
    public static String cString(MemorySegment pointer) {
        if (pointer.equals(MemorySegment.NULL)) return "";
        return pointer.reinterpret(Long.MAX_VALUE).getString(0);
    }
}
