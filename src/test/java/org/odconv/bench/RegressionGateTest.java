package org.odconv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RegressionGateTest {
    private static final BenchmarkReport.Machine MACHINE = new BenchmarkReport.Machine("test cpu", 2, "oneDNN", "avx2", "");

    @TempDir
    Path dir;

    private static BenchmarkReport.Row row(String shape, int batch, double odconvMs, double floorMs) {
        int hw = shape.equals("S1") ? 56 : 28;  // cases are matched by their parameters, not their names
        return new BenchmarkReport.Row(shape, 64, 64, 3, 1, 1, hw, 1, batch, "nchw", "cpu", "f32", odconvMs, odconvMs * 0.99, floorMs,
                odconvMs * 0.9, odconvMs * 1.1);
    }

    private static BenchmarkReport report(BenchmarkReport.Row... rows) {
        return new BenchmarkReport(MACHINE, List.of(rows));
    }

    @Test
    void plantedSlowdownFailsTheGateAndNamesTheCase() {
        BenchmarkReport baseline = report(row("S1", 1, 1.05, 1.00), row("S1", 8, 8.4, 8.0));
        // Batch 8 gets 20% slower while its floor stays: planted regression.
        BenchmarkReport current = report(row("S1", 1, 1.06, 1.00), row("S1", 8, 8.4 * 1.2, 8.0));
        RegressionGate.Verdict verdict = RegressionGate.compare(baseline, current, 0.10);
        assertFalse(verdict.passed());
        assertEquals(1, verdict.regressions().size());
        RegressionGate.Regression r = verdict.regressions().getFirst();
        assertEquals("S1 b8 nchw", r.label());
        assertEquals(0.2, r.growth(), 1e-9);
        assertEquals("S1 b8 nchw: odconv/floor 1.050 -> 1.260 (+20.0%)", r.toString());
    }

    @Test
    void slowerMachineIsNotARegression() {
        BenchmarkReport baseline = report(row("S1", 1, 1.05, 1.00));
        BenchmarkReport current = report(row("S1", 1, 2.10, 2.00));  // everything twice as slow: same ratio
        assertTrue(RegressionGate.compare(baseline, current, 0.10).passed());
    }

    @Test
    void growthWithinTheThresholdPassesAndUnknownCasesAreListed() {
        BenchmarkReport baseline = report(row("S1", 1, 1.00, 1.00));
        BenchmarkReport current = report(row("S1", 1, 1.09, 1.00), row("S2", 1, 1.0, 1.0));
        RegressionGate.Verdict verdict = RegressionGate.compare(baseline, current, 0.10);
        assertTrue(verdict.passed());
        assertEquals(List.of("S2 b1 nchw"), verdict.unmatched());
        assertFalse(RegressionGate.compare(baseline, current, 0.05).passed());
        assertThrows(IllegalArgumentException.class, () -> RegressionGate.compare(baseline, current, -1));
    }

    @Test
    void reportRoundTripsThroughTheDocumentedSchema() throws IOException {
        BenchmarkReport original = report(row("S1", 1, 1.25, 1.125), row("S3", 8, 20.5, 19.0));
        Path file = dir.resolve("bench.json");
        original.write(file);
        String json = Files.readString(file);
        for (String field : List.of("\"machine\"", "\"cpu\"", "\"threads\"", "\"onednn\"", "\"isa\"", "\"results\"",
                "\"shape\"", "\"in\"", "\"out\"", "\"k\"", "\"stride\"", "\"groups\"", "\"hw\"", "\"kernel_num\"",
                "\"batch\"", "\"odconv_ms\"", "\"native_ms\"", "\"floor_ms\"", "\"odconv_p10_ms\"", "\"odconv_p90_ms\"")) {
            assertTrue(json.contains(field), "schema field " + field + " missing in " + json);
        }
        assertEquals(original, BenchmarkReport.read(file));
    }

    @Test
    void otherSystemsFilesMayOmitOurColumns() throws IOException {
        Path file = Files.writeString(dir.resolve("ort.json"), "{\"machine\":{\"cpu\":\"x\"},\"results\":[{\"shape\":\"S1\","
                + "\"in\":64,\"out\":64,\"k\":3,\"stride\":1,\"groups\":1,\"hw\":56,\"kernel_num\":1,\"batch\":1,"
                + "\"odconv_ms\":1.83}]}");
        BenchmarkReport other = BenchmarkReport.read(file);
        assertEquals(1.83, other.rows().getFirst().odconvMs());
        assertTrue(Double.isNaN(other.rows().getFirst().floorMs()));
        assertEquals("cpu", other.rows().getFirst().device());
        Path bad = Files.writeString(dir.resolve("bad.json"), "{\"results\":[{\"shape\":\"S1\",\"in\":\"64\"}]}");
        var e = assertThrows(org.odconv.io.ModelFormatException.class, () -> BenchmarkReport.read(bad));
        assertEquals(bad + ": results[0].in = \"64\" is not an integer", e.getMessage());
    }

    /** pytorch_eager.py --device cuda used to name the device once, for the machine: its rows ran on that GPU. */
    @Test
    void aDeviceNamedForTheMachineIsEveryRowsUnlessTheRowNamesItsOwn() throws IOException {
        Path file = Files.writeString(dir.resolve("pytorch-gpu.json"), "{\"machine\":{\"cpu\":\"x\",\"device\":\"cuda:0\"},"
                + "\"results\":[{\"shape\":\"S1\",\"in\":64,\"out\":64,\"k\":3,\"stride\":1,\"groups\":1,\"hw\":56,"
                + "\"kernel_num\":1,\"batch\":1,\"odconv_ms\":0.2},{\"shape\":\"S1\",\"in\":64,\"out\":64,\"k\":3,"
                + "\"stride\":1,\"groups\":1,\"hw\":56,\"kernel_num\":1,\"batch\":1,\"device\":\"cpu\",\"odconv_ms\":1.9}]}");
        List<String> devices = BenchmarkReport.read(file).rows().stream().map(BenchmarkReport.Row::device).toList();
        assertEquals(List.of("cuda:0", "cpu"), devices);
    }

    @Test
    void statisticsInterpolatePercentiles() {
        Statistics s = Statistics.of(new double[] {5, 1, 4, 2, 3});
        assertEquals(3, s.median());
        assertEquals(1.4, s.p10(), 1e-12);
        assertEquals(4.6, s.p90(), 1e-12);
    }
}
