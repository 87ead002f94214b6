package org.odconv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import org.odconv.io.DType;

/** F16 and BF16 tensor data (little-endian, as safetensors stores it) converted to F32. */
final class HalfPrecision {
    private static final ValueLayout.OfShort LITTLE_ENDIAN_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private HalfPrecision() {}

    /** A new F32 segment in {@code arena} holding the converted values; exact (both widen losslessly). */
    static MemorySegment toFloat32(MemorySegment halves, DType dtype, Arena arena) {
        long count = halves.byteSize() / 2;
        MemorySegment floats = arena.allocate(count * Float.BYTES, 64);
        for (long i = 0; i < count; i++) {
            short bits = halves.getAtIndex(LITTLE_ENDIAN_SHORT, i);
            float value = switch (dtype) {
                case F16 -> Float.float16ToFloat(bits);
                case BF16 -> Float.intBitsToFloat((bits & 0xFFFF) << 16);
                default -> throw new IllegalArgumentException(dtype + " is not a half-precision type");
            };
            floats.setAtIndex(ValueLayout.JAVA_FLOAT, i, value);
        }
        return floats;
    }
}
