package org.odconv;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Every device against the Java reference over many random configurations, batches of 1 to 5 and odd sizes,
 * from a fixed seed (TestData.seed: -Dodconv.test.seed=N reruns one, =random draws a new one; printed either
 * way). -Dodconv.test.configurations=N sets how many.
 */
class RandomConfigurationTest {
    private static final int CONFIGURATIONS = Integer.getInteger("odconv.test.configurations", 1000);
    private static final int MAX_BATCH = 5;

    @OnEachDevice
    void matchesReferenceOnRandomConfigurations(Device device) {
        long seed = TestData.seed("RandomConfigurationTest on " + device);
        // Each case is appended here before it runs, so that even a crash of the JVM leaves its description.
        Path log = Path.of("target", "random-configurations-" + device.toString().replace(':', '-') + ".log");
        log(log, "seed " + seed, false);
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < CONFIGURATIONS; i++) {
            RandomCase c = RandomCase.draw(random, "seed " + seed + ", configuration " + i);
            log(log, c.description(), true);
            try (Arena arena = Arena.ofConfined();
                 ODConv2d layer = ODConv2d.create(ODConv2dWeights.copyOf(c.config(), c.values(), arena), device);
                 Tensor nchw = Tensor.copyOf(c.input(), c.n(), c.config().inPlanes(), c.h(), c.w());
                 Tensor x = nchw.toLayout(c.layout());
                 Tensor y = TestDevices.forward(layer, x);
                 Tensor result = y.toLayout(Layout.NCHW)) {
                Comparison.assertClose(c.expected(), result.toArray(), c.description() + " on " + device);
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

        /** Draws a case: a random configuration, and an input of any size it takes, down to the smallest. */
        static RandomCase draw(SplittableRandom random, String label) {
            ODConv2dConfig config = TestData.configuration(random);
            int receptive = config.dilation() * (config.kernelSize() - 1) + 1;
            int minimum = Math.max(1, receptive - 2 * config.padding());
            int n = random.nextInt(1, MAX_BATCH + 1);
            int h = minimum + random.nextInt(0, 12);
            int w = minimum + random.nextInt(0, 12);
            Map<Parameter, float[]> values = TestData.parameters(config, random);
            float[] input = TestData.values(n * config.inPlanes() * h * w, random);
            Layout layout = random.nextBoolean() ? Layout.NCHW : Layout.NHWC;
            String description = label + ": " + config + " input " + n + "x" + config.inPlanes() + "x" + h + "x" + w
                    + " " + layout;
            return new RandomCase(config, values, input, n, h, w, layout, description);
        }
    }

    /** Writes a line to a log, appending or starting it afresh; written at once, so a JVM crash keeps it. */
    private static void log(Path file, String line, boolean append) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, line + System.lineSeparator(), StandardOpenOption.CREATE,
                    append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
