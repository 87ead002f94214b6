package org.odconv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.function.IntUnaryOperator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.odconv.io.SafeTensors;
import org.odconv.io.SafeTensorsFiles;

/** Files as trained checkpoints come: OSVAI tensor names, F16 and BF16 weights. */
class CheckpointFormatsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** The golden seed-named file with the attention trunk renamed the OSVAI way. */
    @Test
    void osvaiNamesLoadAndMatchPyTorch() throws IOException {
        Path golden = GoldenFiles.root().resolve("osvai_nobn");
        Path renamed = SafeTensorsFiles.rewrite(golden.resolve("model.safetensors"), dir.resolve("osvai.safetensors"),
                header -> {
                    ObjectNode copy = header.deepCopy();
                    header.removeAll();
                    for (Iterator<Map.Entry<String, JsonNode>> it = copy.fields(); it.hasNext(); ) {
                        Map.Entry<String, JsonNode> e = it.next();
                        header.set(e.getKey().replace("attention.fc.conv.", "attention.fc.")
                                .replace("attention.fc.bn.", "attention.bn."), e.getValue());
                    }
                });
        try (ODConvModel model = ODConvModel.load(renamed);
             SafeTensors input = SafeTensors.open(golden.resolve("input.safetensors"));
             SafeTensors expected = SafeTensors.open(golden.resolve("expected.safetensors"));
             Tensor out = model.forward(Tensor.from(input, "input"))) {
            Comparison.assertClose(Comparison.toDouble(Tensor.from(expected, "output").toArray()), out.toArray(), "OSVAI names");
        }
    }

    @Test
    void float16WeightsLoadConvertedOnce() throws IOException {
        checkHalfPrecision("F16", bits -> Float.floatToFloat16(Float.intBitsToFloat(bits)) & 0xFFFF,
                half -> Float.float16ToFloat((short) half));
    }

    @Test
    void bfloat16WeightsLoadConvertedOnce() throws IOException {
        // round to nearest even on the upper 16 bits
        checkHalfPrecision("BF16", bits -> (bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16,
                half -> Float.intBitsToFloat(half << 16));
    }

    /**
     * Rewrites a golden model with every tensor in a 16-bit type, loads it, and checks the forward against
     * the Java reference run on the same rounded weights (so the tolerance stays the float32 one).
     */
    private void checkHalfPrecision(String dtype, IntUnaryOperator encode, java.util.function.IntFunction<Float> decode)
            throws IOException {
        Path golden = GoldenFiles.root().resolve("kn3");
        ODConv2dConfig config;
        Map<Parameter, float[]> rounded = new java.util.EnumMap<>(Parameter.class);
        byte[] data;
        ObjectNode header = JSON.createObjectNode();
        try (SafeTensors file = SafeTensors.open(golden.resolve("model.safetensors"));
             ODConvModel model = ODConvModel.from(SafeTensors.open(golden.resolve("model.safetensors")))) {
            config = model.layer("model.0").config();
            header.set("__metadata__", JSON.valueToTree(file.metadata()));
            ByteBuffer out = ByteBuffer.allocate((int) file.entries().values().stream()
                    .mapToLong(SafeTensors.Entry::elementCount).sum() * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (SafeTensors.Entry e : file.entries().values()) {
                float[] values = file.data(e).toArray(Tensor.ELEMENT);
                ObjectNode entry = header.putObject(e.name());
                entry.put("dtype", dtype);
                entry.set("shape", JSON.valueToTree(e.shape()));
                entry.putArray("data_offsets").add(out.position()).add(out.position() + 2L * values.length);
                float[] back = new float[values.length];
                for (int i = 0; i < values.length; i++) {
                    int half = encode.applyAsInt(Float.floatToRawIntBits(values[i]));
                    out.putShort((short) half);
                    back[i] = decode.apply(half);
                }
                for (Parameter p : Parameter.values()) {
                    if (e.name().equals("model.0." + p.stateDictName())) rounded.put(p, back);
                }
            }
            data = out.array();
        }
        Path file = SafeTensorsFiles.write(dir.resolve(dtype + ".safetensors"), pad(JSON.writeValueAsString(header)), data);
        try (ODConvModel model = ODConvModel.load(file);
             SafeTensors input = SafeTensors.open(golden.resolve("input.safetensors"));
             SafeTensors expected = SafeTensors.open(golden.resolve("expected.safetensors"));
             Tensor out = model.forward(Tensor.from(input, "input"))) {
            Tensor x = Tensor.from(input, "input");
            double[] reference = ReferenceODConv.forward(config, rounded, x.toArray(), (int) x.batch(), (int) x.height(),
                    (int) x.width());
            Comparison.assertClose(reference, out.toArray(), dtype + " weights");
            // and the rounding is real: the float32 model's output differs
            assertNotEquals(0.0, maxDifference(Tensor.from(expected, "output").toArray(), out.toArray()));
            assertEquals(config, model.layer("model.0").config());
        }
    }

    private static String pad(String header) {
        return header + " ".repeat((8 - header.length() % 8) % 8);
    }

    private static double maxDifference(float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
        return max;
    }
}
