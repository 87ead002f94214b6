package org.odconv.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import picocli.CommandLine;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import org.odconv.Device;
import org.odconv.DeviceUnavailableException;
import org.odconv.LayerOptions;
import org.odconv.Precision;

/**
 * How the commands that run layers run them: {@code --device}, {@code --precision}, {@code --tf32} and
 * {@code --threads}, mixed into each; and the device listing of info.
 */
final class Execution {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--device", defaultValue = "cpu", converter = DeviceConverter.class, paramLabel = "cpu|cuda[:N]",
            description = "Where the layers run: cpu, cuda (GPU 0) or cuda:N (default: ${DEFAULT-VALUE}).")
    Device device;

    @Option(names = "--tf32", description = "With --device cuda: let cuDNN use TF32 tensor cores (faster; about 1e-3"
            + " relative error instead of 1e-4).")
    boolean tf32;

    @Option(names = "--threads", defaultValue = "0", description = "Threads per layer; 0: OMP_NUM_THREADS or every core.")
    int threads;

    @Option(names = "--precision", split = ",", defaultValue = "f32", converter = PrecisionConverter.class,
            paramLabel = "f32|bf16", description = "What the convolutions compute in: f32, or bf16 (bfloat16; needs a CPU"
            + " with AVX512-BF16, AMX-BF16 or AVX-NE-CONVERT; error within 1e-2 of float32's). bench takes both, comma-separated"
            + " (default: ${DEFAULT-VALUE}).")
    List<Precision> precisions;

    /**
     * What layers are created with: the device asked for, once known to be usable (see {@link #usable()}), the one
     * precision asked for, once known to be available there, and TF32.
     */
    LayerOptions layerOptions() {
        if (precisions.size() != 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--precision takes one value here, not "
                    + precisions.size());
        }
        return layerOptionsEach().get(0);
    }

    /** As {@link #layerOptions()}, once per precision asked for, in order (bench). */
    List<LayerOptions> layerOptionsEach() {
        Device usable = usable();
        List<LayerOptions> each = new ArrayList<>();
        for (Precision precision : precisions.stream().distinct().toList()) {
            usable.requireSupport(precision);
            each.add(new LayerOptions(usable, tf32, precision));
        }
        return each;
    }

    /**
     * The device asked for, once it is known to be usable: a CUDA device that cannot be used fails here, in one
     * line with the reason, before any file is read.
     */
    Device usable() {
        if (threads < 0) throw new CommandLine.ParameterException(spec.commandLine(), "--threads " + threads + " must be >= 0");
        if (tf32 && !device.isCuda()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--tf32 applies to CUDA devices only, not "
                    + device);
        }
        if (device.isCuda()) {
            Optional<String> reason = Device.cudaUnavailableReason();
            if (reason.isPresent()) throw new DeviceUnavailableException(device, "cannot use " + device + ": " + reason.get());
            int count = Device.cudaDeviceCount();
            if (device.index() >= count) {
                throw new DeviceUnavailableException(device, "cannot use " + device + ": there " + (count == 1
                        ? "is 1 CUDA device (cuda:0)" : "are " + count + " CUDA devices (cuda:0 .. cuda:" + (count - 1) + ")"));
            }
        }
        return device;
    }

    /**
     * One line per device this process can use ("cpu: ...", "cuda:0: ..."), or why there is no CUDA device; each
     * device's line followed by whether it computes in bfloat16, and if not, why.
     */
    static List<String> describeAll() {
        List<String> lines = new ArrayList<>();
        lines.add(Device.cpu() + ": " + Device.cpu().describe());
        lines.add("  " + precisionLine(Device.cpu()));
        Optional<String> reason = Device.cudaUnavailableReason();
        if (reason.isPresent()) {
            lines.add("cuda: none (" + reason.get() + ")");
        } else {
            for (int i = 0; i < Device.cudaDeviceCount(); i++) {
                Device gpu = Device.cuda(i);
                lines.add(gpu + ": " + gpu.describe());
                lines.add("  " + precisionLine(gpu));
            }
        }
        return lines;
    }

    private static String precisionLine(Device device) {
        return "bf16: " + device.unsupportedReason(Precision.BF16).map(reason -> "no (" + reason + ")").orElse("yes");
    }

    /** Parses --precision; a bad value is a usage error (exit code 2) naming the accepted ones. */
    static final class PrecisionConverter implements CommandLine.ITypeConverter<Precision> {
        @Override
        public Precision convert(String value) {
            try {
                return Precision.parse(value.strip());
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    /** Parses --device; a bad value is a usage error (exit code 2) naming the accepted forms. */
    static final class DeviceConverter implements CommandLine.ITypeConverter<Device> {
        @Override
        public Device convert(String value) {
            try {
                return Device.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
