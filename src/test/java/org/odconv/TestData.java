package org.odconv;

import java.util.EnumMap;
import java.util.Map;
import java.util.Random;

/** Seeded random parameters and inputs for tests that need numbers but no particular ones. */
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

    /** Every parameter the configuration has, uniform in [0.5, 1.5) (so BatchNorm variances are positive). */
    static Map<Parameter, float[]> parameters(ODConv2dConfig config, long seed) {
        Random random = new Random(seed);
        Map<Parameter, float[]> values = new EnumMap<>(Parameter.class);
        for (Parameter p : Parameter.values()) {
            if (!p.isPresent(config)) continue;
            float[] v = new float[(int) p.elementCount(config)];
            for (int i = 0; i < v.length; i++) v[i] = 0.5f + random.nextFloat();
            values.put(p, v);
        }
        return values;
    }

    /** {@code count} values uniform in [-2, 2). */
    static float[] values(int count, long seed) {
        Random random = new Random(seed);
        float[] v = new float[count];
        for (int i = 0; i < v.length; i++) v[i] = random.nextFloat() * 4 - 2;
        return v;
    }
}
