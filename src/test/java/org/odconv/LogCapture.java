package org.odconv;

import java.text.MessageFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * What odconv logs (its System.Logger "org.odconv", which the JDK routes to java.util.logging here) while this is
 * open, DEBUG included, as "LEVEL message" lines; closing restores the logger's level.
 */
public final class LogCapture implements AutoCloseable {
    private final Logger logger = Logger.getLogger("org.odconv");
    private final Level level = logger.getLevel();
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord record) {
            lines.add(record.getLevel() + " " + MessageFormat.format(record.getMessage(), record.getParameters()));
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };

    public LogCapture() {
        logger.setLevel(Level.FINE);
        logger.addHandler(handler);
    }

    /** The lines logged so far, in order. */
    public List<String> lines() {
        return List.copyOf(lines);
    }

    @Override
    public void close() {
        logger.removeHandler(handler);
        logger.setLevel(level);
    }
}
