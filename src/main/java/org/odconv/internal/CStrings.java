package org.odconv.internal;

import java.lang.foreign.MemorySegment;

/** NUL-terminated strings the native library owns (status names, messages, descriptions). */
public final class CStrings {
    private CStrings() {}

    /** The string at {@code pointer}; "" for NULL. */
    public static String read(MemorySegment pointer) {
        if (pointer.equals(MemorySegment.NULL)) return "";
        return pointer.reinterpret(Long.MAX_VALUE).getString(0);
    }
}
