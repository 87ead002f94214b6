package org.odconv.examples;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import org.odconv.io.SafeTensors;
import org.odconv.ort.OdconvOrt;

/**
 * A whole network in ONNX Runtime Java with odconv's ODConv2d operator: a YOLO-style detector exported from
 * PyTorch with {@code tools/export/odconv_onnx.py} ({@code export_onnx}), run at batch 1 and batch 5 from the
 * one file.
 *
 * <p>Run from the repository root with
 * {@code ./mvnw -Pexample verify -DskipTests -Dexample.class=WholeNetwork}; pass your own files with
 * {@code -Dexample.args="model.onnx input.safetensors"} (the input file holds the F32 tensor {@code input}).
 */
public final class WholeNetwork {
    private WholeNetwork() {}

    /**
     * @param args optional: an ONNX model and an input file; default, the test network and its batch of 5
     * @throws OrtException when ONNX Runtime cannot load or run the model
     */
    public static void main(String[] args) throws OrtException {
        Path model = Path.of(args.length > 0 ? args[0] : "src/test/resources/onnx/yolo.onnx");
        Path input = Path.of(args.length > 1 ? args[1] : "src/test/resources/onnx/input_b5.safetensors");
        OrtEnvironment env = OdconvOrt.environment();  // not OrtEnvironment.getEnvironment(): see its Javadoc
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            OdconvOrt.register(options, 2);  // ONNX Runtime's operators and odconv's on 2 threads each
            try (OrtSession session = env.createSession(model.toString(), options);
                 SafeTensors file = SafeTensors.open(input)) {
                SafeTensors.Entry x = file.entry("input");
                // A view of the memory-mapped file: ONNX Runtime reads it in place.
                FloatBuffer pixels = file.floatBuffer(x);
                try (OnnxTensor tensor = OnnxTensor.createTensor(env, pixels, x.shape());
                     OrtSession.Result result = session.run(Map.of("input", tensor))) {
                    System.out.println(model.getFileName() + " on input " + Arrays.toString(x.shape()) + ":");
                    for (Map.Entry<String, OnnxValue> output : result) {
                        OnnxTensor y = (OnnxTensor) output.getValue();
                        FloatBuffer values = y.getFloatBuffer();
                        System.out.printf("  %s %s, first value %.6f%n", output.getKey(),
                                Arrays.toString(y.getInfo().getShape()), values.get(0));
                    }
                }
            }
        }
    }
}
