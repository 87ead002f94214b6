package org.odconv.examples.spark;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import org.odconv.ort.OdconvOrt;

/** An ONNX network run by ONNX Runtime with odconv's ODConv2d operator registered. */
final class OnnxNetwork implements Network {
    private final Path file;
    private final OrtEnvironment environment = OdconvOrt.environment();
    private final OrtSession session;
    private final String inputName;

    /**
     * @param file    an ONNX model with one input, exported with odconv's {@code export_onnx}
     * @param threads threads per run, for ONNX Runtime's operators and odconv's alike
     */
    OnnxNetwork(Path file, int threads) {
        this.file = file;
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            OdconvOrt.register(options, threads);
            session = environment.createSession(file.toString(), options);
        } catch (OrtException e) {
            throw new IllegalArgumentException("cannot load the ONNX model " + file + ": " + e.getMessage(), e);
        }
        if (session.getNumInputs() != 1) {
            close();
            throw new IllegalArgumentException("the ONNX model " + file + " has " + session.getNumInputs()
                    + " inputs " + session.getInputNames() + "; a scoring job feeds exactly one");
        }
        inputName = session.getInputNames().iterator().next();
    }

    @Override
    public List<Output> run(FloatBuffer batch, long[] shape) {
        try (OnnxTensor input = OnnxTensor.createTensor(environment, batch, shape);
             OrtSession.Result result = session.run(Map.of(inputName, input))) {
            List<Output> outputs = new ArrayList<>(result.size());
            for (Map.Entry<String, OnnxValue> entry : result) {
                OnnxTensor tensor = (OnnxTensor) entry.getValue();
                outputs.add(new Output(entry.getKey(), tensor.getInfo().getShape(), tensor.getFloatBuffer()));
            }
            return outputs;
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed on " + file + " with a batch of shape "
                    + Arrays.toString(shape) + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("cannot close the ONNX Runtime session of " + file, e);
        }
    }
}
