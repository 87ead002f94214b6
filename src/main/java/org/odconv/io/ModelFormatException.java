package org.odconv.io;

import org.odconv.internal.Printable;

/**
 * A file is not a valid safetensors file, or not a valid odconv model or input. The message names the file
 * and the offending tensor or field with its value; what it quotes from the file is made printable
 * ({@link Printable}: control characters escaped, overlong text cut). Not an {@code OdconvException}: this package
 * reads files and knows nothing of layers, so the API's loaders document both.
 */
public final class ModelFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    /** The file (or resource) the problem is in (see {@link #source()}). */
    private final String source;

    /**
     * An exception whose message reads "{@code source}: {@code detail}".
     *
     * @param source the file (or resource) the problem is in, e.g. its path
     * @param detail what is wrong, naming the offending tensor or field and its value
     */
    public ModelFormatException(String source, String detail) {
        super(Printable.of(source + ": " + detail));
        this.source = source;
    }

    /**
     * An exception whose message reads "{@code source}: {@code detail}", with the failure that caused it.
     *
     * @param source the file (or resource) the problem is in, e.g. its path
     * @param detail what is wrong, naming the offending tensor or field and its value
     * @param cause  the underlying failure (an I/O, JSON or argument error, for example), or null
     */
    public ModelFormatException(String source, String detail, Throwable cause) {
        super(Printable.of(source + ": " + detail), cause);
        this.source = source;
    }

    /** The file (or resource) the problem is in. */
    public String source() {
        return source;
    }
}
