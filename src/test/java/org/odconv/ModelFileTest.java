package org.odconv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.node.ObjectNode;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.odconv.io.ModelFormatException;
import org.odconv.io.SafeTensorsFiles;

/** Loading model files: what they hold, and every refusal naming the file, layer, tensor or field. */
class ModelFileTest {
    private static final Path CHAIN = GoldenFiles.root().resolve("chain3/model.safetensors");

    @TempDir
    Path dir;

    private String refusal(Consumer<ObjectNode> edit) throws IOException {
        Path file = SafeTensorsFiles.rewrite(CHAIN, dir.resolve("edited.safetensors"), edit);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ODConvModel.load(file).close());
        assertEquals(file.toString(), e.source());
        return e.getMessage().substring(file.toString().length() + 2);
    }

    @Test
    void loadsLayersInOrderWithTheirConfigs() {
        try (ODConvModel model = ODConvModel.load(CHAIN)) {
            List<String> names = model.layers().stream().map(ODConvModel.Layer::name).toList();
            assertEquals(List.of("model.0", "model.1", "model.2"), names);
            ODConv2dConfig depthwise = model.layer("model.1").config();
            assertEquals(32, depthwise.groups());
            assertEquals(2, depthwise.stride());
            assertEquals(Activation.RELU, model.layer("model.2").config().activation());
            var e = assertThrows(IllegalArgumentException.class, () -> model.layer("model.9"));
            assertTrue(e.getMessage().contains("layers: [model.0, model.1, model.2]"), e.getMessage());
        }
    }

    @Test
    void layersNeedNotChainButAChainRunOnlyWhenItFits() throws IOException {
        // basic_k3's model.0 (16 -> 32) followed by groups4_odd's (20 -> 28) as model.1: as in a network
        // with another layer between them
        Path file = SafeTensorsFiles.merge(GoldenFiles.root().resolve("basic_k3/model.safetensors"),
                GoldenFiles.root().resolve("groups4_odd/model.safetensors"), "model.0", "model.1",
                dir.resolve("unchained.safetensors"));
        Path golden = GoldenFiles.root().resolve("groups4_odd");
        try (ODConvModel model = ODConvModel.load(file);
             org.odconv.io.SafeTensors input = org.odconv.io.SafeTensors.open(golden.resolve("input.safetensors"));
             org.odconv.io.SafeTensors expected = org.odconv.io.SafeTensors.open(golden.resolve("expected.safetensors"));
             Tensor out = model.layer("model.1").forward(Tensor.from(input, "input"))) {
            Comparison.assertClose(Comparison.toDouble(Tensor.from(expected, "output").toArray()), out.toArray(), "model.1");
            var e = assertThrows(IllegalArgumentException.class, () -> model.checkInput(1, 16, 9, 9));
            assertEquals("input [1, 16, 9, 9] does not fit layer \"model.1\": its input has 32 channels, expected"
                    + " in_planes = 20", e.getMessage());
        }
    }

    @Test
    void misalignedTensorsAreCopiedNotReadMisaligned() throws IOException {
        // A header one byte longer than the reference writer's puts every tensor at an odd address.
        Path padded = SafeTensorsFiles.rewrite(CHAIN, dir.resolve("odd.safetensors"), h -> { });
        byte[] bytes = java.nio.file.Files.readAllBytes(padded);
        long length = java.nio.ByteBuffer.wrap(bytes, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(bytes, 8, (int) length, java.nio.charset.StandardCharsets.UTF_8);
        Path odd = SafeTensorsFiles.write(dir.resolve("odd.safetensors"), header + " ",
                java.util.Arrays.copyOfRange(bytes, 8 + (int) length, bytes.length));
        Path golden = GoldenFiles.root().resolve("chain3");
        try (ODConvModel model = ODConvModel.load(odd);
             org.odconv.io.SafeTensors input = org.odconv.io.SafeTensors.open(golden.resolve("input.safetensors"));
             org.odconv.io.SafeTensors expected = org.odconv.io.SafeTensors.open(golden.resolve("expected.safetensors"));
             Tensor out = model.forward(Tensor.from(input, "input"))) {
            assertTrue(model.layer("model.0").weights().get(Parameter.WEIGHT).address() % 4 == 0);
            Comparison.assertClose(Comparison.toDouble(Tensor.from(expected, "output").toArray()), out.toArray(), "odd file");
        }
    }

    @Test
    void refusesModelsThatDoNotMatchTheirMetadata() throws IOException {
        assertEquals("__metadata__ has no \"odconv\" entry; this is not an odconv model file",
                refusal(h -> h.remove("__metadata__")));
        assertEquals("tensor \"model.0.attention.spatial_fc.bias\" is missing",
                refusal(h -> h.set("unrelated.bias", h.remove("model.0.attention.spatial_fc.bias"))));
        assertTrue(refusal(h -> h.remove("model.0.attention.spatial_fc.bias"))
                .startsWith("tensor \"model.0.attention.kernel_fc.weight\" starts at data offset"));
        assertEquals("layer \"model.0\": field \"kernel_num\" is missing",
                refusal(SafeTensorsFiles.editLayer(0, l -> l.remove("kernel_num"))));
        assertEquals("layer \"model.0\": field \"stride\" = \"2\" is not a 32-bit integer",
                refusal(SafeTensorsFiles.editLayer(0, l -> l.put("stride", "2"))));
        assertTrue(refusal(SafeTensorsFiles.editLayer(0, l -> l.put("groups", 3)))
                .startsWith("layer \"model.0\": groups = 3 does not divide in_planes = 16"));
        // a 1.5 KB file made a 40001 x 40001 output of a 1 x 1 input (12.6 GB) with this
        String padded = refusal(SafeTensorsFiles.editLayer(0, l -> l.put("padding", 20000)));
        assertEquals("layer \"model.0\": padding = 20000 is wider than the dilated kernel (3 for kernel_size 3 and"
                + " dilation 1)", padded);
        assertEquals("layer \"model.0\": attention_bn_eps = -1 must be finite and > 0",
                refusal(SafeTensorsFiles.editLayer(0, l -> l.put("attention_bn_eps", -1.0))));
        assertTrue(refusal(SafeTensorsFiles.editLayer(2, l -> l.put("act", "gelu")))
                .startsWith("layer \"model.2\": unknown activation \"gelu\""));
        assertEquals("tensor \"model.0.weight\" has shape [2, 32, 16, 3, 3], layer \"model.0\" needs [3, 32, 16, 3, 3]",
                refusal(SafeTensorsFiles.editLayer(0, l -> l.put("kernel_num", 3))));
        assertTrue(refusal(SafeTensorsFiles.editLayer(0, l -> l.put("bn", false)))
                .startsWith("tensor \"model.0.bn.weight\" is not used by layer \"model.0\""));
        assertEquals("tensor \"model.2.weight\" is I32, expected F32, F16 or BF16",
                refusal(h -> ((ObjectNode) h.get("model.2.weight")).put("dtype", "I32")));
        assertEquals("odconv.format_version = 2 is not supported (expected 1)", refusal(h ->
                ((ObjectNode) h.get("__metadata__")).put("odconv", "{\"format_version\":2,\"layers\":[]}")));
    }
}
