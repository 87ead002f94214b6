package org.odconv.bench;

import java.util.Arrays;

/**
 * Median and percentiles of a sample of times.
 *
 * @param median the 50th percentile, in the samples' unit
 * @param p10    the 10th percentile
 * @param p90    the 90th percentile
 */
public record Statistics(double median, double p10, double p90) {
    /**
     * The statistics of {@code samples} (left unchanged: a copy is sorted), by linear interpolation between
     * closest ranks.
     *
     * @throws IllegalArgumentException when there are no samples
     */
    public static Statistics of(double[] samples) {
        if (samples.length == 0) throw new IllegalArgumentException("no samples");
        double[] sorted = samples.clone();
        Arrays.sort(sorted);
        return new Statistics(percentile(sorted, 50), percentile(sorted, 10), percentile(sorted, 90));
    }

    /** Linear interpolation between closest ranks. */
    static double percentile(double[] sorted, double p) {
        double rank = p / 100 * (sorted.length - 1);
        int low = (int) Math.floor(rank);
        int high = Math.min(low + 1, sorted.length - 1);
        return sorted[low] + (rank - low) * (sorted[high] - sorted[low]);
    }
}
