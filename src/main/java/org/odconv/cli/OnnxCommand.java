package org.odconv.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import org.odconv.OdconvException;
import org.odconv.io.ModelFormatException;
import org.odconv.ort.OdconvOrt;
import org.odconv.ort.OnnxGraph;

/** {@code odconv onnx}. It names no ONNX Runtime type, so the command line starts without ONNX Runtime (see {@link OnnxRun}). */
@Command(name = "onnx", mixinStandardHelpOptions = true,
        description = "Runs an ONNX model in ONNX Runtime with odconv's ODConv2d operator registered (a model exported"
                + " with tools/export/odconv_onnx.py), on the F32 tensors of a safetensors file named as the model's"
                + " inputs, and writes every output by name. With --iterations, times the runs.")
final class OnnxCommand extends Subcommand {
    @Option(names = "--model", required = true, description = "The .onnx model.")
    Path model;

    @Option(names = "--input", required = true, description = "Safetensors file with one F32 tensor per model input, named as the input.")
    Path input;

    @Option(names = "--output", description = "Safetensors file to write, every model output by name (replaced atomically).")
    Path output;

    @Option(names = "--threads", defaultValue = "0",
            description = "Threads for ONNX Runtime's operators and odconv's alike; 0: ONNX Runtime's default, one per core.")
    int threads;

    @Option(names = "--iterations", defaultValue = "0", description = "Time this many runs after a warm-up and print the median.")
    int iterations;

    @Option(names = "--json", description = "Write the timing as JSON (needs --iterations).")
    Path json;

    @Option(names = "--profile", description = "Write ONNX Runtime's profile of the session (every node's time in every"
            + " run, Chrome trace JSON) to this file. Profiling slows the runs it times.")
    Path profile;

    @Option(names = "--plain", description = "Stock ONNX Runtime, odconv's operator not registered (for models exported"
            + " the ordinary way).")
    boolean plain;

    @Override
    public Integer call() throws Exception {
        if (threads < 0) throw usageError("--threads " + threads + " must be >= 0");
        if (iterations < 0) throw usageError("--iterations " + iterations + " must be >= 0");
        if (json != null && iterations == 0) throw usageError("--json needs --iterations");
        if (output == null && iterations == 0) throw usageError("give --output, --iterations or both");
        if (!Files.isRegularFile(model)) {
            throw new ModelFormatException(model.toString(), Files.exists(model) ? "not a regular file" : "no such file");
        }
        Outputs.check(Outputs.named("--output", output, "--json", json, "--profile", profile), Arrays.asList(model, input));
        int odconvNodes = OnnxGraph.countNodes(model, OdconvOrt.DOMAIN, OdconvOrt.OP_TYPE);
        if (plain && odconvNodes > 0) {
            throw new ModelFormatException(model.toString(), odconvNodes + " " + OdconvOrt.DOMAIN + "::"
                    + OdconvOrt.OP_TYPE + " nodes, which --plain (stock ONNX Runtime) cannot run");
        }

        try {
            new OnnxRun(this, odconvNodes, out()).run();
        } catch (NoClassDefFoundError e) {
            if (e.getMessage() == null || !e.getMessage().startsWith("ai/onnxruntime/")) throw e;
            throw new OdconvException("the onnx command needs ONNX Runtime Java (com.microsoft.onnxruntime:onnxruntime"
                    + " 1.17 or newer) on the class path, as in the runnable jar; missing: " + e.getMessage(), e);
        }
        return 0;
    }
}
