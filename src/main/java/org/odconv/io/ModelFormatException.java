package org.odconv.io;

import org.odconv.OdconvException;

/**
 * A file is not a valid safetensors file, or not a valid odconv model or input. The message names the file
 * and the offending tensor or field with its value.
 */
public final class ModelFormatException extends OdconvException {
    private static final long serialVersionUID = 1L;
    private final String source;

    public ModelFormatException(String source, String detail) {
        super(source + ": " + detail);
        this.source = source;
    }

    public ModelFormatException(String source, String detail, Throwable cause) {
        super(source + ": " + detail, cause);
        this.source = source;
    }

    /** The file (or resource) the problem is in. */
    public String source() {
        return source;
    }
}
