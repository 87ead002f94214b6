package org.odconv.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import org.odconv.Tensor;

class SafeTensorsTest {
    @TempDir
    Path dir;

    private ModelFormatException refused(Path file) {
        return assertThrows(ModelFormatException.class, () -> SafeTensors.open(file).close());
    }

    @Test
    void writeThenReadRoundTrips() throws IOException {
        Path file = dir.resolve("t.safetensors");
        try (Tensor a = Tensor.copyOf(new float[] {1, 2, 3, 4, 5, 6}, 1, 2, 1, 3);
             Tensor b = Tensor.copyOf(new float[] {-1.5f}, 1, 1, 1, 1)) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("a", a);
            tensors.put("b", b);
            Tensor.writeSafeTensors(file, tensors, Map.of("k", "v"));
        }
        try (SafeTensors read = SafeTensors.open(file)) {
            assertEquals(Map.of("k", "v"), read.metadata());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, Tensor.from(read, "a").toArray());
            assertArrayEquals(new long[] {1, 1, 1, 1}, Tensor.from(read, "b").shape());
            assertEquals(-1.5f, Tensor.from(read, "b").get(0, 0, 0, 0));
            assertEquals((Files.size(file) - 8 - 24 - 4) % 8, 0, "data section starts 8-byte aligned");
        }
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file may remain");
        }
    }

    @Test
    void refusesMalformedFilesNamingTheFileAndProblem() throws IOException {
        Path f = dir.resolve("bad.safetensors");
        Files.write(f, new byte[] {1, 2, 3});
        assertEquals(f + ": file of 3 bytes is too short for a safetensors header length", refused(f).getMessage());

        SafeTensorsFiles.write(f, 200_000_000L, "{}", new byte[0]);
        assertEquals(f + ": header length 200000000 is outside [2, 104857600]", refused(f).getMessage());

        SafeTensorsFiles.write(f, 4096, "{}", new byte[0]);
        assertEquals(f + ": header length 4096 runs past the end of the 10-byte file", refused(f).getMessage());

        SafeTensorsFiles.write(f, "{\"a\": ", new byte[0]);
        assertTrue(refused(f).getMessage().startsWith(f + ": header is not valid JSON"));

        SafeTensorsFiles.write(f, "[1, 2]", new byte[0]);
        assertEquals(f + ": header is not a JSON object", refused(f).getMessage());

        SafeTensorsFiles.write(f, "{\"x\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]);
        assertEquals(f + ": tensor \"x\": unknown dtype \"Q7\"", refused(f).getMessage());

        SafeTensorsFiles.write(f, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", new byte[4]);
        assertEquals(f + ": tensor \"x\": data_offsets [0, 4] span 4 bytes but F32[2] needs 8", refused(f).getMessage());

        SafeTensorsFiles.write(f, "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[4]);
        assertEquals(f + ": tensor \"x\": data_offsets [4, 8] are outside the 4-byte data section", refused(f).getMessage());

        SafeTensorsFiles.write(f, "{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", new byte[4]);
        assertEquals(f + ": tensor \"x\": shape [-1] has an invalid dimension", refused(f).getMessage());

        SafeTensorsFiles.write(f, "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]);
        assertTrue(refused(f).getMessage().contains("Duplicate field 'x'"), refused(f).getMessage());

        SafeTensorsFiles.write(f, "{\"__metadata__\":{\"odconv\":3}}", new byte[0]);
        assertEquals(f + ": __metadata__ value of \"odconv\" is not a string", refused(f).getMessage());

        SafeTensorsFiles.write(f, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]);
        assertEquals(f + ": tensor \"b\" starts at data offset 4 but the previous tensor \"a\" ends at 8 (overlap)",
                refused(f).getMessage());

        SafeTensorsFiles.write(f, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]);
        assertEquals(f + ": tensor \"a\" starts at data offset 4 but the data section starts at 0 (gap)",
                refused(f).getMessage());

        SafeTensorsFiles.write(f, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[8]);
        assertEquals(f + ": tensors cover 4 bytes but the data section has 8", refused(f).getMessage());

        Path missing = dir.resolve("missing.safetensors");
        assertEquals(missing + ": no such file", refused(missing).getMessage());
    }

    /** Opening a FIFO blocked forever (it waits for a writer); folders and FIFOs are refused before opening. */
    @Test
    @Timeout(30)
    void nonRegularFilesAreRefusedAtOnce() throws Exception {
        assertEquals(dir + ": not a regular file (a folder)", refused(dir).getMessage());
        Path fifo = dir.resolve("fifo.safetensors");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        Assumptions.assumeTrue(mkfifo.waitFor() == 0, "skipped: mkfifo failed, so no FIFO to try");
        assertEquals(fifo + ": not a regular file (a FIFO, socket or device)", refused(fifo).getMessage());
        assertEquals(Path.of("/dev/zero") + ": not a regular file (a FIFO, socket or device)",
                refused(Path.of("/dev/zero")).getMessage());
    }

    /** A name from a file can hold terminal escapes or megabytes: messages show it escaped and cut. */
    @Test
    void namesFromFilesAreEscapedAndCutInMessages() throws IOException {
        Path f = dir.resolve("names.safetensors");
        String hostile = "\u001b]0;retitled\u0007\u001b[2J\nsecond line\u2028";
        SafeTensorsFiles.write(f, headerNaming(hostile), new byte[4]);
        assertEquals(f + ": tensor \"\\u001b]0;retitled\\u0007\\u001b[2J\\nsecond line\\u2028\": unknown dtype \"X9\"",
                refused(f).getMessage());

        SafeTensorsFiles.write(f, headerNaming("n".repeat(40_000)), new byte[4]);
        String message = refused(f).getMessage();
        assertTrue(message.length() < 1100, "a line of " + message.length() + " characters");
        assertTrue(message.startsWith(f + ": tensor \"nnnn"), message);
        assertTrue(message.contains(" more characters) ... "), message);
        assertTrue(message.endsWith("nnnn\": unknown dtype \"X9\""), message);
    }

    /** A header with one tensor of that name and an unknown dtype (JSON-escaped as a writer would). */
    private static String headerNaming(String name) throws IOException {
        ObjectNode header = new ObjectMapper().createObjectNode();
        header.putObject(name).put("dtype", "X9");
        ((ObjectNode) header.get(name)).putArray("shape").add(1);
        ((ObjectNode) header.get(name)).putArray("data_offsets").add(0).add(4);
        return new ObjectMapper().writeValueAsString(header);
    }

    @Test
    void tensorAccessChecksTypeAndRank() throws IOException {
        Path f = SafeTensorsFiles.write(dir.resolve("t.safetensors"),
                "{\"h\":{\"dtype\":\"F16\",\"shape\":[1,1,1,2],\"data_offsets\":[0,4]},"
                        + "\"v\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[4,16]}}", new byte[16]);
        try (SafeTensors file = SafeTensors.open(f)) {
            assertEquals(f + ": tensor \"h\" is F16, expected F32",
                    assertThrows(ModelFormatException.class, () -> Tensor.from(file, "h")).getMessage());
            assertEquals(f + ": tensor \"v\" has shape [3], expected rank 4 (NCHW)",
                    assertThrows(ModelFormatException.class, () -> Tensor.from(file, "v")).getMessage());
            assertEquals(f + ": tensor \"input\" is missing",
                    assertThrows(ModelFormatException.class, () -> Tensor.from(file, "input")).getMessage());
            assertFalse(file.entries().isEmpty());
        }
    }
}
