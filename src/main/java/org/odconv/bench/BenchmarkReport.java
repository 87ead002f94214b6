package org.odconv.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.odconv.internal.OutputFiles;
import org.odconv.io.ModelFormatException;

/**
 * The benchmark's JSON file, a stable schema (documented in docs/benchmarks.md):
 * <pre>{"machine":{"cpu":...,"threads":...,"onednn":...,"isa":...,"gpu":...},
 *  "results":[{"shape":"S1","in":64,"out":64,"k":3,"stride":1,"groups":1,"hw":56,"kernel_num":1,"batch":1,
 *              "layout":"nchw","device":"cpu","precision":"f32","odconv_ms":...,"native_ms":...,"floor_ms":...,
 *              "odconv_p10_ms":...,"odconv_p90_ms":...}]}</pre>
 * Times are medians in milliseconds per forward unless named otherwise. Files of other systems in the same
 * schema may leave out native_ms and floor_ms; a row without "device" (older files) ran on the machine's "device", else on the CPU;
 * a row without "precision" (older files) computed in float32. The floor of a row is a static convolution in the
 * row's precision.
 *
 * @param machine the machine the rows were measured on
 * @param rows    the cases, in the order they were run
 */
public record BenchmarkReport(Machine machine, List<Row> rows) {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * The machine a report was measured on; a file that leaves a field out reads as "unknown", 0 or "".
     *
     * @param cpu     the CPU's model name
     * @param threads the threads per forward actually used
     * @param onednn  the backend description, e.g. "oneDNN 3.13.0 (cpu runtime: OpenMP)"
     * @param isa     the instruction set oneDNN uses, e.g. "avx512_core"
     * @param gpu     the CUDA device the rows ran on, as {@code odconv info} describes it; "" for CPU runs
     */
    public record Machine(String cpu, int threads, String onednn, String isa, String gpu) {}

    /**
     * One case as stored; nativeMs and floorMs are NaN when a file leaves them out.
     *
     * @param shape       the shape's name: "S1".."S5", else its parameter list
     * @param in          input channels
     * @param out         output channels
     * @param k           kernel side
     * @param stride      convolution stride
     * @param groups      convolution groups
     * @param hw          input height = width
     * @param kernelNum   number of kernels in the bank
     * @param batch       batch size
     * @param layout      "nchw" or "nhwc"
     * @param device      where it ran: "cpu" or "cuda:N"
     * @param precision   what the layer and the floor computed in: "f32" or "bf16"
     * @param odconvMs    median milliseconds per forward called from Java
     * @param nativeMs    median milliseconds per forward timed inside the native library
     * @param floorMs     median milliseconds per run of the static convolution
     * @param odconvP10Ms 10th percentile of the times behind odconvMs (NaN when a file leaves it out)
     * @param odconvP90Ms 90th percentile of the times behind odconvMs (NaN when a file leaves it out)
     */
    public record Row(String shape, int in, int out, int k, int stride, int groups, int hw, int kernelNum, int batch,
            String layout, String device, String precision, double odconvMs, double nativeMs, double floorMs, double odconvP10Ms, double odconvP90Ms) {

        /** The row of a measured result: its case, the three medians and odconv's percentiles. */
        public static Row of(BenchmarkResult r) {
            BenchmarkShape s = r.shape();
            return new Row(s.name(), s.in(), s.out(), s.k(), s.stride(), s.groups(), s.hw(), s.kernelNum(), r.batch(),
                    r.layout().name().toLowerCase(Locale.ROOT), r.device().toString(), r.precision().label(),
                    r.odconv().median(), r.nativeTime().median(),
                    r.floor().median(), r.odconv().p10(), r.odconv().p90());
        }

        /** odconv / floor. */
        public double floorRatio() {
            return odconvMs / floorMs;
        }

        /**
         * What identifies a case across files: the shape's parameters, batch, layout and, when not the CPU, the
         * device, and when not float32, the precision (so float32 CPU rows keep the keys of older files).
         */
        public String key() {
            return float32Key() + precisionSuffix();
        }

        /**
         * For people: the shape's name, batch, layout, a device other than the CPU and a precision other than
         * float32, e.g. "S1 b1 nchw", "S1 b1 nchw cuda:0" or "S1 b1 nchw bf16"; files are matched by {@link #key()}.
         */
        public String label() {
            return shape + " b" + batch + " " + layout + deviceSuffix() + precisionSuffix();
        }

        /** This row's case in float32 (its key when it is float32 already): how precisions are set side by side. */
        public String float32Key() {
            return in + "," + out + "," + k + "," + stride + "," + groups + "," + hw + "," + kernelNum + " b" + batch
                    + " " + layout + deviceSuffix();
        }

        private String deviceSuffix() {
            return device.equals("cpu") ? "" : " " + device;
        }

        private String precisionSuffix() {
            return precision.equals("f32") ? "" : " " + precision;
        }
    }

    /** A report of measured results, one row each, in their order. */
    public static BenchmarkReport of(Machine machine, List<BenchmarkResult> results) {
        return new BenchmarkReport(machine, results.stream().map(Row::of).toList());
    }

    /**
     * Writes the report in the schema above, atomically: into a temporary file beside {@code file}, then
     * renamed over it, so a failure never leaves a partial file.
     *
     * @param file the file to create or replace
     * @throws IOException when the temporary file cannot be created, written or renamed over {@code file}
     */
    public void write(Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode m = root.putObject("machine");
        m.put("cpu", machine.cpu()).put("threads", machine.threads()).put("onednn", machine.onednn())
                .put("isa", machine.isa()).put("gpu", machine.gpu());
        ArrayNode results = root.putArray("results");
        for (Row r : rows) {
            ObjectNode o = results.addObject();
            o.put("shape", r.shape()).put("in", r.in()).put("out", r.out()).put("k", r.k()).put("stride", r.stride())
                    .put("groups", r.groups()).put("hw", r.hw()).put("kernel_num", r.kernelNum()).put("batch", r.batch())
                    .put("layout", r.layout()).put("device", r.device()).put("precision", r.precision())
                    .put("odconv_ms", r.odconvMs()).put("native_ms", r.nativeMs())
                    .put("floor_ms", r.floorMs()).put("odconv_p10_ms", r.odconvP10Ms())
                    .put("odconv_p90_ms", r.odconvP90Ms());
        }
        OutputFiles.replace(file, temporary -> JSON.writeValue(temporary.toFile(), root));
    }

    /** Reads a file in this schema; problems name the file and the field. */
    public static BenchmarkReport read(Path file) {
        String source = file.toString();
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(source, "cannot read benchmark JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) throw new ModelFormatException(source, "not a JSON object");
        JsonNode m = root.path("machine");
        Machine machine = new Machine(m.path("cpu").asText("unknown"), m.path("threads").asInt(0),
                m.path("onednn").asText(""), m.path("isa").asText(""), m.path("gpu").asText(""));
        JsonNode results = root.get("results");
        if (results == null || !results.isArray()) throw new ModelFormatException(source, "\"results\" is not an array");
        // Files from tools/bench/pytorch_eager.py before rows carried "device" named it once, at machine level.
        String defaultDevice = m.path("device").asText("cpu");
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < results.size(); i++) {
            JsonNode r = results.get(i);
            String where = "results[" + i + "]";
            rows.add(new Row(r.path("shape").asText(where), integer(source, where, r, "in"), integer(source, where, r, "out"),
                    integer(source, where, r, "k"), integer(source, where, r, "stride"),
                    integer(source, where, r, "groups"), integer(source, where, r, "hw"),
                    integer(source, where, r, "kernel_num"), integer(source, where, r, "batch"),
                    r.path("layout").asText("nchw"), r.path("device").asText(defaultDevice),
                    r.path("precision").asText("f32"), number(source, where, r, "odconv_ms", true),
                    number(source, where, r, "native_ms", false), number(source, where, r, "floor_ms", false),
                    number(source, where, r, "odconv_p10_ms", false), number(source, where, r, "odconv_p90_ms", false)));
        }
        return new BenchmarkReport(machine, List.copyOf(rows));
    }

    private static int integer(String source, String where, JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || !v.canConvertToInt() || !v.isIntegralNumber()) {
            throw new ModelFormatException(source, where + "." + field + " = " + v + " is not an integer");
        }
        return v.intValue();
    }

    private static double number(String source, String where, JsonNode node, String field, boolean required) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            if (required) throw new ModelFormatException(source, where + "." + field + " is missing");
            return Double.NaN;
        }
        if (!v.isNumber()) throw new ModelFormatException(source, where + "." + field + " = " + v + " is not a number");
        return v.doubleValue();
    }
}
