package org.odconv.examples;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.Random;

import org.odconv.Layout;
import org.odconv.ODConv2d;
import org.odconv.ODConv2dConfig;
import org.odconv.ODConv2dWeights;
import org.odconv.ODConvModel;
import org.odconv.Odconv;
import org.odconv.Parameter;
import org.odconv.Tensor;
import org.odconv.io.SafeTensors;

/**
 * odconv in two steps: one layer built in code, then a model exported from PyTorch.
 *
 * <p>Run from the repository root with {@code ./mvnw -Pexample verify -DskipTests}; pass your own files with
 * {@code -Dexample.args="model.safetensors input.safetensors"} (the input file holds the F32 NCHW tensor
 * {@code input}, as {@code tools/export} and {@code tools/golden} write it).
 */
public final class QuickStart {
    private QuickStart() {}

    /**
     * @param args optional: a model file and an input file; default, a three-layer model from the test data
     */
    public static void main(String[] args) {
        System.out.println("odconv " + Odconv.version() + " on " + Odconv.backend());
        oneLayerBuiltInCode();
        Path model = Path.of(args.length > 0 ? args[0] : "src/test/resources/golden/chain3/model.safetensors");
        Path input = Path.of(args.length > 1 ? args[1] : "src/test/resources/golden/chain3/input.safetensors");
        modelFromPyTorch(model, input);
    }

    /** A 64 -> 64 channel, 3x3, four-kernel ODConv layer with random weights, run on an NHWC batch. */
    private static void oneLayerBuiltInCode() {
        ODConv2dConfig config = ODConv2dConfig.builder(64, 64, 3).kernelNum(4).build();  // the seed's defaults
        Random random = new Random(1);
        Map<Parameter, float[]> parameters = new EnumMap<>(Parameter.class);
        for (Parameter p : Parameter.values()) {
            if (!p.isPresent(config)) continue;  // e.g. no kernel head when kernelNum == 1
            float[] values = new float[(int) p.elementCount(config)];
            for (int i = 0; i < values.length; i++) {
                values[i] = p == Parameter.BN_VAR || p == Parameter.ATTENTION_BN_VAR ? 1f : random.nextFloat() - 0.5f;
            }
            parameters.put(p, values);
        }
        try (Arena weights = Arena.ofShared();  // must outlive the layer: the layer borrows, never copies
             ODConv2d layer = ODConv2d.create(ODConv2dWeights.copyOf(config, parameters, weights));
             Tensor input = Tensor.allocate(8, 64, 56, 56, Layout.NHWC);
             Tensor output = Tensor.allocate(8, 64, 56, 56, Layout.NHWC)) {
            layer.forward(input, output);  // the first call creates the primitives for this shape
            long start = System.nanoTime();
            for (int i = 0; i < 10; i++) layer.forward(input, output);  // steady state: no allocation
            System.out.printf("one layer, 64 -> 64 channels, 4 kernels: input %s -> output %s (NHWC), %.2f ms per"
                    + " forward%n", Arrays.toString(input.shape()), Arrays.toString(output.shape()),
                    (System.nanoTime() - start) / 1e7);
        }
    }

    /** Every layer of an exported model, memory-mapped; prints the output's shape and first values. */
    private static void modelFromPyTorch(Path modelFile, Path inputFile) {
        try (ODConvModel model = ODConvModel.load(modelFile);
             SafeTensors inputs = SafeTensors.open(inputFile)) {
            for (ODConvModel.Layer layer : model.layers()) {
                System.out.println("  " + layer.name() + ": " + layer.conv().config().inPlanes() + " -> "
                        + layer.conv().config().outPlanes() + " channels, kernel " + layer.conv().config().kernelSize()
                        + ", " + layer.conv().config().kernelNum() + " kernels");
            }
            Tensor input = Tensor.from(inputs, "input");  // a view of the file, not a copy
            try (Tensor output = model.forward(input)) {
                float[] values = output.toArray();
                double max = 0;
                for (float v : values) max = Math.max(max, Math.abs(v));
                System.out.printf("model %s: input %s -> output %s, max |value| %.4f%n", modelFile.getFileName(),
                        Arrays.toString(input.shape()), Arrays.toString(output.shape()), max);
            }
        }
    }
}
