package org.odconv.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Test helper: writes safetensors files byte by byte, including malformed ones. */
public final class SafeTensorsFiles {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SafeTensorsFiles() {}

    /** header length (as given), header text, data. */
    public static Path write(Path file, long headerLength, String header, byte[] data) throws IOException {
        byte[] text = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocate(8 + text.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(headerLength).put(text).put(data);
        Files.write(file, buffer.array());
        return file;
    }

    public static Path write(Path file, String header, byte[] data) throws IOException {
        return write(file, header.getBytes(StandardCharsets.UTF_8).length, header, data);
    }

    /** Copies a valid file, letting {@code edit} change its header; the data section is kept as is. */
    public static Path rewrite(Path source, Path target, Consumer<ObjectNode> edit) throws IOException {
        byte[] bytes = Files.readAllBytes(source);
        long length = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        ObjectNode header = (ObjectNode) JSON.readTree(new String(bytes, 8, (int) length, StandardCharsets.UTF_8));
        edit.accept(header);
        return write(target, JSON.writeValueAsString(header), Arrays.copyOfRange(bytes, 8 + (int) length, bytes.length));
    }

    /** Changes one field of one layer inside the {@code odconv} metadata string. */
    public static Consumer<ObjectNode> editLayer(int layer, Consumer<ObjectNode> edit) {
        return header -> {
            try {
                ObjectNode metadata = (ObjectNode) header.get("__metadata__");
                ObjectNode odconv = (ObjectNode) JSON.readTree(metadata.get("odconv").textValue());
                edit.accept((ObjectNode) odconv.get("layers").get(layer));
                metadata.put("odconv", JSON.writeValueAsString(odconv));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        };
    }
}
