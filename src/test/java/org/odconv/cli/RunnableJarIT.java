package org.odconv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.odconv.internal.NativeLibrary;

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
        return java(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()), args);
    }

    /** {@code JAVA -jar odconv.jar args}, JAVA the given command line (another JVM, or this one as another user). */
    private Result java(List<String> java, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(java);
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
        assertTrue(Files.isRegularFile(nativesFolder().resolve(NativeLibrary.LIBRARY_FILE)));
    }

    /** This process's uid: the owner of /proc/self. */
    private static int uid() throws IOException {
        return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    }

    /** The folder this user's run extracted the natives into: tmp/odconv-native-UID/BUILD. */
    private Path nativesFolder() throws IOException {
        int uid = uid();
        try (var builds = Files.list(dir.resolve("tmp").resolve("odconv-native-" + uid))) {
            return builds.filter(Files::isDirectory).findFirst().orElseThrow();
        }
    }

    /** Whether libcuda.so.1 is in a folder the dynamic loader searches (ld.so.cache's, LD_LIBRARY_PATH's). */
    private static boolean driverInstalled() throws IOException, InterruptedException {
        Process ldconfig = new ProcessBuilder("/sbin/ldconfig", "-p").redirectErrorStream(true).start();
        String cache = new String(ldconfig.getInputStream().readAllBytes());
        ldconfig.waitFor();
        if (cache.contains("libcuda.so.1 ")) return true;
        String extra = System.getenv().getOrDefault("LD_LIBRARY_PATH", "");
        for (String folder : extra.split(":")) {
            if (!folder.isEmpty() && Files.exists(Path.of(folder, "libcuda.so.1"))) return true;
        }
        return false;
    }

    /** A libodconv.so of another version (a stale -Dodconv.library.path, say) is refused in one line naming both. */
    @Test
    void aNativeLibraryOfAnotherVersionIsRefused() throws Exception {
        Path fake = Files.createDirectories(dir.resolve("fake"));
        Path source = Files.writeString(fake.resolve("fake.c"), "unsigned odconv_version(void) { return 90807; }\n");
        Process cc = new ProcessBuilder("cc", "-shared", "-fPIC", "-o", fake.resolve(NativeLibrary.LIBRARY_FILE).toString(),
                source.toString()).inheritIO().start();
        Assumptions.assumeTrue(cc.waitFor() == 0, "skipped: no C compiler to build a fake libodconv.so");
        Result r = java(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dodconv.library.path=" + fake), "info");
        assertEquals(1, r.code(), r.err() + r.out());
        assertEquals("odconv: " + fake.resolve(NativeLibrary.LIBRARY_FILE) + " is odconv 9.8.7, but this Java code is odconv " + org.odconv.Odconv.version() + ":"
                + " use the jar's own natives or a folder from the same build (-Dodconv.library.path)", r.err().strip());
    }

    /** A JDK older than odconv's Java 22 installed here (Debian's default 17, say), if there is one. */
    private static Path oldJava() throws IOException {
        try (var homes = Files.list(Path.of("/usr/lib/jvm"))) {
            for (Path home : (Iterable<Path>) homes::iterator) {
                Path release = home.resolve("release"), java = home.resolve("bin/java");
                if (!Files.isRegularFile(release) || !Files.isExecutable(java)) continue;
                for (String line : Files.readAllLines(release)) {
                    if (line.matches("JAVA_VERSION=\"(1\\.)?([89]|1[0-9]|2[01])[.\"].*")) return java;
                }
            }
        } catch (java.nio.file.NoSuchFileException none) {
            // no /usr/lib/jvm
        }
        Assumptions.abort("skipped: no JDK older than 22 in /usr/lib/jvm to run the jar with");
        return null;
    }

    /** On an old JVM the jar finds the newer JDK, says so in one line, and runs the command there, exit code too. */
    @Test
    void anOldJavaRelaunchesOnANewerJdk() throws Exception {
        Path old = oldJava();
        String newer = System.getProperty("java.home");
        List<String> java = List.of(old.toString(), "-Dodconv.java.search=" + newer);
        Result demo = java(java, "demo", "--iterations", "1");
        assertEquals(0, demo.code(), demo.err() + demo.out());
        assertTrue(demo.out().contains(": MATCH"), demo.out());
        assertEquals(1, demo.err().strip().lines().count(), demo.err());
        assertTrue(demo.err().matches("odconv: this is Java \\d+ \\(" + old.toRealPath().getParent().getParent()
                + "\\), odconv needs 22 or newer: running on Java " + Runtime.version().feature() + " at " + newer + "\\s*"),
                demo.err());
        Result bad = java(java, "run", "--model", "missing.safetensors", "--input", "x", "--output", "y");
        assertEquals(1, bad.code(), bad.err());
        assertTrue(bad.err().strip().endsWith("missing.safetensors: no such file"), bad.err());
    }

    /** Where no JDK 22+ can be found: one line naming the Java found and where it looked, exit 1. */
    @Test
    void anOldJavaWithoutANewerJdkSaysSoInOneLine() throws Exception {
        Path old = oldJava();
        Path empty = Files.createDirectories(dir.resolve("no-jdks"));
        Result r = java(List.of(old.toString(), "-Dodconv.java.search=" + empty), "demo");
        assertEquals(1, r.code(), r.err());
        assertEquals("", r.out());
        assertEquals("odconv: needs Java 22 or newer, and this is Java " + oldRelease(old) + " ("
                + old.toRealPath().getParent().getParent() + "); no JDK 22+ found in " + empty + ": install one (e.g. Temurin 25) and"
                + " run its bin/java -jar, or name its folder with -Dodconv.java.search=DIR", r.err().strip());
    }

    private static String oldRelease(Path java) throws IOException {
        for (String line : Files.readAllLines(java.getParent().getParent().resolve("release"))) {
            if (line.startsWith("JAVA_VERSION=")) {
                String[] parts = line.substring(13).replace("\"", "").split("\\.");
                return parts[0].equals("1") ? parts[1] : parts[0];
            }
        }
        throw new IllegalStateException(java + " has no JAVA_VERSION");
    }

    /**
     * Two users on one machine, one temporary folder (as /tmp: everyone may write, the sticky bit set): each gets
     * a copy of their own. Before, root's extraction (mode 0700) made every other user's run fail.
     */
    @Test
    void anotherUserRunsAfterRootExtracted() throws Exception {
        int uid = uid();
        Assumptions.assumeTrue(uid == 0 && Files.isExecutable(Path.of("/usr/bin/setpriv")),
                "skipped: needs root and setpriv to run as another user");
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        assertEquals(0, new ProcessBuilder("chmod", "755", dir.toString()).start().waitFor());
        assertEquals(0, new ProcessBuilder("chmod", "1777", tmp.toString()).start().waitFor());
        Path jar = JAR.toAbsolutePath();
        for (Path p = jar.getParent(); p != null; p = p.getParent()) {
            Assumptions.assumeTrue(Files.getPosixFilePermissions(p).contains(PosixFilePermission.OTHERS_EXECUTE),
                    "skipped: another user cannot reach " + jar);
        }
        Result root = java("demo", "--iterations", "1");
        assertEquals(0, root.code(), root.err());
        Result nobody = java(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString()), "demo", "--iterations", "1");
        assertEquals(0, nobody.code(), nobody.err() + nobody.out());
        assertTrue(nobody.out().contains(": MATCH"), nobody.out());
        assertEquals(65534, Files.getAttribute(tmp.resolve("odconv-native-65534"), "unix:uid"));
        assertEquals(0, Files.getAttribute(tmp.resolve("odconv-native-0"), "unix:uid"));
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
        Path natives = nativesFolder();
        assertTrue(Files.isRegularFile(natives.resolve("libodconv_ort.so")), natives.toString());
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
        if (!driverInstalled()) {  // not "CUDA driver version is insufficient", the CUDA runtime's word for it
            assertTrue(info.out().contains("  cuda: none (CUDA backend not available: no NVIDIA driver: libcuda.so.1"
                    + " cannot be loaded ("), info.out());
        }
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
