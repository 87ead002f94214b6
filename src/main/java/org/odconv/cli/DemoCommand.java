package org.odconv.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import org.odconv.LayerOptions;
import org.odconv.Device;
import org.odconv.DeviceTensor;
import org.odconv.ODConvModel;
import org.odconv.Odconv;
import org.odconv.Precision;
import org.odconv.Tensor;
import org.odconv.io.SafeTensors;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Runs the bundled two-layer ODConv model on its bundled input and compares the result with"
                + " the output PyTorch computed for it; prints the error and the latency.")
final class DemoCommand extends Subcommand {
    private static final String RESOURCES = "/org/odconv/demo/";

    @Mixin
    Execution execution;

    @Option(names = "--iterations", defaultValue = "50", description = "Timed forwards (default: ${DEFAULT-VALUE}).")
    int iterations;

    @Override
    public Integer call() throws IOException {
        if (iterations < 1) throw usageError("--iterations " + iterations + " must be >= 1");
        PrintWriter out = out();
        LayerOptions options = execution.layerOptions();
        Device device = options.device();
        try (Arena arena = Arena.ofShared();
             ODConvModel model = ODConvModel.from(resource(arena, "model.safetensors"), options);
             SafeTensors inputs = resource(arena, "input.safetensors");
             SafeTensors expectedFile = resource(arena, "expected.safetensors");
             DeviceTensor deviceInput = device.isCuda() ? DeviceTensor.copyOf(Tensor.from(inputs, "input"), device) : null) {
            model.setNumThreads(execution.threads);
            Tensor input = Tensor.from(inputs, "input");
            Tensor expected = Tensor.from(expectedFile, "output");
            out.printf("odconv %s on %s%s%n", Odconv.version(), device.isCuda() ? device + ": " + device.describe()
                    + (execution.tf32 ? " (TF32 allowed)" : "") : Odconv.backend(),
                    options.precision() == Precision.F32 ? "" : ", in " + options.precision().label());
            for (ODConvModel.Layer layer : model.layers()) out.printf("  %s: %s%n", layer.name(), layer.conv().config());

            float[] result;
            try (Tensor output = forwardToHost(model, input, deviceInput)) {
                result = output.toArray();
                if (!Arrays.equals(output.shape(), expected.shape())) {
                    throw new IllegalStateException("output shape " + Arrays.toString(output.shape())
                            + " differs from PyTorch's " + Arrays.toString(expected.shape()));
                }
            }
            float[] reference = expected.toArray();
            double maxError = 0;
            double maxExpected = 0;
            for (int i = 0; i < result.length; i++) {
                maxError = Math.max(maxError, Math.abs(result[i] - reference[i]));
                maxExpected = Math.max(maxExpected, Math.abs(reference[i]));
            }
            double tolerance = options.precision().errorBound() * Math.max(1, maxExpected);

            long[] nanos = new long[iterations];
            for (int i = 0; i < iterations + 5; i++) {
                long start = System.nanoTime();
                try (Tensor ignored = forwardToHost(model, input, deviceInput)) {
                    if (i >= 5) nanos[i - 5] = System.nanoTime() - start;
                }
            }
            Arrays.sort(nanos);
            out.printf("input %s -> output %s%n", Arrays.toString(input.shape()), Arrays.toString(expected.shape()));
            out.printf("max |odconv - pytorch| = %.3g (tolerance %.3g): %s%n", maxError, tolerance,
                    maxError <= tolerance ? "MATCH" : "MISMATCH");
            out.printf("latency over %d forwards%s: median %.3f ms, min %.3f ms%n", iterations,
                    device.isCuda() ? " (input on " + device + ", output copied back)" : "",
                    nanos[iterations / 2] / 1e6, nanos[0] / 1e6);
            return maxError <= tolerance ? 0 : 1;
        }
    }

    /** Runs the model on the host input, or on its device copy when there is one; the output in host memory. */
    private static Tensor forwardToHost(ODConvModel model, Tensor input, DeviceTensor deviceInput) {
        if (deviceInput == null) return model.forward(input);
        try (DeviceTensor output = model.forward(deviceInput)) {
            return output.toTensor();
        }
    }

    /** The bundled file, copied into native memory (a jar entry cannot be memory-mapped). */
    private static SafeTensors resource(Arena arena, String name) throws IOException {
        try (InputStream in = DemoCommand.class.getResourceAsStream(RESOURCES + name)) {
            if (in == null) throw new IllegalStateException("bundled demo file " + RESOURCES + name + " is missing");
            byte[] bytes = in.readAllBytes();
            MemorySegment segment = arena.allocate(bytes.length, 64);
            MemorySegment.copy(bytes, 0, segment, ValueLayout.JAVA_BYTE, 0, bytes.length);
            return SafeTensors.parse("demo:" + name, segment);
        }
    }
}
