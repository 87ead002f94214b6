package org.odconv.bench;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Compares each case's odconv/floor ratio with a stored baseline's. Ratios, not absolute times, so that a
 * machine that is slower overall does not read as a regression of ours.
 */
public final class RegressionGate {
    private RegressionGate() {}

    /**
     * A case whose ratio grew by more than the allowed fraction.
     *
     * @param label         the case's {@link BenchmarkReport.Row#label()}
     * @param baselineRatio the case's odconv/floor ratio in the baseline
     * @param currentRatio  the case's odconv/floor ratio now
     */
    public record Regression(String label, double baselineRatio, double currentRatio) {
        /** The relative growth of the ratio, e.g. 0.15 for 15% worse. */
        public double growth() {
            return currentRatio / baselineRatio - 1;
        }

        @Override
        public String toString() {
            return String.format("%s: odconv/floor %.3f -> %.3f (%+.1f%%)", label, baselineRatio, currentRatio,
                    100 * growth());
        }
    }

    /**
     * The outcome: regressions, and current cases the baseline does not have (they cannot be judged).
     *
     * @param regressions the cases that regressed, in the current report's order
     * @param unmatched   the labels of current cases the baseline lacks or has no floor time for
     */
    public record Verdict(List<Regression> regressions, List<String> unmatched) {
        /** Whether no case regressed; unmatched cases do not fail the gate. */
        public boolean passed() {
            return regressions.isEmpty();
        }
    }

    /**
     * Judges each case of {@code current} against the baseline's case with the same
     * {@link BenchmarkReport.Row#key()}.
     *
     * @param baseline      the stored results to compare with
     * @param current       the results just measured
     * @param maxRegression the allowed relative growth of a case's odconv/floor ratio, e.g. 0.10
     * @return the regressions, and the cases that could not be judged
     * @throws IllegalArgumentException when maxRegression is negative or NaN
     */
    public static Verdict compare(BenchmarkReport baseline, BenchmarkReport current, double maxRegression) {
        if (!(maxRegression >= 0)) throw new IllegalArgumentException("maxRegression = " + maxRegression + " must be >= 0");
        Map<String, BenchmarkReport.Row> before = new HashMap<>();
        for (BenchmarkReport.Row r : baseline.rows()) before.put(r.key(), r);
        List<Regression> regressions = new ArrayList<>();
        List<String> unmatched = new ArrayList<>();
        for (BenchmarkReport.Row now : current.rows()) {
            BenchmarkReport.Row then = before.get(now.key());
            if (then == null || Double.isNaN(then.floorRatio())) {
                unmatched.add(now.label());
                continue;
            }
            if (now.floorRatio() > then.floorRatio() * (1 + maxRegression)) {
                regressions.add(new Regression(now.label(), then.floorRatio(), now.floorRatio()));
            }
        }
        return new Verdict(List.copyOf(regressions), List.copyOf(unmatched));
    }
}
