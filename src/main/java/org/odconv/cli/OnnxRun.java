package org.odconv.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.odconv.bench.Statistics;
import org.odconv.internal.OutputFiles;
import org.odconv.io.DType;
import org.odconv.io.ModelFormatException;
import org.odconv.io.SafeTensors;
import org.odconv.ort.OdconvOrt;

/**
 * What {@code odconv onnx} does in ONNX Runtime, apart from {@link OnnxCommand} so that the command line loads
 * without ONNX Runtime on the class path (picocli reflects on every command class when it starts).
 */
final class OnnxRun {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path model, input, output, json, profile;
    private final int threads, iterations, odconvNodes;
    private final boolean plain;
    private final PrintWriter out;

    /** The command's options, checked by it. */
    OnnxRun(OnnxCommand command, int odconvNodes, PrintWriter out) {
        this.model = command.model;
        this.input = command.input;
        this.output = command.output;
        this.threads = command.threads;
        this.iterations = command.iterations;
        this.json = command.json;
        this.profile = command.profile;
        this.plain = command.plain;
        this.odconvNodes = odconvNodes;
        this.out = out;
    }

    void run() throws OrtException, IOException {
        // ONNX Runtime's own log would repeat each error on stderr; its exceptions carry the message.
        OrtEnvironment env = OdconvOrt.environment(OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL, "odconv");
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
             SafeTensors tensors = SafeTensors.read(input)) {  // not mapped: see RunCommand
            if (plain) {
                if (threads > 0) options.setIntraOpNumThreads(threads);
            } else if (threads > 0) {
                OdconvOrt.register(options, threads);
            } else {
                OdconvOrt.register(options);
            }
            // ONNX Runtime writes its profile into a folder of odconv's beside the target (one file system: the
            // move is a rename), removed at the end, and by a shutdown hook should the process be stopped first.
            Path profileFolder = profile == null ? null
                    : Files.createTempDirectory(profile.toAbsolutePath().getParent(), "." + profile.getFileName());
            Thread removeProfileFolder = profileFolder == null ? null : new Thread(() -> deleteTreeQuietly(profileFolder));
            if (removeProfileFolder != null) Runtime.getRuntime().addShutdownHook(removeProfileFolder);
            try {
                if (profileFolder != null) options.enableProfiling(profileFolder.resolve("profile").toString());
                try (OrtSession session = createSession(env, options)) {
                    Map<String, OnnxTensor> feeds = feeds(env, session, tensors);
                    try {
                        long batch = feeds.values().iterator().next().getInfo().getShape()[0];
                        if (output != null) writeOutputs(session, feeds);
                        if (iterations > 0) time(session, feeds, batch);
                    } finally {
                        feeds.values().forEach(OnnxTensor::close);
                    }
                    if (profileFolder != null) {
                        Path written = Path.of(session.endProfiling());
                        OutputFiles.replace(profile, temporary -> Files.move(written, temporary,
                                StandardCopyOption.REPLACE_EXISTING));
                        out.printf("wrote ONNX Runtime's profile to %s%n", profile);
                    }
                }
            } finally {
                if (profileFolder != null) {
                    deleteTree(profileFolder);  // a failed run's partial profile too
                    Runtime.getRuntime().removeShutdownHook(removeProfileFolder);
                }
            }
        }
    }

    private static void deleteTreeQuietly(Path folder) {
        try {
            deleteTree(folder);
        } catch (IOException ignored) {
            // the process is ending: nothing left to tell
        }
    }

    private static void deleteTree(Path folder) throws IOException {
        try (var files = Files.list(folder)) {
            for (Path file : (Iterable<Path>) files::iterator) Files.deleteIfExists(file);
        }
        Files.deleteIfExists(folder);
    }

    private OrtSession createSession(OrtEnvironment env, OrtSession.SessionOptions options) throws OrtException {
        try {
            return env.createSession(model.toString(), options);
        } catch (OrtException e) {
            throw new ModelFormatException(model.toString(), "ONNX Runtime cannot load it: " + e.getMessage(), e);
        }
    }

    /** One tensor per model input, viewing the mapped file (no copy). */
    private Map<String, OnnxTensor> feeds(OrtEnvironment env, OrtSession session, SafeTensors tensors)
            throws OrtException {
        Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, NodeInfo> in : session.getInputInfo().entrySet()) {
                String name = in.getKey();
                SafeTensors.Entry entry = tensors.entry(name);
                if (entry.dtype() != DType.F32) {
                    throw new ModelFormatException(input.toString(), "tensor \"" + name + "\" is " + entry.dtype()
                            + ", expected F32");
                }
                if (in.getValue().getInfo() instanceof TensorInfo info) {
                    checkShape(name, info.getShape(), entry.shape());
                }
                FloatBuffer data = tensors.floatBuffer(entry);
                feeds.put(name, OnnxTensor.createTensor(env, data, entry.shape()));
            }
            if (feeds.isEmpty()) throw new ModelFormatException(model.toString(), "the model has no inputs");
            List<String> unused = tensors.entries().keySet().stream().filter(name -> !feeds.containsKey(name)).toList();
            if (!unused.isEmpty()) {
                throw new ModelFormatException(input.toString(), "tensors the model does not take: " + String.join(", ",
                        unused) + " (its inputs: " + String.join(", ", feeds.keySet()) + ")");
            }
            return feeds;
        } catch (RuntimeException | OrtException e) {
            feeds.values().forEach(OnnxTensor::close);
            throw e;
        }
    }

    /** The model's declared shape (-1 for a dynamic dimension, none at all when undeclared) against the file's. */
    private void checkShape(String name, long[] declared, long[] actual) {
        if (declared.length == 0) return;  // ONNX Runtime Java reports an undeclared shape as rank 0
        boolean fits = declared.length == actual.length;
        for (int i = 0; fits && i < declared.length; i++) fits = declared[i] < 0 || declared[i] == actual[i];
        if (!fits) {
            throw new ModelFormatException(input.toString(), "tensor \"" + name + "\" has shape " + Arrays.toString(actual)
                    + ", the model's input \"" + name + "\" is " + Arrays.toString(declared).replace("-1", "?"));
        }
    }

    private void writeOutputs(OrtSession session, Map<String, OnnxTensor> feeds) throws OrtException, IOException {
        Map<String, SafeTensors.F32Array> arrays = new LinkedHashMap<>();
        try (OrtSession.Result result = run(session, feeds)) {
            for (Map.Entry<String, OnnxValue> out : result) {
                if (!(out.getValue() instanceof OnnxTensor tensor) || tensor.getInfo().type != OnnxJavaType.FLOAT) {
                    throw new ModelFormatException(model.toString(), "output \"" + out.getKey() + "\" is "
                            + out.getValue().getInfo() + ", only float32 tensors can be written");
                }
                arrays.put(out.getKey(), new SafeTensors.F32Array(tensor.getInfo().getShape(),
                        MemorySegment.ofBuffer(tensor.getFloatBuffer())));
            }
        }
        SafeTensors.writeArrays(output, arrays, Map.of());
        List<String> lines = new ArrayList<>();
        arrays.forEach((name, a) -> lines.add(name + " " + Arrays.toString(a.shape())));
        out.printf("wrote %s to %s%n", String.join(", ", lines), output);
    }

    private OrtSession.Result run(OrtSession session, Map<String, OnnxTensor> feeds) throws OrtException {
        try {
            return session.run(feeds);
        } catch (OrtException e) {
            throw new ModelFormatException(model.toString(), "ONNX Runtime failed to run it on " + input + ": "
                    + e.getMessage(), e);
        }
    }

    private void time(OrtSession session, Map<String, OnnxTensor> feeds, long batch)
            throws OrtException, IOException {
        int warmup = Math.max(3, Math.min(50, iterations / 5));
        for (int i = 0; i < warmup; i++) run(session, feeds).close();  // caches and primitives warm, results dropped
        double[] millis = new double[iterations];
        for (int i = 0; i < iterations; i++) {
            long start = System.nanoTime();
            OrtSession.Result result = run(session, feeds);
            millis[i] = (System.nanoTime() - start) / 1e6;
            result.close();
        }
        Statistics stats = Statistics.of(millis);
        out.printf(Locale.ROOT, "%s: batch %d, %s threads, %d odconv nodes%s: median %.3f ms"
                        + " (p10 %.3f, p90 %.3f) over %d runs%n", model.getFileName(), batch,
                threads == 0 ? "default" : Integer.toString(threads), odconvNodes, plain ? " (plain ONNX Runtime)" : "",
                stats.median(), stats.p10(), stats.p90(), iterations);
        if (json != null) {
            ObjectNode row = JSON.createObjectNode().put("model", model.getFileName().toString()).put("batch", batch)
                    .put("threads", threads).put("iterations", iterations).put("median_ms", stats.median())
                    .put("p10_ms", stats.p10()).put("p90_ms", stats.p90()).put("odconv_nodes", odconvNodes)
                    .put("plain", plain);
            OutputFiles.replace(json, temporary -> JSON.writeValue(temporary.toFile(), row));
        }
    }
}
