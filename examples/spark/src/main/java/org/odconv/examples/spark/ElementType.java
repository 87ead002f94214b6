package org.odconv.examples.spark;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Locale;

/**
 * What a tensor column's bytes hold, per element. Networks take float32; {@link #UINT8} pixels become
 * {@code pixel / 255f} on the way in, the scaling YOLO-style detectors are trained with (normalize otherwise
 * inside the exported network). Images stored as bytes read four times less than as floats.
 */
public enum ElementType {
    /** IEEE 754 single precision, little-endian. */
    FLOAT32(Float.BYTES),
    /** Unsigned bytes, 0-255, divided by 255 for the network. */
    UINT8(1);

    private final int bytes;

    ElementType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** The name in column metadata and on the command line: {@code float32}, {@code uint8}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The type named {@code label}. */
    public static ElementType of(String label) {
        for (ElementType type : values()) {
            if (type.label().equals(label)) return type;
        }
        throw new IllegalArgumentException("unknown element type " + label + "; known: "
                + Arrays.stream(values()).map(ElementType::label).toList());
    }

    /** Appends one sample's elements to a batch of floats. */
    void appendTo(FloatBuffer batch, byte[] sample) {
        switch (this) {
            case FLOAT32 -> batch.put(ByteBuffer.wrap(sample).order(TensorColumns.ORDER).asFloatBuffer());
            case UINT8 -> {
                for (byte pixel : sample) batch.put((pixel & 0xFF) / 255f);
            }
        }
    }
}
