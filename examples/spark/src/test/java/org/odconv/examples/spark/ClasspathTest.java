package org.odconv.examples.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarFile;
import java.util.stream.Stream;

import ai.onnxruntime.OrtEnvironment;
import org.apache.spark.launcher.JavaModuleOptions;
import org.junit.jupiter.api.Test;

import org.odconv.ODConvModel;

/** odconv and ONNX Runtime among Spark 4.2's own libraries: nothing of theirs clashes with Spark's. */
class ClasspathTest {
    @Test
    void noClassOfOdconvOrOnnxRuntimeIsAlsoOnSparksClassPath() throws IOException {
        Path odconv = jarOf(ODConvModel.class);
        Path onnxRuntime = jarOf(OrtEnvironment.class);
        Map<String, Path> ours = new HashMap<>();
        for (Path jar : List.of(odconv, onnxRuntime)) classes(jar).forEach(c -> ours.put(c, jar));
        assertTrue(ours.size() > 100, "classes found in " + odconv + " and " + onnxRuntime);

        List<String> clashes = new ArrayList<>();
        int jarsSearched = 0;
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path jar = Path.of(entry);
            if (!entry.endsWith(".jar") || jar.equals(odconv) || jar.equals(onnxRuntime)) continue;
            jarsSearched++;
            for (String c : classes(jar)) {
                if (ours.containsKey(c)) {
                    clashes.add(c + " in " + ours.get(c).getFileName() + " and " + jar.getFileName());
                }
            }
        }
        assertTrue(jarsSearched > 100, "Spark's jars on the test class path: " + jarsSearched);
        assertEquals(List.of(), clashes);
    }

    @Test
    void odconvCarriesItsJacksonUnderItsOwnNameBesideSparks() throws Exception {
        Path odconv = jarOf(ODConvModel.class);
        assertEquals(Set.of(), classes(odconv).stream().filter(c -> c.startsWith("com/fasterxml/"))
                .collect(java.util.stream.Collectors.toSet()), "unrelocated Jackson classes in " + odconv);
        Class<?> shaded = Class.forName("org.odconv.internal.shaded.jackson.databind.ObjectMapper");
        assertEquals(odconv, jarOf(shaded));
        // Spark's Jackson, whatever its version, is the only one under Jackson's own name.
        Class<?> sparks = Class.forName("com.fasterxml.jackson.databind.ObjectMapper");
        assertTrue(jarOf(sparks).getFileName().toString().startsWith("jackson-databind-"), jarOf(sparks).toString());
    }

    @Test
    void theTestJvmHasEveryOptionSparksLauncherGivesItsJvms() {
        List<String> jvm = ManagementFactory.getRuntimeMXBean().getInputArguments();
        Set<String> missing = new TreeSet<>(List.of(JavaModuleOptions.defaultModuleOptionArray()));
        jvm.forEach(missing::remove);
        assertEquals(Set.of(), missing, "options of Spark's launcher missing from spark.jvm.options in pom.xml");
    }

    static Path jarOf(Class<?> type) {
        try {
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    /** The class files of a jar (module descriptors and multi-release variants aside), by path. */
    static Set<String> classes(Path jar) throws IOException {
        if (!Files.isRegularFile(jar)) return Set.of();
        try (JarFile file = new JarFile(jar.toFile());
             Stream<String> names = file.stream().map(e -> e.getName())) {
            return names.filter(n -> n.endsWith(".class") && !n.endsWith("module-info.class")
                    && !n.startsWith("META-INF/")).collect(java.util.stream.Collectors.toCollection(TreeSet::new));
        }
    }
}
