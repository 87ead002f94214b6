package org.odconv;

import java.lang.foreign.Arena;
import java.util.EnumMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Seeded random layers, parameters and inputs, for every test that needs numbers but no particular ones: one
 * generator of each, so that all tests draw from the same distributions.
 */
final class TestData {
    /** The random tests' seed unless -Dodconv.test.seed says otherwise: every run tests the same cases. */
    static final long DEFAULT_SEED = 20261129L;

    /**
     * The seed for a random test: {@value #DEFAULT_SEED} by default, {@code -Dodconv.test.seed=N} to rerun one,
     * {@code -Dodconv.test.seed=random} for a new one each run. Printed either way.
     */
    static long seed(String test) {
        String asked = System.getProperty("odconv.test.seed");
        long seed = asked == null ? DEFAULT_SEED : asked.equals("random") ? System.nanoTime() : Long.parseLong(asked);
        System.out.println(test + " seed = " + seed + " (rerun: -Dodconv.test.seed=" + seed + ")");
        return seed;
    }

    private TestData() {}

    /** {@link #parameters(ODConv2dConfig, SplittableRandom)} from a seed of its own. */
    static Map<Parameter, float[]> parameters(ODConv2dConfig config, long seed) {
        return parameters(config, new SplittableRandom(seed));
    }

    /**
     * Every parameter the configuration has: uniform in [-1, 1), but the BatchNorm variances, which must be
     * positive, in [0.2, 2).
     */
    static Map<Parameter, float[]> parameters(ODConv2dConfig config, SplittableRandom random) {
        Map<Parameter, float[]> values = new EnumMap<>(Parameter.class);
        for (Parameter p : Parameter.values()) {
            if (!p.isPresent(config)) continue;
            float[] v = new float[(int) p.elementCount(config)];
            boolean variance = p == Parameter.BN_VAR || p == Parameter.ATTENTION_BN_VAR;
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (variance ? random.nextDouble(0.2, 2.0) : random.nextDouble(-1.0, 1.0));
            }
            values.put(p, v);
        }
        return values;
    }

    /** {@link #parameters(ODConv2dConfig, long)} copied into {@code arena}, ready for ODConv2d.create. */
    static ODConv2dWeights weights(ODConv2dConfig config, long seed, Arena arena) {
        return ODConv2dWeights.copyOf(config, parameters(config, seed), arena);
    }

    /** {@code count} values uniform in [-2, 2), from a seed of their own. */
    static float[] values(int count, long seed) {
        return values(count, new SplittableRandom(seed));
    }

    /** {@code count} values uniform in [-2, 2). */
    static float[] values(int count, SplittableRandom random) {
        float[] v = new float[count];
        for (int i = 0; i < v.length; i++) v[i] = (float) random.nextDouble(-2.0, 2.0);
        return v;
    }

    /** A host tensor [n, c, h, w] (NCHW) of {@link #values(int, long)}. */
    static Tensor tensor(long seed, int n, int c, int h, int w) {
        return Tensor.copyOf(values(n * c * h * w, seed), n, c, h, w);
    }

    /**
     * A random layer configuration: any groups (depthwise included), kernel, stride, padding, dilation, kernel
     * count, reduction, temperature, activation and BatchNorm, with sizes kept small (at most 44 channels).
     */
    static ODConv2dConfig configuration(SplittableRandom random) {
        int groups = pick(random, 1, 1, 1, 2, 3, 4);
        boolean depthwise = random.nextInt(6) == 0;
        int inPlanes = depthwise ? groups * random.nextInt(1, 9) : groups * random.nextInt(1, 12);
        int outPlanes = depthwise ? inPlanes : groups * random.nextInt(1, 12);
        if (depthwise) groups = inPlanes;
        int kernelSize = pick(random, 1, 1, 2, 3, 3, 3, 4, 5);
        int dilation = random.nextInt(4) == 0 ? 2 : 1;
        return ODConv2dConfig.builder(inPlanes, outPlanes, kernelSize)
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
    }

    private static int pick(SplittableRandom random, int... choices) {
        return choices[random.nextInt(choices.length)];
    }

    private static double pick(SplittableRandom random, double... choices) {
        return choices[random.nextInt(choices.length)];
    }
}
