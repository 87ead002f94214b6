package org.odconv;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.EnumMap;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * The native path against the Java reference over many random configurations and sizes, from a fixed seed
 * (TestData.seed: -Dodconv.test.seed=N reruns one, =random draws a new one; printed either way).
 */
class RandomConfigurationTest {
    private static final int CONFIGURATIONS = Integer.getInteger("odconv.test.configurations", 1000);
    /** Each case is appended here before it runs, so that even a crash of the JVM leaves its description. */
    private static final Path LOG = Path.of("target", "random-configurations.log");

    @Test
    void nativeMatchesReferenceOnRandomConfigurations() {
        long seed = TestData.seed("RandomConfigurationTest");
        log(LOG, "seed " + seed, false);
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < CONFIGURATIONS; i++) {
            RandomCase c = RandomCase.draw(random, "seed " + seed + ", configuration " + i, 3);
            log(LOG, c.description(), true);
            try (Arena arena = Arena.ofConfined();
                 ODConv2d layer = ODConv2d.create(ODConv2dWeights.copyOf(c.config(), c.values(), arena));
                 Tensor nchw = Tensor.copyOf(c.input(), c.n(), c.config().inPlanes(), c.h(), c.w());
                 Tensor x = nchw.toLayout(c.layout());
                 Tensor y = layer.forward(x);
                 Tensor result = y.toLayout(Layout.NCHW)) {
                Comparison.assertClose(c.expected(), result.toArray(), c.description());
            }
        }
    }

    /**
     * One random layer, its parameters and an input.
     *
     * @param config      the layer
     * @param values      its parameters
     * @param input       NCHW values of [n, inPlanes, h, w]
     * @param n           batch
     * @param h           input height
     * @param w           input width
     * @param layout      the layout to run in
     * @param description everything above, for logs and failure messages
     */
    record RandomCase(ODConv2dConfig config, Map<Parameter, float[]> values, float[] input, int n, int h, int w,
            Layout layout, String description) {

        /** The Java reference's output, NCHW. */
        double[] expected() {
            return ReferenceODConv.forward(config, values, input, n, h, w);
        }

        /** Draws a case (odd sizes included), with a batch of 1 .. maxBatch. */
        static RandomCase draw(SplittableRandom random, String label, int maxBatch) {
            int groups = pick(random, 1, 1, 1, 2, 3, 4);
            boolean depthwise = random.nextInt(6) == 0;
            int inPlanes = depthwise ? groups * random.nextInt(1, 9) : groups * random.nextInt(1, 12);
            int outPlanes = depthwise ? inPlanes : groups * random.nextInt(1, 12);
            if (depthwise) groups = inPlanes;
            int kernelSize = pick(random, 1, 1, 2, 3, 3, 3, 4, 5);
            int dilation = random.nextInt(4) == 0 ? 2 : 1;
            ODConv2dConfig config = ODConv2dConfig.builder(inPlanes, outPlanes, kernelSize)
                    .stride(random.nextInt(1, 4))
                    .padding(random.nextInt(3) == 0 ? random.nextInt(0, Math.min(4, dilation * (kernelSize - 1) + 2))
                            : kernelSize / 2)
                    .dilation(dilation)
                    .groups(groups)
                    .kernelNum(random.nextInt(1, 5))
                    .reduction(pick(random, 0.0625, 0.25, 0.5, 1.0))
                    .minChannel(random.nextInt(1, 20))
                    .temperature((float) pick(random, 1.0, 1.0, 0.5, 3.0, 30.0))
                    .activation(Activation.values()[random.nextInt(3)])
                    .batchNorm(random.nextInt(4) != 0)
                    .bnEps((float) pick(random, 1e-5, 1e-3))
                    .attentionBnEps((float) pick(random, 1e-5, 1e-3))
                    .build();
            int receptive = dilation * (kernelSize - 1) + 1;
            int minimum = Math.max(1, receptive - 2 * config.padding());
            int n = random.nextInt(1, maxBatch + 1);
            int h = minimum + random.nextInt(0, 12);
            int w = minimum + random.nextInt(0, 12);

            Map<Parameter, float[]> values = new EnumMap<>(Parameter.class);
            for (Parameter p : Parameter.values()) {
                if (!p.isPresent(config)) continue;
                float[] v = new float[(int) p.elementCount(config)];
                boolean positive = p == Parameter.BN_VAR || p == Parameter.ATTENTION_BN_VAR;
                for (int i = 0; i < v.length; i++) {
                    v[i] = positive ? (float) random.nextDouble(0.2, 2.0) : (float) random.nextDouble(-1.0, 1.0);
                }
                values.put(p, v);
            }
            float[] input = new float[n * inPlanes * h * w];
            for (int i = 0; i < input.length; i++) input[i] = (float) random.nextDouble(-3.0, 3.0);

            Layout layout = random.nextBoolean() ? Layout.NCHW : Layout.NHWC;
            String description = label + ": " + config + " input " + n + "x" + inPlanes + "x" + h + "x" + w + " " + layout;
            return new RandomCase(config, values, input, n, h, w, layout, description);
        }
    }

    /** Writes a line to a log, appending or starting it afresh; written at once, so a JVM crash keeps it. */
    static void log(Path file, String line, boolean append) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, line + System.lineSeparator(), StandardOpenOption.CREATE,
                    append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int pick(SplittableRandom random, int... choices) {
        return choices[random.nextInt(choices.length)];
    }

    private static double pick(SplittableRandom random, double... choices) {
        return choices[random.nextInt(choices.length)];
    }
}
