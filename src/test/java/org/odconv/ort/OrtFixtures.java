package org.odconv.ort;

import java.net.URISyntaxException;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import org.odconv.Comparison;
import org.odconv.io.SafeTensors;

/** The ONNX fixtures of tools/golden/make_onnx_fixtures.py and helpers to run them in ONNX Runtime. */
final class OrtFixtures {
    static final OrtEnvironment ENV = OdconvOrt.environment();

    private OrtFixtures() {}

    static Path file(String name) {
        try {
            return Path.of(OrtFixtures.class.getResource("/onnx/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("missing test resource /onnx/" + name, e);
        }
    }

    /** A session of the fixture {@code model} with odconv's operator registered on {@code threads} threads. */
    static OrtSession session(String model, int threads) throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            OdconvOrt.register(options, threads);
            return ENV.createSession(file(model).toString(), options);
        }
    }

    /** Runs the session on the tensor "input" of the fixture file {@code input}; returns every output, copied. */
    static Map<String, float[]> run(OrtSession session, String input) throws OrtException {
        try (SafeTensors file = SafeTensors.open(file(input + ".safetensors"))) {
            SafeTensors.Entry entry = file.entry("input");
            FloatBuffer data = file.floatBuffer(entry);
            try (OnnxTensor x = OnnxTensor.createTensor(ENV, data, entry.shape());
                 OrtSession.Result result = session.run(Map.of(session.getInputNames().iterator().next(), x))) {
                Map<String, float[]> outputs = new LinkedHashMap<>();
                for (Map.Entry<String, OnnxValue> out : result) {
                    FloatBuffer values = ((OnnxTensor) out.getValue()).getFloatBuffer();
                    float[] copy = new float[values.remaining()];
                    values.get(copy);
                    outputs.put(out.getKey(), copy);
                }
                return outputs;
            }
        }
    }

    /** Asserts that {@code outputs} match the fixture file {@code expected} tensor by tensor. */
    static void assertMatches(String expected, Map<String, float[]> outputs, String what) {
        try (SafeTensors file = SafeTensors.open(file(expected + ".safetensors"))) {
            for (String name : file.entries().keySet()) {
                float[] want = file.floatData(file.entry(name)).toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
                if (!outputs.containsKey(name)) throw new AssertionError(what + ": no output " + name);
                Comparison.assertClose(Comparison.toDouble(want), outputs.get(name), what + ", " + name);
            }
        }
    }
}
