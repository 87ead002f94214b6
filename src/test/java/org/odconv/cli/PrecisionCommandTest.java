package org.odconv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.odconv.Device;
import org.odconv.Precision;

/** --precision on the commands that run layers, and info's bf16 line. */
class PrecisionCommandTest {
    @TempDir
    Path dir;

    @Test
    void aBadPrecisionIsAUsageErrorNamingTheAcceptedOnes() {
        CliTest.Result r = CliTest.odconv("demo", "--precision", "fp16");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("precision 'fp16' is not one of f32, bf16"), r.err());
    }

    @Test
    void commandsOtherThanBenchTakeOnePrecision() {
        CliTest.Result r = CliTest.odconv("demo", "--precision", "f32,bf16");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--precision takes one value here, not 2"), r.err());
    }

    /** The demo in bfloat16 matches PyTorch within the bfloat16 bound where the CPU has it, else fails in one line. */
    @Test
    void demoInBfloat16MatchesOrIsRefusedInOneLine() {
        Optional<String> reason = Device.cpu().unsupportedReason(Precision.BF16);
        CliTest.Result r = CliTest.odconv("demo", "--precision", "bf16", "--iterations", "2");
        if (reason.isPresent()) {
            assertEquals(1, r.code(), r.out());
            assertEquals("odconv: cpu cannot compute in bf16: " + reason.get() + System.lineSeparator(), r.err());
            assertEquals("", r.out());
        } else {
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains(", in bf16") && r.out().contains("MATCH") && !r.out().contains("MISMATCH"),
                    r.out());
        }
    }

    /**
     * On any machine: in a JVM whose oneDNN is limited to AVX2, as on a CPU without bfloat16 instructions, info says
     * so and every command asking for bf16 fails in one line naming the instructions, before reading any file.
     */
    @Test
    void refusedInOneLineWhereTheCpuLacksTheInstructions() throws Exception {
        Run info = runLimitedToAvx2("info");
        assertEquals(0, info.code(), info.log());
        assertTrue(info.log().contains("  bf16: no (bfloat16 needs a CPU with AVX512-BF16"), info.log());
        assertTrue(info.log().contains("oneDNN finds avx2 here (ONEDNN_MAX_CPU_ISA=AVX2))"), info.log());
        for (String[] command : List.of(new String[] {"demo", "--precision", "bf16"},
                new String[] {"run", "--precision", "bf16", "--model", "missing.safetensors", "--input",
                        "missing-input.safetensors", "--output", dir.resolve("out.safetensors").toString()},
                new String[] {"bench", "--precision", "f32,bf16", "--shapes", "S1", "--iters", "5"})) {
            Run r = runLimitedToAvx2(command);
            assertEquals(1, r.code(), r.log());
            assertEquals("odconv: cpu cannot compute in bf16: bfloat16 needs a CPU with AVX512-BF16 (AMD Zen 4 and later,"
                    + " Intel Cooper Lake and later), AMX-BF16 or AVX-NE-CONVERT; oneDNN finds avx2 here"
                    + " (ONEDNN_MAX_CPU_ISA=AVX2)", r.log().strip(), String.join(" ", command));
        }
        assertTrue(Files.notExists(dir.resolve("out.safetensors")));
    }

    private record Run(int code, String log) {}

    private Run runLimitedToAvx2(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(List.of(args));
        Path log = dir.resolve("log.txt");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("ONEDNN_MAX_CPU_ISA", "AVX2");
        Process process = builder.start();
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "timed out: " + String.join(" ", args));
        return new Run(process.exitValue(), Files.readString(log));
    }
}
