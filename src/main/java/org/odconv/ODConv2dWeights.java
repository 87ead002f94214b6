package org.odconv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

import org.odconv.io.SafeTensors;

/**
 * The parameter buffers of one layer: for each {@link Parameter} its configuration has, a native segment of
 * float32 values in native byte order. Views, not copies; a layer created from them copies what it needs
 * during {@code create} and never reads them again, so their memory (a file's mapping, an arena) may go as soon
 * as the layer exists. Creating a layer from weights whose arena is already closed throws
 * {@link IllegalStateException} instead of reading freed memory. Construction checks that exactly the
 * configuration's parameters are present, each with its exact size.
 */
public final class ODConv2dWeights {
    private final ODConv2dConfig config;
    private final Map<Parameter, MemorySegment> segments;
    private final SafeTensors source;

    private ODConv2dWeights(ODConv2dConfig config, Map<Parameter, MemorySegment> segments, SafeTensors source) {
        this.config = config;
        this.segments = segments;
        this.source = source;
    }

    /**
     * Views of a safetensors file's memory (no copy). Creating a layer from them holds a {@link SafeTensors.Lease}
     * on the file for the call, so another thread closing the file meanwhile defers the unmap until the copy is
     * made.
     */
    public static ODConv2dWeights of(ODConv2dConfig config, Map<Parameter, MemorySegment> segments, SafeTensors source) {
        if (source == null) throw new IllegalArgumentException("source is null");
        return new ODConv2dWeights(config, of(config, segments).segments, source);
    }

    /**
     * Wraps existing segments (no copy).
     *
     * @throws IllegalArgumentException naming the parameter when one is missing, unexpected, not native or of
     *                                  the wrong size
     */
    public static ODConv2dWeights of(ODConv2dConfig config, Map<Parameter, MemorySegment> segments) {
        EnumMap<Parameter, MemorySegment> checked = new EnumMap<>(Parameter.class);
        for (Parameter p : Parameter.values()) {
            MemorySegment segment = segments.get(p);
            long[] shape = p.shapeOrNone(config);
            boolean expected = shape.length > 0;
            if (expected && segment == null) {
                throw new IllegalArgumentException("parameter " + p.stateDictName() + " is missing");
            }
            if (!expected && segment != null) {
                throw new IllegalArgumentException("parameter " + p.stateDictName() + " is given but " + config
                        + " has no such parameter");
            }
            if (segment == null) continue;
            if (!segment.isNative()) {
                throw new IllegalArgumentException("parameter " + p.stateDictName() + " is not in native memory");
            }
            long bytes = Float.BYTES;
            for (long d : shape) bytes *= d;
            if (segment.byteSize() != bytes) {
                throw new IllegalArgumentException("parameter " + p.stateDictName() + " has " + segment.byteSize()
                        + " bytes, expected " + bytes + " (float32 " + java.util.Arrays.toString(shape) + ")");
            }
            checked.put(p, segment);
        }
        return new ODConv2dWeights(config, Collections.unmodifiableMap(checked), null);
    }

    /** Copies arrays into memory of {@code arena} (which must outlive any layer made from the result). */
    public static ODConv2dWeights copyOf(ODConv2dConfig config, Map<Parameter, float[]> values, Arena arena) {
        EnumMap<Parameter, MemorySegment> segments = new EnumMap<>(Parameter.class);
        values.forEach((p, array) -> {
            MemorySegment segment = arena.allocate((long) array.length * Float.BYTES, 64);
            MemorySegment.copy(array, 0, segment, Tensor.ELEMENT, 0, array.length);
            segments.put(p, segment);
        });
        return of(config, segments);
    }

    /** The configuration these weights were checked against. */
    public ODConv2dConfig config() {
        return config;
    }

    /** The segment of a parameter, or null when the configuration has none. */
    public MemorySegment get(Parameter parameter) {
        return segments.get(parameter);
    }

    /** The file these weights are views of, or null when they are not a file's. */
    public SafeTensors source() {
        return source;
    }

    /** Every present parameter and its segment, in {@link Parameter} order. */
    public Map<Parameter, MemorySegment> segments() {
        return segments;
    }
}
