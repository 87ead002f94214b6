package org.odconv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.spi.ToolProvider;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/**
 * The packages of the compiled library form layers, each using only those below it, as jdeps reads them:
 * bindings, then internal, then io, then the API (org.odconv), then ort and bench, then cli.
 */
class PackageDependenciesTest {
    private static final Pattern EDGE = Pattern.compile("^\\s+(org\\.odconv(?:\\.\\w+)?)\\s+->\\s+(org\\.odconv(?:\\.\\w+)?)\\s");

    /** package -> the odconv packages it uses (itself excluded). */
    private static Map<String, Set<String>> dependencies() {
        ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElseThrow();
        StringWriter out = new StringWriter();
        List<String> arguments = new ArrayList<>(List.of("-verbose:package", "--multi-release",
                String.valueOf(Runtime.version().feature()), "--ignore-missing-deps"));
        // module-info.java requires Jackson and names picocli and ONNX Runtime: jdeps resolves them on the test's path
        String modulePath = java.util.Arrays.stream(System.getProperty("java.class.path").split(java.io.File.pathSeparator))
                .filter(entry -> entry.endsWith(".jar")).collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator));
        arguments.addAll(List.of("--module-path", modulePath));
        arguments.add("target/classes");
        int code = jdeps.run(new PrintWriter(out), new PrintWriter(out), arguments.toArray(String[]::new));
        assertEquals(0, code, out.toString());
        Map<String, Set<String>> edges = new TreeMap<>();
        for (String line : out.toString().split("\n")) {
            Matcher m = EDGE.matcher(line);
            if (m.find() && !m.group(1).equals(m.group(2))) {
                edges.computeIfAbsent(m.group(1), k -> new TreeSet<>()).add(m.group(2));
            }
        }
        return edges;
    }

    @Test
    void packagesUseOnlyTheLayersBelowThem() {
        List<String> layers = List.of("org.odconv.bindings", "org.odconv.internal", "org.odconv.io", "org.odconv",
                "org.odconv.ort", "org.odconv.bench", "org.odconv.cli");
        Map<String, Set<String>> edges = dependencies();
        assertTrue(edges.containsKey("org.odconv") && edges.containsKey("org.odconv.cli"), "jdeps found " + edges);
        List<String> upward = new ArrayList<>();
        edges.forEach((from, targets) -> {
            int level = layers.indexOf(from);
            assertTrue(level >= 0, "a package no layer names: " + from);
            for (String to : targets) {
                if (layers.indexOf(to) >= level) upward.add(from + " -> " + to);
            }
        });
        assertEquals(List.of(), upward, "dependencies on the same or a higher layer (cycles start so): " + edges);
    }
}
