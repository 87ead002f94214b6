package org.odconv.internal;

/**
 * The native library cannot be found, extracted or loaded, or is another version. The API reports it as an
 * {@code OdconvException} with the same message; this type keeps this package free of the API's types.
 */
public final class NativeLoadException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    NativeLoadException(String message) {
        super(message);
    }

    NativeLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
