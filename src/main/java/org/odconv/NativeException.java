package org.odconv;

import org.odconv.bindings.odconv_h;

/**
 * The native library failed for a reason other than an invalid argument (which surfaces as
 * {@link IllegalArgumentException}): out of memory, a oneDNN or cuDNN error, an unsupported configuration.
 */
public final class NativeException extends OdconvException {
    private static final long serialVersionUID = 1L;

    /** The {@code odconv_status} values a failed call can return, each bound to its value in {@code odconv.h}. */
    public enum Status {
        INVALID_ARGUMENT,
        OUT_OF_MEMORY,
        /** The configuration is valid but this build or backend cannot run it. */
        UNSUPPORTED,
        /** oneDNN or cuDNN reported an error. */
        BACKEND_ERROR,
        /** A bug in odconv. */
        INTERNAL_ERROR,
        /** The device's backend library, driver or runtime is missing (see {@link DeviceUnavailableException}). */
        DEVICE_UNAVAILABLE,
        /** A value this version of the Java code does not know (a newer library). */
        UNKNOWN;

        /** The {@code odconv_status} value, as odconv.h defines it; {@link Integer#MIN_VALUE} for UNKNOWN. */
        public int nativeValue() {
            return switch (this) {
                case INVALID_ARGUMENT -> odconv_h.ODCONV_STATUS_INVALID_ARGUMENT();
                case OUT_OF_MEMORY -> odconv_h.ODCONV_STATUS_OUT_OF_MEMORY();
                case UNSUPPORTED -> odconv_h.ODCONV_STATUS_UNSUPPORTED();
                case BACKEND_ERROR -> odconv_h.ODCONV_STATUS_BACKEND_ERROR();
                case INTERNAL_ERROR -> odconv_h.ODCONV_STATUS_INTERNAL_ERROR();
                case DEVICE_UNAVAILABLE -> odconv_h.ODCONV_STATUS_DEVICE_UNAVAILABLE();
                case UNKNOWN -> Integer.MIN_VALUE;
            };
        }

        /** The constant for a native value; {@link #UNKNOWN} for one this code does not know. */
        public static Status of(int nativeValue) {
            for (Status s : values()) {
                if (s != UNKNOWN && s.nativeValue() == nativeValue) return s;
            }
            return UNKNOWN;
        }
    }

    private final Status status;

    /**
     * An exception for a failed native call, whose message reads "{@code call} failed ({@code statusName}):
     * {@code message}".
     *
     * @param status     what the call returned
     * @param statusName the status's name from {@code odconv_status_string}, e.g. "out of memory"
     * @param call       the native function that failed, e.g. {@code odconv_layer_create}
     * @param message    the library's last-error message for the calling thread
     */
    public NativeException(Status status, String statusName, String call, String message) {
        super(call + " failed (" + statusName + "): " + message);
        this.status = status;
    }

    /** What the native call returned. */
    public Status status() {
        return status;
    }
}
