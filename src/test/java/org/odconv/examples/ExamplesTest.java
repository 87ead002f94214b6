package org.odconv.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

import org.odconv.io.SafeTensors;

/** The example programs under examples/, run as a user runs them (from the repository root, no arguments). */
class ExamplesTest {
    interface Program {
        void run() throws Exception;
    }

    private static List<String> output(Program program) throws Exception {
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            program.run();
        } finally {
            System.setOut(original);
        }
        return captured.toString(StandardCharsets.UTF_8).lines().toList();
    }

    @Test
    void wholeNetworkPrintsPyTorchsFirstValues() throws Exception {
        List<String> lines = output(() -> WholeNetwork.main(new String[0]));
        assertEquals("yolo.onnx on input [5, 3, 64, 64]:", lines.get(0), String.join("\n", lines));
        Pattern row = Pattern.compile(" {2}(\\w+) \\[5, 18, (\\d+), \\2\\], first value (-?\\d+\\.\\d+)");
        try (SafeTensors expected = SafeTensors.open(Path.of("src/test/resources/onnx/expected_b5.safetensors"))) {
            for (String line : lines.subList(1, lines.size())) {
                Matcher m = row.matcher(line);
                assertTrue(m.matches(), line);
                float want = expected.floatData(expected.entry(m.group(1))).get(ValueLayout.JAVA_FLOAT, 0);
                assertEquals(want, Double.parseDouble(m.group(3)), 1e-4, line);
            }
            assertEquals(expected.entries().size() + 1, lines.size(), String.join("\n", lines));
        }
    }

    @Test
    void quickStartRunsBothSteps() throws Exception {
        List<String> lines = output(() -> QuickStart.main(new String[0]));
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("one layer, 64 -> 64 channels, 4 kernels:")), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("model model.safetensors: input [")), lines.toString());
    }
}
