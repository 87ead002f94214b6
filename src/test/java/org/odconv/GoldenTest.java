package org.odconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import org.odconv.io.SafeTensors;

/** Every device, and the Java reference, against outputs PyTorch computed with the seed module. */
class GoldenTest {
    static List<Path> cases() throws IOException {
        return GoldenFiles.cases();
    }

    /** The fixtures' own configurations, read from their files, cover every dimension the layer has. */
    @Test
    void everyDimensionHasACase() throws IOException {
        Set<String> covered = new TreeSet<>();
        for (Path dir : cases()) {
            try (ODConvModel model = ODConvModel.load(dir.resolve("model.safetensors"))) {
                for (ODConvModel.Layer layer : model.layers()) {
                    ODConv2dConfig c = layer.conv().config();
                    covered.add("kernel " + c.kernelSize());
                    covered.add("kernel_num " + c.kernelNum());
                    covered.add("activation " + c.activation());
                    covered.add(c.batchNorm() ? "batch norm" : "no batch norm");
                    if (c.stride() > 1) covered.add("stride > 1");
                    if (c.dilation() > 1) covered.add("dilation > 1");
                    if (c.padding() != c.kernelSize() / 2) covered.add("padding other than k / 2");
                    if (c.isDepthwise()) covered.add("depthwise");
                    else if (c.groups() > 1) covered.add("groups");
                    if (c.temperature() != 1) covered.add("temperature != 1");
                }
                if (model.layers().size() > 1) covered.add("chain");
            }
        }
        Set<String> required = new TreeSet<>(List.of("kernel 1", "kernel 3", "kernel 5", "kernel_num 1", "kernel_num 2",
                "kernel_num 3", "kernel_num 4", "activation SILU", "activation RELU", "activation IDENTITY", "batch norm",
                "no batch norm", "stride > 1", "dilation > 1", "padding other than k / 2", "depthwise", "groups",
                "temperature != 1", "chain"));
        required.removeAll(covered);
        assertTrue(required.isEmpty(), "no golden case has " + required + "; covered: " + covered);
    }

    static Stream<Arguments> casesOnEachDevice() throws IOException {
        return TestDevices.crossedWith(cases());
    }

    /** Every case on every device, in both layouts; on the CPU with the default thread count and with one. */
    @ParameterizedTest
    @MethodSource("casesOnEachDevice")
    @Tag(TestDevices.TAG)
    void forwardMatchesPyTorch(Device device, Path dir) {
        int[] threadCounts = device.isCuda() ? new int[] {0} : new int[] {0, 1};
        for (int threads : threadCounts) {
            for (Layout layout : Layout.values()) {
                try (ODConvModel model = ODConvModel.load(dir.resolve("model.safetensors"), LayerOptions.DEFAULT.onDevice(device));
                     SafeTensors input = SafeTensors.open(dir.resolve("input.safetensors"));
                     SafeTensors expected = SafeTensors.open(dir.resolve("expected.safetensors"));
                     Tensor x = Tensor.from(input, "input").toLayout(layout)) {
                    model.setNumThreads(threads);
                    Tensor want = Tensor.from(expected, "output");
                    try (Tensor y = TestDevices.forward(model, x); Tensor got = y.toLayout(Layout.NCHW)) {
                        assertEquals(layout, y.layout(), dir + ": output layout");
                        assertArrayEquals(want.shape(), got.shape(), dir + ": output shape");
                        Comparison.assertClose(Comparison.toDouble(want.toArray()), got.toArray(),
                                dir.getFileName() + " (" + device + ", threads " + threads + ", " + layout + ")");
                    }
                }
            }
        }
    }

    /** Keeps the reference honest: it must reproduce PyTorch before it may judge the native path. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void javaReferenceMatchesPyTorch(Path dir) {
        try (ODConvModel model = ODConvModel.load(dir.resolve("model.safetensors"));
             SafeTensors file = SafeTensors.open(dir.resolve("model.safetensors"));
             SafeTensors input = SafeTensors.open(dir.resolve("input.safetensors"));
             SafeTensors expected = SafeTensors.open(dir.resolve("expected.safetensors"))) {
            Tensor x = Tensor.from(input, "input");
            float[] activations = x.toArray();
            int n = (int) x.batch(), h = (int) x.height(), w = (int) x.width();
            for (ODConvModel.Layer layer : model.layers()) {
                ODConv2dConfig config = layer.conv().config();
                double[] out = ReferenceODConv.forward(config, GoldenFiles.parameters(file, layer.name(), config),
                        activations, n, h, w);
                h = ReferenceODConv.outputExtent(config, h);
                w = ReferenceODConv.outputExtent(config, w);
                activations = new float[out.length];
                for (int i = 0; i < out.length; i++) activations[i] = (float) out[i];
            }
            Comparison.assertClose(Comparison.toDouble(Tensor.from(expected, "output").toArray()), activations,
                    dir.getFileName() + " (Java reference)");
        }
    }
}
