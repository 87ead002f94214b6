package org.odconv.examples.spark;

import java.nio.file.Path;

/** The tests' networks. */
final class TestInputs {
    /** The YOLO-style network of the root project's ONNX Runtime tests (3x64x64 input, outputs p8 and p16). */
    static final Path YOLO = Path.of(System.getProperty("odconv.test.resources"), "onnx", "yolo.onnx");
    static final long[] YOLO_INPUT = {3, 64, 64};
    /** The ODConv layers of odconv's demo (16x24x24 input), shipped inside the library jar. */
    static final long[] DEMO_INPUT = {16, 24, 24};

    private TestInputs() {}
}
