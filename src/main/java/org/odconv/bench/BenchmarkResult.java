package org.odconv.bench;

import org.odconv.Device;
import org.odconv.Layout;
import org.odconv.Precision;

/**
 * One case's timings in milliseconds per forward: (a) {@code odconv} called from Java, (b) {@code nativeTime}
 * timed inside the library, (c) {@code floor}, a static oneDNN convolution of the same shape.
 *
 * @param shape      the layer's shape and input side
 * @param batch      the batch size
 * @param layout     the layout of the input and output
 * @param device     where it ran
 * @param precision  what the layer and the floor computed in
 * @param odconv     ODConv2d.forward timed from Java
 * @param nativeTime the same forward timed inside the native library
 * @param floor      the static convolution of the same shape, timed inside the native library
 */
public record BenchmarkResult(BenchmarkShape shape, int batch, Layout layout, Device device, Precision precision,
        Statistics odconv, Statistics nativeTime, Statistics floor) {

    /** odconv / floor, medians: the figure the targets and the regression gate use. */
    public double floorRatio() {
        return odconv.median() / floor.median();
    }

    /** odconv / native, medians: what calling from Java costs. */
    public double ffmRatio() {
        return odconv.median() / nativeTime.median();
    }

    /**
     * "S1 b1 nchw", with the device after it when that is not the CPU and the precision when that is not float32:
     * "S1 b1 nchw cuda:0", "S1 b1 nchw bf16".
     */
    public String label() {
        return BenchmarkReport.Row.of(this).label();
    }
}
