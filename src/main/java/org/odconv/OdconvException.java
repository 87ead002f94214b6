package org.odconv;

/** Base of the unchecked exceptions this library throws besides {@link IllegalArgumentException} and
 * {@link IllegalStateException}. */
public class OdconvException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with a message and no cause.
     *
     * @param message what failed, naming the offending value
     */
    public OdconvException(String message) {
        super(message);
    }

    /**
     * An exception with a message and the failure that caused it.
     *
     * @param message what failed, naming the offending value
     * @param cause   the underlying failure (an I/O or linkage error, for example), or null
     */
    public OdconvException(String message, Throwable cause) {
        super(message, cause);
    }
}
