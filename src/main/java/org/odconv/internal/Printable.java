package org.odconv.internal;

/**
 * Text from files (tensor and layer names, metadata) made safe to show: a file can name a tensor with terminal
 * escape sequences (retitling the terminal, clearing the screen) or with megabytes of characters. Control
 * characters and line separators become escapes, and an overlong text keeps its head and tail around a note of
 * what was left out, so that a message still names the file and says what is wrong.
 */
public final class Printable {
    /** The longest text shown whole, in characters after escaping. */
    public static final int MAX_LENGTH = 1000;
    private static final int TAIL = 200;

    private Printable() {}

    public static String of(String text) {
        if (text == null) return "null";
        if (text.length() <= MAX_LENGTH) {
            String escaped = escape(text);
            if (escaped.length() <= MAX_LENGTH) return escaped;
        }
        String head = escape(text.substring(0, Math.min(text.length(), MAX_LENGTH - TAIL)));
        String tail = escape(text.substring(Math.max(0, text.length() - TAIL)));
        head = head.substring(0, Math.min(head.length(), MAX_LENGTH - TAIL));
        tail = tail.substring(Math.max(0, tail.length() - TAIL));
        long omitted = Math.max(0, text.length() - (MAX_LENGTH - TAIL) - TAIL);
        return head + " ... (" + omitted + " more characters) ... " + tail;
    }

    private static String escape(String text) {
        StringBuilder escaped = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '\n' -> escaped.append("\\n");
                case '\r' -> escaped.append("\\r");
                case '\t' -> escaped.append("\\t");
                default -> {
                    if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c == '\u2028' || c == '\u2029') {
                        escaped.append(String.format("\\u%04x", (int) c));
                    } else {
                        escaped.append(c);
                    }
                }
            }
        }
        return escaped.toString();
    }
}
