package org.odconv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.odconv.CudaTests;
import org.odconv.Device;
import org.odconv.bench.BenchmarkReport;
import org.odconv.io.SafeTensors;

/** run, demo, bench and info with --device cuda, where a CUDA GPU can be used; skipped, saying why, elsewhere. */
class CudaCliTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void requireGpu() {
        CudaTests.requireGpu();
    }

    @Test
    void runOnCudaReproducesPyTorchsOutput() {
        Path output = dir.resolve("y.safetensors");
        CliTest.Result r = CliTest.odconv("run", "--model", CliTest.golden("chain3/model.safetensors").toString(),
                "--input", CliTest.golden("chain3/input.safetensors").toString(), "--output", output.toString(),
                "--device", "cuda");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains(" on cuda:0"), r.out());
        try (SafeTensors got = SafeTensors.open(output);
             SafeTensors want = SafeTensors.open(CliTest.golden("chain3/expected.safetensors"))) {
            float[] actual = got.tensor("output").toArray();
            float[] expected = want.tensor("output").toArray();
            double scale = 1;
            for (float e : expected) scale = Math.max(scale, Math.abs(e));
            for (int i = 0; i < expected.length; i++) assertEquals(expected[i], actual[i], 1e-4 * scale, "element " + i);
        }
    }

    @Test
    void demoMatchesOnCuda() {
        CliTest.Result r = CliTest.odconv("demo", "--iterations", "3", "--device", "cuda:0");
        assertEquals(0, r.code(), r.err() + r.out());
        assertTrue(r.out().contains(": MATCH"), r.out());
    }

    @Test
    void benchOnCudaWritesTheDevice() {
        Path json = dir.resolve("b.json");
        CliTest.Result r = CliTest.odconv("bench", "--shape", "8,16,3,1,2,9,2", "--batch", "1", "--layout", "nchw,nhwc",
                "--warmup", "1", "--iters", "5", "--device", "cuda", "--tf32", "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        BenchmarkReport report = BenchmarkReport.read(json);
        assertTrue(report.rows().stream().allMatch(row -> row.device().equals("cuda:0") && row.floorMs() > 0), r.out());
        assertEquals(Device.cuda(0).describe(), report.machine().gpu());
        assertTrue(r.out().contains("8,16,3,1,2,9,2 b1 nhwc cuda:0"), r.out());
    }

    @Test
    void infoListsTheGpus() {
        CliTest.Result r = CliTest.odconv("info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("  cuda:0: "), r.out());
    }

    @Test
    void aGpuIndexThatDoesNotExistIsOneLine() {
        int count = Device.cudaDeviceCount();
        CliTest.Result r = CliTest.odconv("demo", "--device", "cuda:" + count);
        assertEquals(1, r.code());
        assertTrue(r.err().strip().startsWith("odconv: cannot use cuda:" + count + ": there "), r.err());
    }
}
