package org.odconv;

/**
 * The native library failed for a reason other than an invalid argument (which surfaces as
 * {@link IllegalArgumentException}): out of memory, a oneDNN error, an unsupported configuration.
 */
public final class NativeException extends OdconvException {
    private static final long serialVersionUID = 1L;
    private final int status;

    public NativeException(int status, String statusName, String call, String message) {
        super(call + " failed (" + statusName + "): " + message);
        this.status = status;
    }

    /** The {@code odconv_status} value the native call returned. */
    public int status() {
        return status;
    }
}
