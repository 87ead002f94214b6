package org.odconv;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The project's accuracy bounds: max |actual - expected| <= bound * max(1, max |expected|), the bound of the
 * precision computed in ({@link Precision#errorBound()}: 1e-4 for float32).
 */
public final class Comparison {
    private Comparison() {}

    public static void assertClose(double[] expected, float[] actual, String what) {
        assertClose(expected, actual, what, Precision.F32);
    }

    /** As {@link #assertClose(double[], float[], String)} within the bound of {@code precision}. */
    public static void assertClose(double[] expected, float[] actual, String what, Precision precision) {
        double error = relativeError(expected, actual, what);
        if (error > precision.errorBound()) {
            fail(String.format("%s: error %.3g of the output's scale exceeds the %s bound %.3g%s", what, error,
                    precision.label(), precision.errorBound(), worstElement(expected, actual)));
        }
    }

    /** max |actual - expected| / max(1, max |expected|); infinite where actual has a NaN. */
    public static double relativeError(double[] expected, float[] actual, String what) {
        if (expected.length != actual.length) {
            fail(what + ": " + actual.length + " elements, expected " + expected.length);
        }
        double scale = 1, worst = 0;
        for (double e : expected) scale = Math.max(scale, Math.abs(e));
        for (int i = 0; i < expected.length; i++) {
            double error = Math.abs(actual[i] - expected[i]);
            worst = Double.isNaN(error) ? Double.POSITIVE_INFINITY : Math.max(worst, error);
        }
        return worst / scale;
    }

    private static String worstElement(double[] expected, float[] actual) {
        int worstIndex = 0;
        double worst = -1;
        for (int i = 0; i < expected.length; i++) {
            double error = Math.abs(actual[i] - expected[i]);
            if (!(error <= worst)) {
                worst = Double.isNaN(error) ? Double.POSITIVE_INFINITY : error;
                worstIndex = i;
            }
        }
        return " (worst at element " + worstIndex + ": got " + actual[worstIndex] + ", expected " + expected[worstIndex] + ")";
    }

    public static double[] toDouble(float[] values) {
        double[] d = new double[values.length];
        for (int i = 0; i < values.length; i++) d[i] = values[i];
        return d;
    }
}
