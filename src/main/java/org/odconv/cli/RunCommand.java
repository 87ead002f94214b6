package org.odconv.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import org.odconv.LayerOptions;
import org.odconv.Device;
import org.odconv.DeviceTensor;
import org.odconv.ODConvModel;
import org.odconv.Tensor;
import org.odconv.io.ModelFormatException;
import org.odconv.io.SafeTensors;

@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Runs every layer of a model in order (or one, with --layer) on the F32 NCHW tensor \"input\""
                + " of a safetensors file, and writes the result as the tensor \"output\".")
final class RunCommand extends Subcommand {
    @Option(names = "--model", required = true, description = "Model file (safetensors with odconv metadata).")
    Path model;

    @Option(names = "--input", required = true, description = "Safetensors file holding the F32 tensor \"input\".")
    Path input;

    @Option(names = "--output", required = true, description = "Safetensors file to write (replaced atomically).")
    Path output;

    @Mixin
    Execution execution;

    @Option(names = "--layer", description = "Run only this layer (see info for the names); default: all, in order.")
    String layer;

    @Override
    public Integer call() throws Exception {
        Outputs.check(Outputs.named("--output", output), Arrays.asList(model, input));
        LayerOptions options = execution.layerOptions();
        Device device = options.device();
        // Read, not mapped: another process truncating a mapped file would kill this one (SIGBUS).
        try (ODConvModel odconv = ODConvModel.from(SafeTensors.read(model), options);
             SafeTensors inputs = SafeTensors.read(input)) {
            odconv.setNumThreads(execution.threads);
            List<ODConvModel.Layer> run = layer == null ? odconv.layers() : List.of(odconv.namedLayer(layer));
            Tensor x = Tensor.from(inputs, "input");
            try {
                ODConvModel.checkInput(run, x.batch(), x.channels(), x.height(), x.width());
            } catch (IllegalArgumentException e) {
                throw new ModelFormatException(input.toString(), "tensor \"input\": " + e.getMessage(), e);
            }
            long start = System.nanoTime();
            try (Tensor y = device.isCuda() ? forwardOnDevice(run, x, device) : ODConvModel.forward(run, x)) {
                double millis = (System.nanoTime() - start) / 1e6;
                Tensor.writeSafeTensors(output, Map.of("output", y), Map.of());
                out().printf("wrote output %s to %s (%d layer%s%s, %.3f ms)%n",
                        Arrays.toString(y.shape()), output, run.size(), run.size() == 1 ? "" : "s",
                        device.isCuda() ? " on " + device + ", copies included" : "", millis);
            }
        }
        return 0;
    }

    /** Copies the input to the device, runs the layers there and copies the result back. */
    private static Tensor forwardOnDevice(List<ODConvModel.Layer> run, Tensor x, Device device) {
        try (DeviceTensor input = DeviceTensor.copyOf(x, device);
             DeviceTensor output = ODConvModel.forward(run, input)) {
            return output.toTensor();
        }
    }
}
