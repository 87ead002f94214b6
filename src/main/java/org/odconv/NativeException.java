package org.odconv;

/**
 * The native library failed for a reason other than an invalid argument (which surfaces as
 * {@link IllegalArgumentException}): out of memory, a oneDNN error, an unsupported configuration.
 */
public final class NativeException extends OdconvException {
    private static final long serialVersionUID = 1L;
    /** The {@code odconv_status} value the native call returned (see {@link #status()}). */
    private final int status;

    /**
     * An exception for a failed native call, whose message reads "{@code call} failed ({@code statusName}):
     * {@code message}".
     *
     * @param status     the {@code odconv_status} value the call returned
     * @param statusName the status's name from {@code odconv_status_string}, e.g. "out of memory"
     * @param call       the native function that failed, e.g. {@code odconv_layer_create}
     * @param message    the library's last-error message for the calling thread
     */
    public NativeException(int status, String statusName, String call, String message) {
        super(call + " failed (" + statusName + "): " + message);
        this.status = status;
    }

    /** The {@code odconv_status} value the native call returned. */
    public int status() {
        return status;
    }
}
