package org.odconv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;

import javax.tools.ToolProvider;
import javax.xml.parsers.DocumentBuilderFactory;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.odconv.internal.NativeLibrary;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * The library artifact as another project gets it (org.odconv:odconv, the POM {@code ./mvnw install} installs):
 * API, IO and CPU natives only, nothing a host could clash with, enough on its own to run a model. Runs in
 * {@code verify}, after packaging.
 */
class LibraryJarIT {
    private static final Path LIBRARY = Path.of("target/odconv-" + System.getProperty("odconv.project.version") + ".jar");
    private static final Path CUDA = Path.of(LIBRARY.toString().replace(".jar", "-cuda.jar"));
    private static final Path POM = Path.of("dependency-reduced-pom.xml");

    @TempDir
    Path dir;

    private static List<String> entries(Path jar) throws IOException {
        try (JarFile file = new JarFile(jar.toFile())) {
            return file.stream().map(ZipEntry::getName).toList();
        }
    }

    @Test
    void holdsTheApiAndCpuNativesAndNothingAHostCouldClashWith() throws Exception {
        List<String> entries = entries(LIBRARY);
        assertTrue(entries.contains("org/odconv/ODConv2d.class"));
        assertTrue(entries.contains("org/odconv/io/SafeTensors.class"));
        assertTrue(entries.contains("org/odconv/native/linux-x86_64/" + NativeLibrary.LIBRARY_FILE));
        assertTrue(entries.contains("org/odconv/native/linux-x86_64/natives.sha256"));
        assertTrue(entries.contains("org/odconv/internal/shaded/jackson/databind/ObjectMapper.class"),
                "Jackson, relocated into odconv's own package");
        for (String entry : entries) {
            assertFalse(entry.startsWith("org/odconv/cli/") || entry.startsWith("org/odconv/bench/"), entry);
            assertFalse(entry.contains("com/fasterxml/") || entry.startsWith("picocli/"), entry);
            assertFalse(entry.endsWith("libodconv_cuda.so") || entry.endsWith("natives-cuda.sha256"), entry);
        }
    }

    /**
     * On a module path the jar is module org.odconv: it exports the API packages only (internal, bindings and the
     * relocated Jackson stay inside) and requires nothing but ONNX Runtime, optionally.
     */
    @Test
    void isAModuleThatExportsTheApiOnly() {
        java.io.StringWriter out = new java.io.StringWriter();
        int code = java.util.spi.ToolProvider.findFirst("jar").orElseThrow().run(new java.io.PrintWriter(out),
                new java.io.PrintWriter(out), "--describe-module", "--file", LIBRARY.toString());
        assertEquals(0, code, out.toString());
        List<String> lines = out.toString().lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
        assertTrue(lines.get(0).startsWith("org.odconv"), out.toString());
        assertEquals(List.of("exports org.odconv", "exports org.odconv.io", "exports org.odconv.ort"),
                lines.stream().filter(l -> l.startsWith("exports") || l.startsWith("opens")).sorted().toList());
        assertEquals(List.of("requires com.microsoft.onnxruntime static", "requires java.base mandated"),
                lines.stream().filter(l -> l.startsWith("requires")).sorted().toList());
    }

    /**
     * A module that requires org.odconv, on a module path with the library jar alone, runs a layer; odconv's
     * internal packages are closed to it.
     */
    @Test
    void aModuleRunsALayerAndCannotReachTheInternals() throws Exception {
        Path sources = Files.createDirectories(dir.resolve("modules/consumer/consumer"));
        Files.writeString(sources.getParent().resolve("module-info.java"), "module consumer { requires org.odconv; }\n");
        Files.writeString(sources.resolve("Main.java"), """
                package consumer;

                import org.odconv.*;

                public class Main {
                    public static void main(String[] args) throws Exception {
                        ODConv2dConfig config = ODConv2dConfig.builder(16, 16, 3).build();
                        System.out.println("odconv " + Odconv.version() + ", output " + java.util.Arrays.toString(
                                config.outputSize(9, 7)));
                        try {
                            Class.forName("org.odconv.internal.NativeLibrary").getMethod("load").invoke(null);
                            System.out.println("internal: reachable");
                        } catch (IllegalAccessException e) {
                            System.out.println("internal: closed");
                        }
                    }
                }
                """);
        Path classes = Files.createDirectories(dir.resolve("module-classes"));
        int compiled = ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", classes.toString(),
                "--module-path", LIBRARY.toString(), "--module-source-path", dir.resolve("modules").toString(),
                "-m", "consumer");
        assertEquals(0, compiled, "the module compiles against the library jar's exports");
        List<String> lines = java(List.of("--enable-native-access=org.odconv", "--module-path",
                LIBRARY + File.pathSeparator + classes, "-m", "consumer/consumer.Main"));
        assertEquals(List.of("odconv " + Odconv.version() + ", output [9, 7]", "internal: closed"), lines);
    }

    /** The installed POM: no Jackson (it is inside), the command line's picocli and ONNX Runtime optional. */
    @Test
    void itsPomBringsNoDependencyAlong() throws Exception {
        Map<String, String> dependencies = new TreeMap<>();  // artifactId -> scope, optional
        NodeList nodes = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(POM.toFile())
                .getElementsByTagName("dependency");
        for (int i = 0; i < nodes.getLength(); i++) {
            Element dependency = (Element) nodes.item(i);
            if (dependency.getParentNode().getParentNode().getNodeName().equals("dependencyManagement")) continue;
            if (dependency.getParentNode().getParentNode().getNodeName().equals("profile")) continue;
            dependencies.put(text(dependency, "artifactId"), text(dependency, "scope") + " " + text(dependency, "optional"));
        }
        assertEquals(Map.of("picocli", "compile true", "onnxruntime", "compile true", "junit-jupiter", "test ",
                "jazzer-junit", "test ", "onnxruntime-engine", "test "), dependencies);
    }

    private static String text(Element element, String child) {
        NodeList nodes = element.getElementsByTagName(child);
        return nodes.getLength() == 0 ? "" : nodes.item(0).getTextContent().strip();
    }

    /**
     * A program compiled and run against the library jar alone (no Jackson, no picocli on the class path) loads a
     * model, runs it and matches PyTorch; with the "cuda" jar beside it, the CUDA backend is found.
     */
    @Test
    void aProgramRunsAModelWithTheLibraryJarAlone() throws Exception {
        Path source = Files.writeString(Files.createDirectories(dir.resolve("src")).resolve("Consumer.java"), """
                import java.nio.file.Path;
                import org.odconv.*;
                import org.odconv.io.SafeTensors;

                public class Consumer {
                    public static void main(String[] args) {
                        try (ODConvModel model = ODConvModel.load(Path.of(args[0]));
                             SafeTensors input = SafeTensors.open(Path.of(args[1]));
                             SafeTensors expected = SafeTensors.open(Path.of(args[2]));
                             Tensor y = model.forward(Tensor.from(input, "input"))) {
                            float[] want = Tensor.from(expected, "output").toArray(), got = y.toArray();
                            double error = 0;
                            for (int i = 0; i < got.length; i++) error = Math.max(error, Math.abs(got[i] - want[i]));
                            System.out.println("elements " + got.length + " of " + want.length + ", max error " + error);
                            System.out.println("cuda: " + Device.cudaUnavailableReason().orElse("usable"));
                        }
                    }
                }
                """);
        Path classes = Files.createDirectories(dir.resolve("classes"));
        int compiled = ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", classes.toString(),
                "-cp", LIBRARY.toString(), source.toString());
        assertEquals(0, compiled, "the program compiles against the library jar alone");

        String golden = "src/test/resources/golden/basic_k3/";
        List<String> cpuOnly = run(LIBRARY + File.pathSeparator + classes, golden);
        assertTrue(cpuOnly.get(0).matches("elements (\\d+) of \\1, max error [0-9.E-]+"), cpuOnly.toString());
        assertTrue(Double.parseDouble(cpuOnly.get(0).replaceAll(".*max error ", "")) < 1e-4, cpuOnly.toString());
        assertTrue(cpuOnly.get(1).contains("libodconv_cuda.so does not exist"), cpuOnly.toString());

        Assumptions.assumeTrue(Files.exists(CUDA), "skipped: no CUDA backend built (no nvcc), so no cuda jar");
        List<String> withCuda = run(LIBRARY + File.pathSeparator + CUDA + File.pathSeparator + classes, golden);
        assertEquals(cpuOnly.get(0), withCuda.get(0));
        assertFalse(withCuda.get(1).contains("libodconv_cuda.so does not exist"), withCuda.toString());
    }

    private List<String> run(String classPath, String golden) throws IOException, InterruptedException {
        return java(List.of("--enable-native-access=ALL-UNNAMED", "-cp", classPath, "Consumer",
                golden + "model.safetensors", golden + "input.safetensors", golden + "expected.safetensors"));
    }

    /** The output lines of a JVM run with these arguments, which must succeed. */
    private List<String> java(List<String> arguments) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Djava.io.tmpdir=" + Files.createDirectories(dir.resolve("tmp"))));
        command.addAll(arguments);
        Path out = dir.resolve("out.txt");
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "timed out");
        List<String> lines = Files.readAllLines(out);
        assertEquals(0, process.exitValue(), lines.toString());
        return lines;
    }
}
