package org.odconv.examples.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The job's command line, which spark-submit passes through after the jar. */
class OptionsTest {
    @Test
    void parsesEveryOptionAndDefaultsTheRest() {
        ScoringJob.Options all = ScoringJob.Options.parse("--model", "m.onnx", "--input", "in", "--output", "out",
                "--batch-size", "16", "--input-column", "pixels", "--input-shape", "3,640,640",
                "--input-type", "uint8");
        assertEquals("m.onnx", all.model());
        assertEquals("in", all.input());
        assertEquals("out", all.output());
        assertEquals(16, all.batchSize());
        assertEquals("pixels", all.inputColumn());
        assertArrayEquals(new long[] {3, 640, 640}, all.inputShape());
        assertEquals(ElementType.UINT8, all.inputType());

        ScoringJob.Options least = ScoringJob.Options.parse("--model", "m.onnx", "--input", "in", "--output", "out");
        assertEquals(8, least.batchSize());
        assertEquals("input", least.inputColumn());
        assertNull(least.inputShape());
        assertNull(least.inputType());
    }

    @Test
    void refusesWhatItCannotUseSayingWhy() {
        assertEquals("--output is required", message("--model", "m.onnx", "--input", "in"));
        assertEquals("unknown option --threads; the options are [--model, --input, --output, --batch-size, "
                + "--input-column, --input-shape, --input-type]", message("--threads", "2"));
        assertEquals("--batch-size needs a value", message("--model", "m", "--batch-size"));
        assertEquals("--batch-size 0 must be at least 1",
                message("--model", "m", "--input", "i", "--output", "o", "--batch-size", "0"));
        assertEquals("--batch-size: eight is not a whole number",
                message("--model", "m", "--input", "i", "--output", "o", "--batch-size", "eight"));
        assertEquals("--input-shape:  is not a whole number",
                message("--model", "m", "--input", "i", "--output", "o", "--input-shape", "3,,64"));
        assertEquals("unknown element type float16; known: [float32, uint8]",
                message("--model", "m", "--input", "i", "--output", "o", "--input-type", "float16"));
    }

    private static String message(String... args) {
        return assertThrows(IllegalArgumentException.class, () -> ScoringJob.Options.parse(args)).getMessage();
    }
}
