package org.odconv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.odconv.Device;
import org.odconv.OnEachDevice;
import org.odconv.bench.BenchmarkReport;

/** The bench command end to end on a tiny shape (timings are not asserted: CI machines are noisy). */
class BenchCommandTest {
    private static final String[] TINY = {"bench", "--shape", "8,16,3,1,2,9,2", "--batch", "1,2", "--layout", "nchw,nhwc",
            "--warmup", "1", "--iters", "5", "--threads", "1"};

    @TempDir
    Path dir;

    private static String[] with(String... extra) {
        String[] args = new String[TINY.length + extra.length];
        System.arraycopy(TINY, 0, args, 0, TINY.length);
        System.arraycopy(extra, 0, args, TINY.length, extra.length);
        return args;
    }

    @Test
    void writesTableJsonAndReport() throws Exception {
        Path json = dir.resolve("b.json");
        Path html = dir.resolve("b.html");
        Path other = Files.writeString(dir.resolve("other-system.json"), "{\"machine\":{},\"results\":[{\"shape\":\"x\","
                + "\"in\":8,\"out\":16,\"k\":3,\"stride\":1,\"groups\":2,\"hw\":9,\"kernel_num\":2,\"batch\":1,"
                + "\"layout\":\"nchw\",\"odconv_ms\":0.5}]}");
        CliTest.Result r = CliTest.odconv(with("--json", json.toString(), "--report", html.toString(), "--compare",
                other.toString()));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("8,16,3,1,2,9,2 b2 nhwc"), r.out());
        assertTrue(r.out().contains("geometric mean odconv/floor (a/c)"), r.out());
        assertTrue(r.err().contains("[4/4] 8,16,3,1,2,9,2 b2 nhwc ..."), "progress lines: " + r.err());
        BenchmarkReport report = BenchmarkReport.read(json);
        assertEquals(4, report.rows().size());
        assertEquals(List.of(1, 1, 2, 2), report.rows().stream().map(BenchmarkReport.Row::batch).toList());
        assertTrue(report.rows().stream().allMatch(row -> row.odconvMs() > 0 && row.floorMs() > 0 && row.nativeMs() > 0));
        // files from before devices (no "device" field) read as the CPU, and match CPU rows
        assertEquals("cpu", BenchmarkReport.read(other).rows().getFirst().device());
        String page = Files.readString(html);
        assertTrue(page.contains("<svg") && page.contains("other-system.json") && !page.contains("<script"), page);
    }

    /** Each row, the machine and the table name the device the forwards ran on; --tf32 is for GPUs only. */
    @OnEachDevice
    void benchRecordsTheDeviceItRanOn(Device device) throws Exception {
        Path json = dir.resolve("b.json");
        List<String> args = new ArrayList<>(List.of(with("--device", device.toString(), "--json", json.toString())));
        if (device.isCuda()) args.add("--tf32");
        CliTest.Result r = CliTest.odconv(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        BenchmarkReport report = BenchmarkReport.read(json);
        assertEquals(4, report.rows().size());
        assertTrue(report.rows().stream().allMatch(row -> row.device().equals(device.toString())
                && row.odconvMs() > 0 && row.nativeMs() > 0 && row.floorMs() > 0), Files.readString(json));
        assertEquals(device.isCuda() ? device.describe() : "", report.machine().gpu(), "the GPU, or none on the CPU");
        assertTrue(Files.readString(json).contains("\"device\" : \"" + device + "\""), Files.readString(json));
        String suffix = device.isCuda() ? " " + device : "";
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("8,16,3,1,2,9,2 b2 nhwc" + suffix + " ")), r.out());
    }

    @Test
    void baselineGateFailsOnARegressionAndNamesIt() throws Exception {
        // A baseline in which odconv ran at a tenth of the floor's time: today's run must read as a regression.
        Path baseline = Files.writeString(dir.resolve("baseline.json"), "{\"machine\":{},\"results\":[{\"shape\":\"x\","
                + "\"in\":8,\"out\":16,\"k\":3,\"stride\":1,\"groups\":2,\"hw\":9,\"kernel_num\":2,\"batch\":2,"
                + "\"layout\":\"nhwc\",\"odconv_ms\":0.1,\"native_ms\":0.1,\"floor_ms\":1.0}]}");
        CliTest.Result r = CliTest.odconv(with("--baseline", baseline.toString()));
        assertEquals(1, r.code(), r.out());
        String error = r.err().lines().filter(l -> l.startsWith("odconv: ")).findFirst().orElse("");
        assertTrue(error.startsWith("odconv: odconv/floor regressed by more than 10% against " + baseline
                + ": 8,16,3,1,2,9,2 b2 nhwc: odconv/floor 0.100 -> "), r.err());
        assertTrue(r.out().contains("baseline has no case 8,16,3,1,2,9,2 b1 nchw; not judged"), r.out());

        CliTest.Result lenient = CliTest.odconv(with("--baseline", baseline.toString(), "--max-regression", "1000"));
        assertEquals(0, lenient.code(), lenient.err());
    }

    /**
     * Wrong numbers are argument errors (exit 2) found before the benchmark runs, and no output may replace the
     * baseline or a compared file, or another output: a regressed run wrote its figures over its own baseline.
     */
    @Test
    void wrongNumbersAndClashingFilesAreRefusedBeforeTheBenchmarkRuns() throws Exception {
        for (String[] wrong : List.of(new String[] {"--max-regression", "-1"}, new String[] {"--max-regression", "NaN"},
                new String[] {"--batch", "0"}, new String[] {"--layout", "nhcw"}, new String[] {"--iters", "3"},
                new String[] {"--warmup", "-1"}, new String[] {"--threads", "-1"})) {
            CliTest.Result r = CliTest.odconv("bench", "--shape", "8,16,3,1,2,9,2", wrong[0], wrong[1]);
            assertEquals(2, r.code(), String.join(" ", wrong) + ": " + r.err());
            assertTrue(r.err().startsWith("odconv: " + wrong[0] + " " + (wrong[1].equals("-1") && wrong[0].equals(
                    "--max-regression") ? "-1.0" : wrong[1])), r.err());
            assertTrue(!r.err().contains("[1/"), "refused before the first case: " + r.err());
        }
        Path baseline = Files.writeString(dir.resolve("baseline.json"), "{\"machine\":{},\"results\":[]}");
        CliTest.Result overBaseline = CliTest.odconv(with("--baseline", baseline.toString(), "--json", baseline.toString()));
        assertEquals(1, overBaseline.code());
        assertEquals("odconv: " + baseline + ": the output is the same file as " + baseline + ", which writing it would"
                + " replace; choose another --json", overBaseline.err().strip());
        assertEquals("{\"machine\":{},\"results\":[]}", Files.readString(baseline));
        Path both = dir.resolve("r.out");
        CliTest.Result twice = CliTest.odconv(with("--json", both.toString(), "--report", both.toString()));
        assertEquals(1, twice.code());
        assertTrue(twice.err().contains("--json and --report name the same file"), twice.err());
        assertTrue(Files.notExists(both));
    }

    @Test
    void badArgumentsAreOneLine() {
        CliTest.Result r = CliTest.odconv("bench", "--shapes", "S9");
        assertEquals(1, r.code());
        assertEquals("odconv: unknown shape \"S9\"; standard shapes are S1..S5 or all", r.err().strip());
        r = CliTest.odconv("bench", "--shape", "8,8,3");
        assertEquals("odconv: shape \"8,8,3\" must be in,out,k,stride,groups,hw,kernel_num", r.err().strip());
    }
}
