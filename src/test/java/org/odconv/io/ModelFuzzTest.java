package org.odconv.io;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import com.code_intelligence.jazzer.junit.FuzzTest;

import org.odconv.ODConv2d;
import org.odconv.ODConv2dConfig;
import org.odconv.ODConvModel;
import org.odconv.Tensor;

/**
 * Coverage-guided fuzzing of the safetensors parser, the model loader and a forward through whatever loads.
 * Every input must end in a clean result or in {@link ModelFormatException} / {@link IllegalArgumentException}:
 * any other exception, or a crash of the JVM, is a finding. Plain test runs replay the seed corpus
 * (src/test/resources/org/odconv/io/ModelFuzzTestInputs/fuzzModelFile); JAZZER_FUZZ=1 fuzzes (CI: a minute).
 */
class ModelFuzzTest {
    /** Inputs above this many elements are not run: the fuzzer is after parsing bugs, not big convolutions. */
    private static final long MAX_FORWARD_ELEMENTS = 1 << 16;

    @FuzzTest(maxDuration = "60s")
    void fuzzModelFile(byte[] bytes) {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment file = arena.allocate(Math.max(1, bytes.length));
            MemorySegment.copy(bytes, 0, file, ValueLayout.JAVA_BYTE, 0, bytes.length);
            try (ODConvModel model = ODConvModel.from(SafeTensors.parse("fuzz", file.asSlice(0, bytes.length)))) {
                forwardOnce(model);
            } catch (ModelFormatException | IllegalArgumentException expected) {
                // a clean refusal
            }
        }
    }

    private static void forwardOnce(ODConvModel model) {
        ODConv2dConfig first = model.layers().getFirst().conv().config();
        long side = Math.max(1, (long) first.dilation() * (first.kernelSize() - 1) + 1 - 2L * first.padding());
        for (ODConvModel.Layer layer : model.layers()) {
            ODConv2dConfig c = layer.conv().config();
            side = Math.max(side, (long) c.dilation() * (c.kernelSize() - 1) + 1);  // enough for every later layer
        }
        if ((long) first.inPlanes() * side * side > MAX_FORWARD_ELEMENTS) return;
        try (Tensor input = Tensor.allocate(1, first.inPlanes(), side, side)) {
            try (Tensor output = model.forward(input)) {
                output.toArray();
            }
        } catch (IllegalArgumentException tooSmall) {
            // a later layer's input may still be too small after strides: refused cleanly
        }
    }
}
