package org.odconv;

/** Base of the unchecked exceptions this library throws besides {@link IllegalArgumentException} and
 * {@link IllegalStateException}. */
public class OdconvException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public OdconvException(String message) {
        super(message);
    }

    public OdconvException(String message, Throwable cause) {
        super(message, cause);
    }
}
