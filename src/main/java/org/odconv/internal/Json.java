package org.odconv.internal;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.ObjectMapper;

/** The one JSON reader and writer of odconv's files: a key given twice is an error, not a silent overwrite. */
public final class Json {
    private Json() {}

    /** Thread-safe once configured, as Jackson's ObjectMapper is. */
    public static final ObjectMapper MAPPER = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
}
