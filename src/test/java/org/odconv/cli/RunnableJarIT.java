package org.odconv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * target/odconv.jar as a user runs it: plain {@code java -jar}, no flags, the native libraries extracted
 * from the jar into an empty folder. Runs in {@code verify}, after packaging.
 */
class RunnableJarIT {
    private static final Path JAR = Path.of("target/odconv.jar");

    @TempDir
    Path dir;

    private record Result(int code, String out, String err) {}

    private Result java(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Djava.io.tmpdir=" + dir.resolve("tmp"));  // a fresh extraction every run of this test
        command.add("-jar");
        command.add(JAR.toString());
        command.addAll(List.of(args));
        Files.createDirectories(dir.resolve("tmp"));
        Process process = new ProcessBuilder(command).redirectOutput(dir.resolve("out.txt").toFile())
                .redirectError(dir.resolve("err.txt").toFile()).start();
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "java -jar timed out");
        return new Result(process.exitValue(), Files.readString(dir.resolve("out.txt")),
                Files.readString(dir.resolve("err.txt")));
    }

    @Test
    void demoRunsWithoutFlagsOrWarnings() throws Exception {
        Result r = java("demo", "--iterations", "3");
        assertEquals(0, r.code(), r.err() + r.out());
        assertEquals("", r.err(), "nothing on stderr, no native-access warning");
        assertTrue(r.out().contains(": MATCH"), r.out());
        try (var extracted = Files.list(dir.resolve("tmp"))) {
            assertTrue(extracted.anyMatch(p -> p.getFileName().toString().startsWith("odconv-native-")));
        }
    }

    @Test
    void runReportsBadInputOnOneLine() throws Exception {
        Path output = dir.resolve("y.safetensors");
        Result r = java("run", "--model", "src/test/resources/golden/groups4_odd/model.safetensors", "--input",
                "src/test/resources/golden/basic_k3/input.safetensors", "--output", output.toString());
        assertEquals(1, r.code());
        assertEquals("odconv: src/test/resources/golden/basic_k3/input.safetensors: tensor \"input\": input [1, 16, 9, 9]"
                + " does not fit layer \"model.0\": its input has 16 channels, expected in_planes = 20", r.err().strip());
        assertTrue(Files.notExists(output));
    }

    /** ONNX Runtime and its natives are in the jar, and libodconv_ort.so is extracted beside libodconv.so. */
    @Test
    void onnxRunsAWholeNetworkWithTheOperator() throws Exception {
        Path output = dir.resolve("y.safetensors");
        Result r = java("onnx", "--model", "src/test/resources/onnx/yolo.onnx", "--input",
                "src/test/resources/onnx/input_b1.safetensors", "--output", output.toString(), "--threads", "1");
        assertEquals(0, r.code(), r.err() + r.out());
        assertEquals("", r.err(), "nothing on stderr");
        assertEquals("wrote p8 [1, 18, 8, 8], p16 [1, 18, 4, 4] to " + output, r.out().strip());
        try (var extracted = Files.list(dir.resolve("tmp"))) {
            Path natives = extracted.filter(p -> p.getFileName().toString().startsWith("odconv-native-")).findFirst()
                    .orElseThrow();
            assertTrue(Files.isRegularFile(natives.resolve("libodconv_ort.so")), natives.toString());
        }
    }

    /**
     * The packaged jar looks for libodconv_cuda.so beside its extracted libodconv.so: with it (and a GPU) the demo
     * runs on cuda:0; without, it fails in one line naming the reason.
     */
    @Test
    void demoOnCudaRunsOrSaysWhyNot() throws Exception {
        Result info = java("info");
        assertEquals(0, info.code(), info.err());
        boolean noGpu = info.out().contains("  cuda: none (");
        assertTrue(noGpu || info.out().contains("  cuda:0: "), info.out());
        Result r = java("demo", "--iterations", "3", "--device", "cuda");
        if (noGpu) {
            assertEquals(1, r.code(), r.out());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(r.err().startsWith("odconv: cannot use cuda:0: CUDA"), r.err());
        } else {
            assertEquals(0, r.code(), r.err() + r.out());
            assertTrue(r.out().contains(": MATCH"), r.out());
        }
    }
}
