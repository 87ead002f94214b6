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

    /**
     * One model file holding the layers of two: {@code b}'s layer {@code from} is renamed {@code to}, its
     * tensors and metadata appended after {@code a}'s.
     */
    public static Path merge(Path a, Path b, String from, String to, Path target) throws IOException {
        byte[] first = Files.readAllBytes(a);
        byte[] second = Files.readAllBytes(b);
        long firstLength = ByteBuffer.wrap(first, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        long secondLength = ByteBuffer.wrap(second, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        ObjectNode header = (ObjectNode) JSON.readTree(new String(first, 8, (int) firstLength, StandardCharsets.UTF_8));
        ObjectNode other = (ObjectNode) JSON.readTree(new String(second, 8, (int) secondLength, StandardCharsets.UTF_8));
        byte[] firstData = Arrays.copyOfRange(first, 8 + (int) firstLength, first.length);
        byte[] secondData = Arrays.copyOfRange(second, 8 + (int) secondLength, second.length);
        other.fields().forEachRemaining(e -> {
            if (e.getKey().equals("__metadata__")) return;
            ObjectNode entry = e.getValue().deepCopy();
            var offsets = (com.fasterxml.jackson.databind.node.ArrayNode) entry.get("data_offsets");
            long begin = offsets.get(0).longValue() + firstData.length, end = offsets.get(1).longValue() + firstData.length;
            offsets.removeAll().add(begin).add(end);
            header.set(e.getKey().replaceFirst("^" + java.util.regex.Pattern.quote(from + "."), to + "."), entry);
        });
        ObjectNode meta = (ObjectNode) JSON.readTree(header.get("__metadata__").get("odconv").textValue());
        ObjectNode otherMeta = (ObjectNode) JSON.readTree(other.get("__metadata__").get("odconv").textValue());
        for (var layer : otherMeta.get("layers")) {
            if (layer.get("name").textValue().equals(from)) {
                ((com.fasterxml.jackson.databind.node.ArrayNode) meta.get("layers")).add(((ObjectNode) layer.deepCopy())
                        .put("name", to));
            }
        }
        ((ObjectNode) header.get("__metadata__")).put("odconv", JSON.writeValueAsString(meta));
        byte[] data = Arrays.copyOf(firstData, firstData.length + secondData.length);
        System.arraycopy(secondData, 0, data, firstData.length, secondData.length);
        return write(target, JSON.writeValueAsString(header), data);
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
