package org.odconv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The standard shapes as the resource lists them (the Python benchmarks read the same file), and bad lines. */
class BenchmarkShapeTest {
    @Test
    void standardShapesComeFromTheResource() {
        assertEquals(List.of("S1", "S2", "S3", "S4", "S5"),
                BenchmarkShape.STANDARD.stream().map(BenchmarkShape::name).toList());
        // S2 and S5, field by field: the bank of four kernels, and the depthwise layer
        assertEquals(new BenchmarkShape("S2", 128, 128, 3, 1, 1, 28, 4), BenchmarkShape.standard("s2"));
        assertEquals(new BenchmarkShape("S5", 144, 144, 3, 1, 144, 56, 1), BenchmarkShape.standard("S5"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BenchmarkShape.standard("S6"));
        assertEquals("unknown shape \"S6\"; standard shapes are S1..S5 or all", e.getMessage());
    }

    @Test
    void commentsAndBlankLinesAreSkipped() {
        assertEquals(List.of(new BenchmarkShape("T1", 8, 16, 1, 1, 1, 7, 2)),
                BenchmarkShape.parseStandard(List.of("# a comment", "", "  T1  8 16 1 1 1 7 2  ")));
    }

    @Test
    void aBadLineIsNamedWithItsNumber() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BenchmarkShape.parseStandard(List.of("# header", "T1 8 16 1 1 1 7")));
        assertEquals("standard-shapes.txt line 2 \"T1 8 16 1 1 1 7\": expected 8 fields, found 7", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> BenchmarkShape.parseStandard(List.of("T1 8 16 x 1 1 7 2")));
        assertEquals("standard-shapes.txt line 1 \"T1 8 16 x 1 1 7 2\": shape \"8,16,x,1,1,7,2\": \"x\" is not an integer",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> BenchmarkShape.parseStandard(List.of("T1 8 16 3 1 3 7 2")));  // 3 groups do not divide 8 channels
        assertEquals(true, e.getMessage().startsWith("standard-shapes.txt line 1 \"T1 8 16 3 1 3 7 2\": "), e.getMessage());
    }
}
