package org.odconv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ONNX Runtime Java is an optional dependency: a class path without it (a library user's) still runs every
 * command but {@code onnx}, which says in one line what it needs.
 */
class WithoutOnnxRuntimeTest {
    @TempDir
    Path dir;

    private record Result(int code, String out, String err) {}

    private Result odconvWithoutOnnxRuntime(String... args) throws Exception {
        String classPath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(entry -> !entry.contains("onnxruntime")).collect(Collectors.joining(File.pathSeparator));
        assertFalse(classPath.isEmpty());
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", classPath, Main.class.getName()));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectOutput(dir.resolve("out.txt").toFile())
                .redirectError(dir.resolve("err.txt").toFile()).start();
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "timed out");
        return new Result(process.exitValue(), Files.readString(dir.resolve("out.txt")), Files.readString(dir.resolve("err.txt")));
    }

    @Test
    void otherCommandsRunAndOnnxSaysWhatItNeeds() throws Exception {
        Result info = odconvWithoutOnnxRuntime("info");
        assertEquals(0, info.code(), info.err());
        assertTrue(info.out().contains("  cpu: "), info.out());

        Path output = dir.resolve("y.safetensors");
        Result onnx = odconvWithoutOnnxRuntime("onnx", "--model", OnnxCommandTest.fixture("yolo.onnx").toString(),
                "--input", OnnxCommandTest.fixture("input_b1.safetensors").toString(), "--output", output.toString());
        assertEquals(1, onnx.code(), onnx.out() + onnx.err());
        assertEquals(1, onnx.err().strip().lines().count(), onnx.err());
        assertTrue(onnx.err().startsWith("odconv: the onnx command needs ONNX Runtime Java"
                + " (com.microsoft.onnxruntime:onnxruntime 1.17 or newer) on the class path"), onnx.err());
        assertTrue(Files.notExists(output));
    }
}
