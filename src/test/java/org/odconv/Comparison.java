package org.odconv;

import static org.junit.jupiter.api.Assertions.fail;

/** The project's accuracy bound: max |actual - expected| <= 1e-4 * max(1, max |expected|). */
public final class Comparison {
    static final double RELATIVE_TOLERANCE = 1e-4;

    private Comparison() {}

    public static void assertClose(double[] expected, float[] actual, String what) {
        if (expected.length != actual.length) {
            fail(what + ": " + actual.length + " elements, expected " + expected.length);
        }
        double scale = 1;
        for (double e : expected) scale = Math.max(scale, Math.abs(e));
        double tolerance = RELATIVE_TOLERANCE * scale;
        double worst = 0;
        int worstIndex = -1;
        for (int i = 0; i < expected.length; i++) {
            double error = Math.abs(actual[i] - expected[i]);
            if (!(error <= worst)) {  // NaN sorts as worst
                worst = Double.isNaN(error) ? Double.POSITIVE_INFINITY : error;
                worstIndex = i;
            }
        }
        if (worst > tolerance) {
            fail(String.format("%s: max error %.3g at element %d (got %s, expected %s) exceeds %.3g", what, worst,
                    worstIndex, actual[worstIndex], expected[worstIndex], tolerance));
        }
    }

    public static double[] toDouble(float[] values) {
        double[] d = new double[values.length];
        for (int i = 0; i < values.length; i++) d[i] = values[i];
        return d;
    }
}
