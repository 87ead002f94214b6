package org.odconv.internal;

/**
 * odconv's one logger, through {@link System.Logger} so that it needs no logging library and reaches whatever the
 * host routes the JDK's logging to. Quiet by default: what happens normally is DEBUG, only a refused native folder
 * is a WARNING.
 */
public final class Logging {
    /** Named "org.odconv". */
    public static final System.Logger LOGGER = System.getLogger("org.odconv");

    private Logging() {}
}
