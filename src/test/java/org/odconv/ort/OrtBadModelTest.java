package org.odconv.ort;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.util.Map;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Models and inputs the operator must refuse: at session creation for the model's faults, at run time for
 * the input's, always as an ONNX Runtime error naming the node and what is wrong, never a crash.
 */
class OrtBadModelTest {
    private static final String NODE = "ODConv2d node '/ODConv2d'";

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "bad_stride0           | " + NODE + ": attribute stride = 0 is out of range [1, ",
        "bad_activation        | " + NODE + ": attribute activation = \"gelu\" is not one of \"identity\", \"relu\", \"silu\"",
        "bad_layout            | " + NODE + ": attribute layout = \"NCWH\" is not one of \"NCHW\", \"NHWC\"",
        "bad_missing_in_planes | " + NODE + ": required int attribute 'in_planes' is missing",
        "bad_temperature_type  | " + NODE + ": attribute temperature must be of type float",
        "bad_stride_list       | " + NODE + ": attribute stride must be of type int",
        "bad_temperature_list  | " + NODE + ": attribute temperature must be of type float",
        "bad_missing_input     | " + NODE + ": has 18 inputs, expected 19 for its attributes: X, then weight, attention_fc_weight,",
        "bad_initializer_shape | " + NODE + ": input 3 (attention_bn_weight) has shape [15], expected [16] for the node's attributes",
        "bad_not_constant      | " + NODE + ": input 1 (weight) must be a constant initializer",
        "bad_declared_channels | " + NODE + ": input 0 (X) is declared with shape [-1, 5, -1, -1], expected 8 channels",
    })
    void sessionCreationFailsNamingTheNodeAndTheFault(String model, String message) throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            OdconvOrt.register(options, 1);
            OrtException e = assertThrows(OrtException.class,
                    () -> OrtFixtures.ENV.createSession(OrtFixtures.file(model + ".onnx").toString(), options).close());
            assertTrue(e.getMessage().contains(message.strip()), e.getMessage());
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "2x8x16   | input 0 (X) has shape [2, 8, 16], expected rank 4 [N, 8, H, W]",
        "1x5x9x9  | input 0 (X) has shape [1, 5, 9, 9], expected 8 channels",
        "1x8x2x9  | input 0 (X) has shape [1, 8, 2, 9]: input height = 2 is too small",
    })
    void runFailsOnABadInputNamingTheNode(String shape, String message) throws OrtException {
        long[] dims = java.util.Arrays.stream(shape.strip().split("x")).mapToLong(Long::parseLong).toArray();
        long count = java.util.Arrays.stream(dims).reduce(1, (a, b) -> a * b);
        try (OrtSession session = OrtFixtures.session("single.onnx", 1);
             OnnxTensor x = OnnxTensor.createTensor(OrtFixtures.ENV, FloatBuffer.allocate((int) count), dims)) {
            OrtException e = assertThrows(OrtException.class, () -> session.run(Map.of("input", x)).close());
            assertTrue(e.getMessage().contains(NODE + ": " + message.strip()), e.getMessage());
        }
    }

    /** An empty batch is a valid tensor: the output is empty too, and nothing runs. */
    @Test
    void anEmptyBatchGivesAnEmptyOutput() throws OrtException {
        try (OrtSession session = OrtFixtures.session("single.onnx", 1);
             OnnxTensor x = OnnxTensor.createTensor(OrtFixtures.ENV, FloatBuffer.allocate(0), new long[] {0, 8, 9, 9});
             OrtSession.Result result = session.run(Map.of("input", x))) {
            long[] shape = ((OnnxTensor) result.get(0)).getInfo().getShape();
            assertTrue(java.util.Arrays.equals(new long[] {0, 16, 4, 4}, shape), java.util.Arrays.toString(shape));
        }
    }
}
