package org.odconv.cli;

import java.io.PrintWriter;
import java.nio.file.Path;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import org.odconv.ODConv2dConfig;
import org.odconv.ODConvModel;
import org.odconv.Odconv;
import org.odconv.internal.Printable;

@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Lists a model's layers, shapes and parameter counts, and the devices layers can run on (or why"
                + " there is no CUDA device).")
final class InfoCommand extends Subcommand {
    @Option(names = "--model", description = "Model file (safetensors with odconv metadata); without it, only the"
            + " devices are listed.")
    Path model;

    @Override
    public Integer call() {
        PrintWriter out = out();
        if (model != null) describeModel(out);
        out.println("devices:");
        Execution.describeAll().forEach(line -> out.println("  " + line));
        return 0;
    }

    private void describeModel(PrintWriter out) {
        try (ODConvModel odconv = ODConvModel.load(model)) {
            out.printf("model %s: %d layers (odconv %s, %s)%n", model, odconv.layers().size(), Odconv.version(),
                    Odconv.backend());
            out.printf("%-20s %6s %6s %3s %3s %3s %3s %5s %3s %5s %-8s %-3s %10s%n", "layer", "in", "out", "k", "s", "p",
                    "d", "g", "kn", "attn", "act", "bn", "params");
            long total = 0;
            for (ODConvModel.Layer layer : odconv.layers()) {
                ODConv2dConfig c = layer.conv().config();
                out.printf("%-20s %6d %6d %3d %3d %3d %3d %5d %3d %5d %-8s %-3s %10d%n", Printable.of(layer.name()), c.inPlanes(),
                        c.outPlanes(), c.kernelSize(), c.stride(), c.padding(), c.dilation(), c.groups(), c.kernelNum(),
                        c.attentionChannels(), c.activation().fileName(), c.batchNorm() ? "yes" : "no",
                        c.parameterCount());
                total += c.parameterCount();
            }
            out.printf("total parameters: %d%n", total);
        }
    }
}
