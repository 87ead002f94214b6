package org.odconv.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import org.odconv.LayerOptions;
import org.odconv.Device;
import org.odconv.Layout;
import org.odconv.Odconv;
import org.odconv.Precision;
import org.odconv.bench.BenchmarkReport;
import org.odconv.bench.BenchmarkResult;
import org.odconv.bench.BenchmarkRunner;
import org.odconv.bench.BenchmarkShape;
import org.odconv.bench.HtmlReport;
import org.odconv.bench.RegressionGate;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Times ODConv2d.forward from Java, the same forward inside native code, and a static convolution"
                + " of the same shape (the floor: oneDNN, or cuDNN with --device cuda), on the same buffers; prints"
                + " medians and ratios.")
final class BenchCommand extends Subcommand {
    @Option(names = "--shapes", split = ",", description = "Standard shapes S1..S5, or all (default: all unless --shape is given).")
    List<String> shapes = new ArrayList<>();

    @Option(names = "--shape", description = "A shape in,out,k,stride,groups,hw,kernel_num (repeatable).")
    List<String> customShapes = new ArrayList<>();

    @Option(names = "--batch", split = ",", defaultValue = "1,8", description = "Batch sizes (default: ${DEFAULT-VALUE}).")
    List<Integer> batches;

    @Option(names = "--layout", split = ",", defaultValue = "nchw",
            description = "Activation layouts: nchw, nhwc (default: ${DEFAULT-VALUE}).")
    List<String> layouts;

    @Mixin
    Execution execution;

    @Option(names = "--warmup", defaultValue = "20", description = "Untimed forwards of each kind (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--iters", defaultValue = "100", description = "Timed forwards of each kind (default: ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--json", description = "Write the results as JSON (schema in docs/benchmarks.md).")
    Path json;

    @Option(names = "--report", description = "Write a self-contained HTML page with a bar chart per case.")
    Path report;

    @Option(names = "--compare", description = "Other systems' results in the same JSON schema, shown in --report.")
    List<Path> compare = new ArrayList<>();

    @Option(names = "--baseline", description = "Fail (exit 1) when a case's odconv/floor ratio is worse than in this JSON.")
    Path baseline;

    @Option(names = "--max-regression", defaultValue = "0.10",
            description = "Allowed growth of odconv/floor over the baseline (default: ${DEFAULT-VALUE}).")
    double maxRegression;

    @Override
    public Integer call() throws IOException {
        // Every argument is judged before the benchmark runs (minutes), and no output may replace an input: the
        // baseline least of all, which a regressed run would otherwise overwrite with its own figures.
        List<BenchmarkShape> cases = selectedShapes();
        List<Layout> layoutList = layouts.stream().map(this::layout).toList();
        for (int b : batches) {
            if (b < 1) throw usageError("--batch " + b + " must be >= 1");
        }
        if (warmup < 0) throw usageError("--warmup " + warmup + " must be >= 0");
        if (iterations < BenchmarkRunner.ROUNDS) {
            throw usageError("--iters " + iterations + " must be >= " + BenchmarkRunner.ROUNDS + " (one per timing round)");
        }
        if (!(maxRegression >= 0)) throw usageError("--max-regression " + maxRegression + " must be >= 0");
        List<Path> inputs = new ArrayList<>(compare);
        inputs.add(baseline);
        Outputs.check(Outputs.named("--json", json, "--report", report), inputs);
        List<LayerOptions> optionsEach = execution.layerOptionsEach();
        Device device = optionsEach.get(0).device();
        BenchmarkReport baselineReport = baseline == null ? null : BenchmarkReport.read(baseline);
        Map<String, BenchmarkReport> others = new LinkedHashMap<>();
        for (Path p : compare) others.put(p.getFileName().toString(), BenchmarkReport.read(p));

        PrintWriter out = out();
        PrintWriter progress = err();
        int effectiveThreads = execution.threads > 0 ? execution.threads : defaultThreads();
        BenchmarkReport.Machine machine = new BenchmarkReport.Machine(cpuName(), effectiveThreads, Odconv.backend(),
                Odconv.cpuIsa(), device.isCuda() ? device.describe() : "");
        out.printf("odconv %s, %s, isa %s, %s, %d threads, %d warm-up + %d timed forwards per kind%n", Odconv.version(),
                machine.onednn(), machine.isa(), machine.cpu(), effectiveThreads, warmup, iterations);
        if (device.isCuda()) {
            out.printf("on %s: %s%s%n", device, machine.gpu(), execution.tf32 ? ", TF32 allowed" : "");
        }
        List<BenchmarkRunner> runners = optionsEach.stream()
                .map(options -> new BenchmarkRunner(execution.threads, warmup, iterations, options)).toList();
        List<BenchmarkResult> results = new ArrayList<>();
        int total = cases.size() * batches.size() * layoutList.size() * runners.size();
        for (BenchmarkShape shape : cases) {
            for (int batch : batches) {
                for (Layout layout : layoutList) {
                    for (int p = 0; p < runners.size(); p++) {
                        Precision precision = optionsEach.get(p).precision();
                        progress.printf("[%d/%d] %s b%d %s%s%s ...%n", results.size() + 1, total, shape.name(), batch,
                                layout.name().toLowerCase(Locale.ROOT), device.isCuda() ? " " + device : "",
                                precision == Precision.F32 ? "" : " " + precision.label());
                        progress.flush();
                        results.add(runners.get(p).run(shape, batch, layout));
                    }
                }
            }
        }
        printTable(out, results);
        printPrecisionsSideBySide(out, results);
        BenchmarkReport current = BenchmarkReport.of(machine, results);
        if (json != null) current.write(json);
        if (report != null) HtmlReport.write(report, current, others);
        if (baselineReport != null) {
            RegressionGate.Verdict verdict = RegressionGate.compare(baselineReport, current, maxRegression);
            verdict.unmatched().forEach(label -> out.println("baseline has no case " + label + "; not judged"));
            if (!verdict.passed()) {
                throw new RegressionException("odconv/floor regressed by more than " + Math.round(maxRegression * 100)
                        + "% against " + baseline + ": " + String.join("; ",
                        verdict.regressions().stream().map(Object::toString).toList()));
            }
            out.printf("no case regressed by more than %.0f%% against %s%n", maxRegression * 100, baseline);
        }
        return 0;
    }

    private List<BenchmarkShape> selectedShapes() {
        List<BenchmarkShape> selected = new ArrayList<>();
        List<String> names = shapes.isEmpty() && customShapes.isEmpty() ? List.of("all") : shapes;
        for (String name : names) {
            if (name.equalsIgnoreCase("all")) selected.addAll(BenchmarkShape.STANDARD);
            else selected.add(BenchmarkShape.standard(name.strip()));
        }
        for (String s : customShapes) selected.add(BenchmarkShape.parse(s));
        return selected;
    }

    private Layout layout(String name) {
        return switch (name.strip().toLowerCase(Locale.ROOT)) {
            case "nchw" -> Layout.NCHW;
            case "nhwc" -> Layout.NHWC;
            default -> throw usageError("--layout " + name + " is not nchw or nhwc");
        };
    }

    private static void printTable(PrintWriter out, List<BenchmarkResult> results) {
        out.printf("%-26s %10s %10s %10s %10s %10s %10s %8s %8s%n", "case", "odconv ms", "p10", "p90", "native ms",
                "floor ms", "GFLOP/s", "a/c", "a/b");
        for (BenchmarkResult r : results) {
            double gflops = 2 * r.shape().macsPerSample() * r.batch() / (r.odconv().median() * 1e6);
            out.printf(Locale.ROOT, "%-26s %10.3f %10.3f %10.3f %10.3f %10.3f %10.1f %8.3f %8.3f%n", r.label(),
                    r.odconv().median(), r.odconv().p10(), r.odconv().p90(), r.nativeTime().median(), r.floor().median(),
                    gflops, r.floorRatio(), r.ffmRatio());
        }
        for (Precision precision : Precision.values()) {
            List<Double> ofPrecision = results.stream().filter(r -> r.precision() == precision)
                    .map(BenchmarkResult::floorRatio).toList();
            if (ofPrecision.isEmpty()) continue;
            out.printf(Locale.ROOT, "geometric mean odconv/floor (a/c)%s: %.3f over %d cases%n",
                    precision == Precision.F32 ? "" : ", " + precision.label() + " (floor in " + precision.label() + ")",
                    geometricMean(ofPrecision), ofPrecision.size());
        }
    }

    /**
     * Where a case ran in float32 and in another precision: both side by side, and the other precision's odconv
     * against the float32 floor (the speed-up a user gets by switching).
     */
    private static void printPrecisionsSideBySide(PrintWriter out, List<BenchmarkResult> results) {
        Map<String, BenchmarkResult> float32 = new LinkedHashMap<>();
        for (BenchmarkResult r : results) {
            if (r.precision() == Precision.F32) float32.put(BenchmarkReport.Row.of(r).key(), r);
        }
        List<Double> speedups = new ArrayList<>();
        for (BenchmarkResult r : results) {
            BenchmarkResult f = float32.get(BenchmarkReport.Row.of(r).float32Key());
            if (r.precision() == Precision.F32 || f == null) continue;
            if (speedups.isEmpty()) {
                out.printf("%-26s %10s %10s %10s %10s %12s %12s%n", "case (" + r.precision().label() + " vs f32)",
                        "f32 ms", "f32 floor", r.precision().label() + " ms", r.precision().label() + " floor",
                        "ms/f32 floor", "ms/f32 ms");
            }
            double againstFloor = r.odconv().median() / f.floor().median();
            out.printf(Locale.ROOT, "%-26s %10.3f %10.3f %10.3f %10.3f %12.3f %12.3f%n", BenchmarkReport.Row.of(f).label(),
                    f.odconv().median(), f.floor().median(), r.odconv().median(), r.floor().median(), againstFloor,
                    r.odconv().median() / f.odconv().median());
            speedups.add(againstFloor);
        }
        if (!speedups.isEmpty()) {
            out.printf(Locale.ROOT, "geometric mean odconv in %s / float32 floor: %.3f over %d cases%n",
                    results.stream().filter(r -> r.precision() != Precision.F32).findFirst().orElseThrow().precision().label(),
                    geometricMean(speedups), speedups.size());
        }
    }

    private static double geometricMean(List<Double> values) {
        double logSum = 0;
        for (double x : values) logSum += Math.log(x);
        return Math.exp(logSum / values.size());
    }

    private static int defaultThreads() {
        String omp = System.getenv("OMP_NUM_THREADS");
        if (omp != null) {
            try {
                return Integer.parseInt(omp.strip());
            } catch (NumberFormatException ignored) {
                // fall through to the core count, as OpenMP does
            }
        }
        return Runtime.getRuntime().availableProcessors();
    }

    private static String cpuName() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).strip();
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux, or no access: the name is informational only
        }
        return System.getProperty("os.arch");
    }

    /** A regression the gate found: exit code 1, like every other failure of the command line. */
    static final class RegressionException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        RegressionException(String message) {
            super(message);
        }
    }
}
