package org.odconv.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.odconv.internal.OutputFiles;

/** One self-contained HTML page (inline SVG, no scripts or external files) with a bar chart per case. */
public final class HtmlReport {
    private static final String[] COLORS = {"#1f77b4", "#aec7e8", "#7f7f7f", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"};

    private HtmlReport() {}

    /**
     * Writes the page to {@code file}, replacing it: a table of the report's cases, then a bar chart per case
     * of odconv from Java, native and the floor, beside each other system's odconv time for the case with the
     * same {@link BenchmarkReport.Row#key()}.
     *
     * @param file   the HTML file to create or replace
     * @param report this machine's results
     * @param others other systems' results in the same schema, by label (e.g. their file name)
     * @throws IOException when the file cannot be written
     */
    public static void write(Path file, BenchmarkReport report, Map<String, BenchmarkReport> others) throws IOException {
        Map<String, Map<String, BenchmarkReport.Row>> byKey = new HashMap<>();
        others.forEach((label, other) -> other.rows().forEach(
                r -> byKey.computeIfAbsent(r.key(), k -> new LinkedHashMap<>()).put(label, r)));
        StringBuilder html = new StringBuilder();
        BenchmarkReport.Machine m = report.machine();
        html.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>odconv benchmark</title>\n")
                .append("<style>body{font-family:sans-serif;margin:2em;max-width:60em}")
                .append("table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right}")
                .append("th{border-bottom:1px solid #999}h2{font-size:1.05em;margin:1.4em 0 .2em}</style>\n")
                .append("</head><body>\n<h1>odconv benchmark</h1>\n<p>")
                .append(escape(m.cpu())).append(", ").append(m.threads()).append(" threads, ").append(escape(m.onednn()))
                .append(", ISA ").append(escape(m.isa()))
                .append(m.gpu().isEmpty() ? "" : ", GPU " + escape(m.gpu()))
                .append(". Median milliseconds per forward; lower is better. The floor is a static ")
                .append(m.gpu().isEmpty() ? "oneDNN" : "cuDNN").append(" convolution")
                .append(" of the same shape.</p>\n<table><tr><th>case</th><th>odconv</th><th>native</th><th>floor</th>")
                .append("<th>odconv/floor</th></tr>\n");
        for (BenchmarkReport.Row r : report.rows()) {
            html.append(String.format(Locale.ROOT, "<tr><td>%s</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td></tr>%n",
                    escape(r.label()), r.odconvMs(), r.nativeMs(), r.floorMs(), r.floorRatio()));
        }
        html.append("</table>\n");
        for (BenchmarkReport.Row r : report.rows()) {
            List<String> names = new ArrayList<>(List.of("odconv (Java)", "odconv (native)", "static conv floor"));
            List<Double> values = new ArrayList<>(List.of(r.odconvMs(), r.nativeMs(), r.floorMs()));
            byKey.getOrDefault(r.key(), Map.of()).forEach((label, other) -> {
                names.add(label);
                values.add(other.odconvMs());
            });
            html.append("<h2>").append(escape(r.label())).append(String.format(Locale.ROOT,
                    " <small>(in %d, out %d, k %d, stride %d, groups %d, %dx%d, kernel_num %d)</small></h2>%n", r.in(),
                    r.out(), r.k(), r.stride(), r.groups(), r.hw(), r.hw(), r.kernelNum()));
            html.append(barChart(names, values));
        }
        html.append("</body></html>\n");
        OutputFiles.replace(file, temporary -> Files.writeString(temporary, html, StandardCharsets.UTF_8));
    }

    private static String barChart(List<String> names, List<Double> values) {
        double max = values.stream().filter(v -> !v.isNaN()).mapToDouble(Double::doubleValue).max().orElse(1);
        int rowHeight = 22, labelWidth = 170, barWidth = 420;
        StringBuilder svg = new StringBuilder(String.format(Locale.ROOT,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">%n",
                labelWidth + barWidth + 90, rowHeight * names.size() + 4));
        for (int i = 0; i < names.size(); i++) {
            Double v = values.get(i);
            int y = i * rowHeight + 2;
            double width = v.isNaN() ? 0 : barWidth * v / max;
            svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"end\">%s</text>",
                    labelWidth - 6, y + 15, escape(names.get(i))));
            svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>",
                    labelWidth, y + 2, width, rowHeight - 6, COLORS[i % COLORS.length]));
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\">%s</text>%n",
                    labelWidth + width + 5, y + 15, v.isNaN() ? "n/a" : String.format(Locale.ROOT, "%.3f ms", v)));
        }
        return svg.append("</svg>\n").toString();
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
