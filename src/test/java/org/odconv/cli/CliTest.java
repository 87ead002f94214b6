package org.odconv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import org.odconv.Tensor;
import org.odconv.Comparison;
import org.odconv.Device;
import org.odconv.Odconv;
import org.odconv.OnEachDevice;
import org.odconv.TestDevices;
import org.odconv.io.SafeTensors;

/** The command line end to end; the commands that run layers on every device present. */
class CliTest {
    @TempDir
    Path dir;

    record Result(int code, String out, String err) {}


    static Result odconv(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(args, new PrintWriter(out), new PrintWriter(err));
        return new Result(code, out.toString(), err.toString());
    }

    static Path golden(String name) {
        try {
            return Path.of(CliTest.class.getResource("/golden/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void assertOneLineError(Result r, String expectedFragment) {
        assertTrue(r.code() != 0, "exit code");
        assertTrue(r.err().strip().lines().count() == 1, "one line on stderr: " + r.err());
        assertTrue(r.err().contains(expectedFragment), r.err());
    }

    @OnEachDevice
    void runReproducesPyTorchsOutput(Device device) {
        Path output = dir.resolve("y.safetensors");
        Result r = odconv("run", "--model", golden("chain3/model.safetensors").toString(), "--input",
                golden("chain3/input.safetensors").toString(), "--output", output.toString(), "--threads", "1",
                "--device", device.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("wrote output [2, 24, 6, 6] to " + output + " (3 layers"), r.out());
        assertEquals(device.isCuda(), r.out().contains(" on " + device + ", copies included"), r.out());
        try (SafeTensors got = SafeTensors.open(output);
             SafeTensors want = SafeTensors.open(golden("chain3/expected.safetensors"))) {
            Comparison.assertClose(Comparison.toDouble(Tensor.from(want, "output").toArray()), Tensor.from(got, "output").toArray(),
                    "run --device " + device);
        }
    }

    @Test
    void runOneLayerOfAChain() throws Exception {
        // model.1 of chain3 is the depthwise stride-2 layer; feed it the first layer's real output
        Path inputFile = dir.resolve("x.safetensors");
        Path output = dir.resolve("y.safetensors");
        float[] expected;
        try (org.odconv.ODConvModel model = org.odconv.ODConvModel.load(golden("chain3/model.safetensors"));
             SafeTensors input = SafeTensors.open(golden("chain3/input.safetensors"));
             org.odconv.Tensor hidden = model.layer("model.0").forward(Tensor.from(input, "input"));
             org.odconv.Tensor second = model.layer("model.1").forward(hidden)) {
            Tensor.writeSafeTensors(inputFile, java.util.Map.of("input", hidden), java.util.Map.of());
            expected = second.toArray();
        }
        Result r = odconv("run", "--model", golden("chain3/model.safetensors").toString(), "--layer", "model.1",
                "--input", inputFile.toString(), "--output", output.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("wrote output [2, 32, 6, 6] to " + output + " (1 layer, "), r.out());
        try (SafeTensors got = SafeTensors.open(output)) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(expected, Tensor.from(got, "output").toArray());
        }
        r = odconv("run", "--model", golden("chain3/model.safetensors").toString(), "--layer", "model.7",
                "--input", inputFile.toString(), "--output", output.toString());
        assertOneLineError(r, "no layer \"model.7\" in " + golden("chain3/model.safetensors")
                + "; layers: [model.0, model.1, model.2]");
    }

    @Test
    void runFailuresAreOneLineAndLeaveNoOutput() throws Exception {
        Path output = dir.resolve("y.safetensors");
        Path missing = dir.resolve("nope.safetensors");
        Result r = odconv("run", "--model", missing.toString(), "--input", golden("chain3/input.safetensors").toString(),
                "--output", output.toString());
        assertOneLineError(r, "odconv: " + missing + ": no such file");

        r = odconv("run", "--model", golden("groups4_odd/model.safetensors").toString(), "--input",
                golden("basic_k3/input.safetensors").toString(), "--output", output.toString());
        assertOneLineError(r, "odconv: " + golden("basic_k3/input.safetensors") + ": tensor \"input\": input [1, 16, 9, 9]"
                + " does not fit layer \"model.0\": its input has 16 channels, expected in_planes = 20");

        r = odconv("run", "--model", golden("padding0/model.safetensors").toString(), "--input",
                golden("one_by_one_input/input.safetensors").toString(), "--output", output.toString());
        assertOneLineError(r, "tensor \"input\": input [2, 16, 1, 1] does not fit layer \"model.0\": its input height = 1"
                + " is too small: with padding 0 it must be at least 3 for kernelSize 3 and dilation 1");

        r = odconv("run", "--model", golden("chain3/model.safetensors").toString(), "--input",
                golden("chain3/model.safetensors").toString(), "--output", output.toString());
        assertOneLineError(r, "chain3/model.safetensors: tensor \"input\" is missing");

        r = odconv("run", "--model", golden("chain3/model.safetensors").toString(), "--input",
                golden("chain3/input.safetensors").toString(), "--output", output.toString(), "--device", "bogus");
        assertEquals(2, r.code());
        assertOneLineError(r, "odconv: Invalid value for option '--device': device \"bogus\" is not cpu, cuda or cuda:N"
                + " (N a GPU index) (see: odconv run --help)");

        r = odconv("run", "--model", golden("chain3/model.safetensors").toString(), "--input",
                golden("chain3/input.safetensors").toString(), "--output", output.toString(), "--tf32");
        assertEquals(2, r.code());
        assertOneLineError(r, "odconv: --tf32 applies to CUDA devices only, not cpu (see: odconv run --help)");

        r = odconv("run", "--model", golden("chain3/model.safetensors").toString());
        assertEquals(2, r.code());
        assertOneLineError(r, "Missing required options");

        // libgomp used to take the JVM down creating 20,000 threads
        r = odconv("run", "--model", golden("chain3/model.safetensors").toString(), "--input",
                golden("chain3/input.safetensors").toString(), "--output", output.toString(), "--threads", "20000");
        assertEquals(1, r.code());
        assertOneLineError(r, "num_threads = 20000 is more than ");

        assertFalse(Files.exists(output), "a failed run must not leave an output file");
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count(), "nor a temporary file");
        }
    }

    /** An output that is the model or the input, however spelled or linked, is refused and both stay as they were. */
    @Test
    void anOutputThatIsAnInputIsRefused() throws Exception {
        Path model = Files.copy(golden("chain3/model.safetensors"), dir.resolve("model.safetensors"));
        Path input = Files.copy(golden("chain3/input.safetensors"), dir.resolve("input.safetensors"));
        byte[] modelBytes = Files.readAllBytes(model), inputBytes = Files.readAllBytes(input);
        Path link = Files.createLink(dir.resolve("link.safetensors"), input);
        for (Path output : List.of(model, dir.resolve(".").resolve("input.safetensors"), link)) {
            Result r = odconv("run", "--model", model.toString(), "--input", input.toString(), "--output", output.toString());
            assertEquals(1, r.code(), r.err());
            assertOneLineError(r, "odconv: " + output + ": the output is the same file as ");
            assertTrue(r.err().contains("which writing it would replace; choose another --output"), r.err());
        }
        assertArrayEquals(modelBytes, Files.readAllBytes(model));
        assertArrayEquals(inputBytes, Files.readAllBytes(input));
    }

    /**
     * Outputs replace only regular files, carry the mode the umask gives new files, fit long names, and say why
     * they could not be written.
     */
    @Test
    void outputsAreWrittenLikeAnyNewFileAndNeverOverADevice() throws Exception {
        String model = golden("chain3/model.safetensors").toString(), input = golden("chain3/input.safetensors").toString();
        Result r = odconv("run", "--model", model, "--input", input, "--output", dir.toString());
        assertEquals(1, r.code());
        assertOneLineError(r, "odconv: cannot write " + dir + ": it is not a regular file (a folder, FIFO, socket or"
                + " device), which an output never replaces");
        Path fifo = dir.resolve("fifo");
        Assumptions.assumeTrue(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0, "no mkfifo");
        r = odconv("run", "--model", model, "--input", input, "--output", fifo.toString());
        assertEquals(1, r.code());
        assertTrue(Files.exists(fifo) && !Files.isRegularFile(fifo, LinkOption.NOFOLLOW_LINKS), "still a FIFO");
        Files.delete(fifo);

        r = odconv("run", "--model", model, "--input", input, "--output", dir.resolve("no/such/y.safetensors").toString());
        assertEquals(1, r.code());
        assertOneLineError(r, "odconv: cannot write " + dir.resolve("no/such/y.safetensors") + ": no such folder: "
                + dir.resolve("no/such"));

        Path longName = dir.resolve("y".repeat(240) + ".safetensors");
        r = odconv("run", "--model", model, "--input", input, "--output", longName.toString());
        assertEquals(0, r.code(), r.err());
        Path probe = Files.createFile(dir.resolve("probe"));  // what the umask makes of a new file here
        assertEquals(Files.getPosixFilePermissions(probe), Files.getPosixFilePermissions(longName));
        try (var files = Files.list(dir)) {
            assertEquals(Set.of(longName, probe), files.collect(Collectors.toSet()), "no temporary file left");
        }
    }

    /**
     * run reads its files instead of mapping them: a model truncated and rewritten in place (as cp does) while runs
     * go on gives each run a result or a one-line refusal, never a dead JVM (SIGBUS on a mapping, before).
     */
    @Test
    @Timeout(300)
    void runSurvivesItsModelChangingUnderIt() throws Exception {
        Path model = Files.copy(golden("chain3/model.safetensors"), dir.resolve("model.safetensors"));
        Path output = dir.resolve("y.safetensors");
        byte[] bytes = Files.readAllBytes(model);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger rewrites = new AtomicInteger();
        Thread vandal = new Thread(() -> {
            Random random = new Random(13);
            while (!stop.get()) {
                try (FileChannel channel = FileChannel.open(model, StandardOpenOption.WRITE)) {
                    channel.truncate(random.nextInt(bytes.length));
                    Thread.onSpinWait();
                    channel.truncate(0);
                    channel.write(ByteBuffer.wrap(bytes), 0);
                    rewrites.incrementAndGet();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        });
        vandal.start();
        int succeeded = 0;
        try {
            for (int i = 0; i < 40; i++) {
                Result r = odconv("run", "--model", model.toString(), "--input",
                        golden("chain3/input.safetensors").toString(), "--output", output.toString(), "--threads", "1");
                if (r.code() == 0) {
                    succeeded++;
                } else {
                    assertEquals(1, r.code(), r.err());
                    assertEquals(1, r.err().strip().lines().count(), r.err());
                    assertTrue(r.err().startsWith("odconv: " + model + ": "), r.err());
                }
            }
        } finally {
            stop.set(true);
            vandal.join();
        }
        assertTrue(rewrites.get() > 40, "the file changed " + rewrites.get() + " times");
        System.out.printf("runSurvivesItsModelChangingUnderIt: %d of 40 runs succeeded, %d rewrites%n", succeeded,
                rewrites.get());
    }

    /**
     * A GPU that cannot be used, for want of CUDA or past the last GPU, is one line naming why, exit code 1,
     * before any file is read or written.
     */
    @Test
    @Tag(TestDevices.TAG)
    void aGpuThatCannotBeUsedFailsInOneLine() {
        int count = Device.cudaDeviceCount();
        Device missing = Device.cuda(count);  // cuda:0 where CUDA cannot be used
        String expected = "odconv: cannot use " + missing + ": " + Device.cudaUnavailableReason().orElse("there ");
        Path output = dir.resolve("y.safetensors");
        Result r = odconv("run", "--model", golden("chain3/model.safetensors").toString(), "--input",
                golden("chain3/input.safetensors").toString(), "--output", output.toString(), "--device",
                missing.toString());
        assertEquals(1, r.code());
        assertOneLineError(r, expected);
        assertTrue(r.err().contains("CUDA"), r.err());
        assertFalse(Files.exists(output));
        for (String[] command : new String[][] {{"demo", "--device", missing.toString(), "--tf32"},
                {"bench", "--shape", "8,8,3,1,1,5,1", "--device", missing.toString()}}) {
            r = odconv(command);
            assertEquals(1, r.code(), String.join(" ", command));
            assertOneLineError(r, expected);
        }
    }

    @Test
    @Tag(TestDevices.TAG)
    void infoListsTheDevices() {
        Result r = odconv("info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("devices:\n  cpu: CPU ("), r.out());
        String cuda = Device.cudaUnavailableReason().map(reason -> "  cuda: none (" + reason + ")").orElse("  cuda:0: ");
        assertTrue(r.out().contains(cuda), r.out());
    }

    @Test
    void infoListsLayersAndParameterCounts() {
        Result r = odconv("info", "--model", golden("chain3/model.safetensors").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("3 layers"), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("model.1 ") && l.contains(" 32 ") && l.endsWith("1689")),
                r.out());
        assertTrue(r.out().contains("total parameters: 14748"), r.out());
    }

    /** Wrong numbers are argument errors: exit 2, the option named, as picocli reports the others. */
    @Test
    void wrongNumbersAreArgumentErrors() {
        String model = golden("chain3/model.safetensors").toString(), input = golden("chain3/input.safetensors").toString();
        Result iterations = odconv("demo", "--iterations", "0");
        assertEquals(2, iterations.code(), iterations.err());
        assertTrue(iterations.err().startsWith("odconv: --iterations 0 must be >= 1"), iterations.err());
        for (String[] args : List.of(new String[] {"demo", "--threads", "-1"},
                new String[] {"run", "--model", model, "--input", input, "--output", "y.safetensors", "--threads", "-1"})) {
            Result r = odconv(args);
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().startsWith("odconv: --threads -1 must be >= 0"), r.err());
        }
    }

    @OnEachDevice
    void demoMatchesItsBundledPyTorchOutput(Device device) {
        Result r = odconv("demo", "--iterations", "3", "--threads", "1", "--device", device.toString());
        assertEquals(0, r.code(), r.err() + r.out());
        assertTrue(r.out().startsWith("odconv " + Odconv.version() + " on " + (device.isCuda() ? device + ": " : "oneDNN")),
                r.out());
        assertTrue(r.out().contains(": MATCH"), r.out());
        assertTrue(r.out().contains("input [1, 16, 24, 24] -> output [1, 32, 12, 12]"), r.out());
        assertArrayEquals(new String[0], r.err().lines().toArray());
    }
}
