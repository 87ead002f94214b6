package org.odconv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import org.odconv.Comparison;
import org.odconv.io.SafeTensors;

/** {@code odconv onnx}: ONNX models in ONNX Runtime with odconv's operator, from the command line. */
class OnnxCommandTest {
    @TempDir
    Path dir;

    static Path fixture(String name) {
        try {
            return Path.of(OnnxCommandTest.class.getResource("/onnx/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void assertOneLineError(CliTest.Result r, int code, String fragment) {
        assertEquals(code, r.code(), r.out() + r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line on stderr: " + r.err());
        assertTrue(r.err().contains(fragment), r.err());
    }

    private static void assertOutputsMatch(Path written, String expected) {
        try (SafeTensors got = SafeTensors.open(written); SafeTensors want = SafeTensors.open(fixture(expected))) {
            assertEquals(want.entries().keySet(), got.entries().keySet());
            for (String name : want.entries().keySet()) {
                assertArrayEquals(want.entry(name).shape(), got.entry(name).shape(), name);
                float[] expectedValues = want.floatData(want.entry(name)).toArray(ValueLayout.JAVA_FLOAT);
                float[] actual = got.floatData(got.entry(name)).toArray(ValueLayout.JAVA_FLOAT);
                Comparison.assertClose(Comparison.toDouble(expectedValues), actual, expected + " " + name);
            }
        }
    }

    @Test
    void runsTheNetworkAndWritesEveryOutputByName() {
        Path output = dir.resolve("y.safetensors");
        CliTest.Result r = CliTest.odconv("onnx", "--model", fixture("yolo.onnx").toString(), "--input",
                fixture("input_b5.safetensors").toString(), "--output", output.toString(), "--threads", "2");
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        assertEquals("wrote p8 [5, 18, 8, 8], p16 [5, 18, 4, 4] to " + output, r.out().strip());
        assertOutputsMatch(output, "expected_b5.safetensors");
    }

    /**
     * ONNX Runtime 1.29 overflows a 1 MiB thread stack creating its environment in a process with a command line
     * of a few kB (docs/onnx-runtime.md): the command creates it through OdconvOrt.environment(), which sizes a
     * thread's stack for it. A JVM of its own with a 40 kB command line: a class path of real length, padded.
     */
    @Test
    void runsInAJvmWithALongCommandLine() throws Exception {
        Path output = dir.resolve("y.safetensors");
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Dodconv.test.padding=" + "x".repeat(40_000),
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "onnx",
                "--model", fixture("yolo.onnx").toString(), "--input", fixture("input_b5.safetensors").toString(),
                "--output", output.toString(), "--threads", "2");
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("log.txt").toFile()).start();
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "timed out");
        String log = Files.readString(dir.resolve("log.txt"));
        assertEquals(0, process.exitValue(), log);
        assertTrue(log.contains("wrote p8 [5, 18, 8, 8], p16 [5, 18, 4, 4] to " + output), log);
        assertOutputsMatch(output, "expected_b5.safetensors");
    }

    @Test
    void plainRunsAStockModelWithoutTheOperator() {
        Path output = dir.resolve("y.safetensors");
        CliTest.Result r = CliTest.odconv("onnx", "--plain", "--model", fixture("yolo_static.onnx").toString(),
                "--input", fixture("input_b5.safetensors").toString(), "--output", output.toString());
        assertEquals(0, r.code(), r.err());
        assertOutputsMatch(output, "expected_static_b5.safetensors");
    }

    @Test
    void timesRunsAndWritesJson() throws Exception {
        Path json = dir.resolve("t.json");
        CliTest.Result r = CliTest.odconv("onnx", "--model", fixture("yolo.onnx").toString(), "--input",
                fixture("input_b1.safetensors").toString(), "--threads", "1", "--iterations", "4", "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("yolo.onnx: batch 1, 1 threads, 7 odconv nodes: median "), r.out());
        JsonNode row = new ObjectMapper().readTree(json.toFile());
        assertEquals("yolo.onnx", row.get("model").asText());
        assertEquals(1, row.get("batch").asInt());
        assertEquals(1, row.get("threads").asInt());
        assertEquals(4, row.get("iterations").asInt());
        assertEquals(7, row.get("odconv_nodes").asInt());
        assertTrue(row.get("p10_ms").asDouble() > 0, row.toString());
        assertTrue(row.get("p10_ms").asDouble() <= row.get("median_ms").asDouble(), row.toString());
        assertTrue(row.get("median_ms").asDouble() <= row.get("p90_ms").asDouble(), row.toString());
        assertEquals(false, row.get("plain").asBoolean());
    }

    @Test
    void profileHasEveryOdconvNodeInEveryTimedRunAndNothingElseIsLeft() throws Exception {
        Path profile = dir.resolve("profile.json");
        CliTest.Result r = CliTest.odconv("onnx", "--model", fixture("yolo.onnx").toString(), "--input",
                fixture("input_b1.safetensors").toString(), "--threads", "1", "--iterations", "4", "--profile",
                profile.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("wrote ONNX Runtime's profile to " + profile), r.out());
        Map<String, Integer> runsPerOdconvNode = new TreeMap<>();
        for (JsonNode event : new ObjectMapper().readTree(profile.toFile())) {
            String name = event.path("name").asText();
            if ("Node".equals(event.path("cat").asText()) && name.endsWith("_kernel_time")
                    && "ODConv2d".equals(event.path("args").path("op_name").asText())) {
                runsPerOdconvNode.merge(name, 1, Integer::sum);
            }
        }
        assertEquals(7, runsPerOdconvNode.size(), runsPerOdconvNode.toString());
        runsPerOdconvNode.forEach((node, runs) -> assertTrue(runs >= 4, node + " ran " + runs + " times"));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(profile), files.toList());
        }
    }

    @Test
    void aFailedRunLeavesNoProfile() throws Exception {
        CliTest.Result r = CliTest.odconv("onnx", "--model", fixture("single.onnx").toString(), "--input",
                fixture("input_b1.safetensors").toString(), "--iterations", "2", "--profile",
                dir.resolve("profile.json").toString());
        assertOneLineError(r, 1, "expected 8 channels");
        try (var files = Files.list(dir)) {
            assertEquals(List.of(), files.toList());
        }
    }

    @Test
    void plainRefusesAModelWithOdconvNodes() {
        Path output = dir.resolve("y.safetensors");
        CliTest.Result r = CliTest.odconv("onnx", "--plain", "--model", fixture("yolo.onnx").toString(), "--input",
                fixture("input_b1.safetensors").toString(), "--output", output.toString());
        assertOneLineError(r, 1, "yolo.onnx: 7 org.odconv::ODConv2d nodes, which --plain (stock ONNX Runtime) cannot run");
        assertTrue(Files.notExists(output));
    }

    /** Model, input, and two parts of the one error line: what failed, and why. */
    @ParameterizedTest(name = "{0} on {1}")
    @CsvSource(delimiter = '|', value = {
        "bad_stride0.onnx | single_a.safetensors | bad_stride0.onnx: ONNX Runtime cannot load it: "
                + "| ODConv2d node '/ODConv2d': attribute stride = 0 is out of range",
        "yolo.onnx | expected_b1.safetensors | expected_b1.safetensors: | tensor \"input\" is missing",
        "yolo.onnx | single_a.safetensors | single_a.safetensors: | tensor \"input\" has shape [2, 8, 17, 23], the"
                + " model's input \"input\" is [?, 3, 64, 64]",
        "single.onnx | input_b1.safetensors | single.onnx: ONNX Runtime failed to run it on "
                + "| ODConv2d node '/ODConv2d': input 0 (X) has shape [1, 3, 64, 64], expected 8 channels",
    })
    void failuresAreOneLineAndLeaveNoOutput(String model, String input, String what, String why) {
        Path output = dir.resolve("y.safetensors");
        CliTest.Result r = CliTest.odconv("onnx", "--model", fixture(model).toString(), "--input",
                fixture(input).toString(), "--output", output.toString());
        assertOneLineError(r, 1, why.strip());
        assertTrue(r.err().contains(what.strip()), r.err());
        assertTrue(Files.notExists(output));
    }

    /**
     * No output may replace an input or another output, and each is checked before anything is written: --json
     * and --profile replaced the model or the input before, and a --profile folder became a file.
     */
    @Test
    void outputsThatWouldReplaceAnInputOrEachOtherAreRefusedBeforeAnythingIsWritten() throws Exception {
        Path model = Files.copy(fixture("single.onnx"), dir.resolve("m.onnx"));
        Path input = Files.copy(fixture("single_a.safetensors"), dir.resolve("in.safetensors"));
        byte[] modelBytes = Files.readAllBytes(model), inputBytes = Files.readAllBytes(input);
        Path existing = Files.writeString(dir.resolve("y.safetensors"), "kept");
        Path folder = Files.createDirectory(dir.resolve("folder"));
        String m = model.toString(), in = input.toString();
        assertOneLineError(CliTest.odconv("onnx", "--model", m, "--input", in, "--iterations", "1", "--json", m), 1,
                m + ": the output is the same file as " + m + ", which writing it would replace; choose another --json");
        assertOneLineError(CliTest.odconv("onnx", "--model", m, "--input", in, "--iterations", "1", "--profile", in), 1,
                "choose another --profile");
        assertOneLineError(CliTest.odconv("onnx", "--model", m, "--input", in, "--output", existing.toString(),
                "--iterations", "1", "--json", existing.toString()), 1,
                existing + ": --output and --json name the same file, which the second would replace; choose another --json");
        assertOneLineError(CliTest.odconv("onnx", "--model", m, "--input", in, "--output", existing.toString(),
                "--iterations", "1", "--profile", folder.toString()), 1,
                "cannot write " + folder + ": it is not a regular file");
        assertArrayEquals(modelBytes, Files.readAllBytes(model));
        assertArrayEquals(inputBytes, Files.readAllBytes(input));
        assertEquals("kept", Files.readString(existing), "--output untouched when a later output is refused");
        assertTrue(Files.isDirectory(folder));
        try (var files = Files.list(dir)) {
            assertEquals(4, files.count(), "nothing else left behind");
        }
    }

    /** An input file's tensor the model does not take (a misspelt name, say) is refused, not ignored. */
    @Test
    void anInputTensorTheModelDoesNotTakeIsRefused() throws Exception {
        Path input = dir.resolve("extra.safetensors");
        try (SafeTensors given = SafeTensors.open(fixture("single_a.safetensors"))) {
            SafeTensors.F32Array x = new SafeTensors.F32Array(given.entry("input").shape(),
                    given.floatData(given.entry("input")));
            SafeTensors.writeArrays(input, new java.util.LinkedHashMap<>(java.util.Map.of("input", x, "inptu", x)),
                    java.util.Map.of());
        }
        assertOneLineError(CliTest.odconv("onnx", "--model", fixture("single.onnx").toString(), "--input",
                input.toString(), "--iterations", "1"), 1,
                input + ": tensors the model does not take: inptu (its inputs: input)");
    }

    @Test
    void argumentErrorsExitWithTwo() {
        String model = fixture("yolo.onnx").toString();
        String input = fixture("input_b1.safetensors").toString();
        assertOneLineError(CliTest.odconv("onnx", "--model", model, "--input", input), 2,
                "give --output, --iterations or both");
        assertOneLineError(CliTest.odconv("onnx", "--model", model, "--input", input, "--json", "x.json"), 2,
                "--json needs --iterations");
        assertOneLineError(CliTest.odconv("onnx", "--model", model, "--input", input, "--iterations", "-1"), 2,
                "--iterations -1 must be >= 0");
        assertOneLineError(CliTest.odconv("onnx", "--model", dir.toString(), "--input", input, "--iterations", "1"), 1,
                dir + ": not a regular file");
    }
}
