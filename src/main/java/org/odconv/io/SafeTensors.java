package org.odconv.io;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.odconv.internal.Json;
import org.odconv.internal.OutputFiles;

/**
 * A safetensors file (8-byte little-endian header length, a JSON header, raw little-endian data) over a
 * {@link MemorySegment}: usually a read-only memory map of the file, so tensors are views of the mapping and
 * nothing is copied. The header is validated when opened; see {@link #open(Path)}.
 *
 * <p>Owns the mapping's arena when opened from a path. Layers that borrow its memory hold a {@link Lease}:
 * {@link #close()} unmaps at once when there is none, else when the last lease is released, so closing the
 * file while layers still use it is safe (in the manner of Lucene's reference-counted arenas). After close,
 * new leases and lookups throw {@link IllegalStateException}. A native call reading a tensor of the file (a
 * forward on a {@code Tensor} view of it) holds the mapping for the call's length: a close meanwhile throws
 * {@link IllegalStateException} saying so, leaves the file mapped, and a later close unmaps it.
 */
public final class SafeTensors implements AutoCloseable {
    /** Headers above this size are refused before anything is allocated for them. */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;


    /**
     * One tensor's header entry; offsets are absolute within the file.
     *
     * @param name  the tensor's key in the header
     * @param dtype the element type
     * @param shape the dimensions, as in the header (empty for a scalar); the array is shared, not copied, so
     *              callers must not modify it
     * @param begin the offset of the tensor's first byte, counted from the start of the file
     * @param end   the offset just past the tensor's last byte (exclusive), counted from the start of the file
     */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        /** The product of the dimensions: 1 for a scalar, 0 when a dimension is 0. */
        public long elementCount() {
            long count = 1;
            for (long d : shape) count *= d;
            return count;
        }

        @Override
        public String toString() {
            return name + " " + dtype + Arrays.toString(shape);
        }
    }

    private final String source;
    private final MemorySegment file;
    private final Arena ownedArena;
    private final Map<String, String> metadata;
    private final Map<String, Entry> entries;
    private int leases;
    private boolean closeRequested;

    private SafeTensors(String source, MemorySegment file, Arena ownedArena, Map<String, String> metadata,
            Map<String, Entry> entries) {
        this.source = source;
        this.file = file;
        this.ownedArena = ownedArena;
        this.metadata = metadata;
        this.entries = entries;
    }

    /** Maps {@code path} read-only (in a shared arena, so views may be used from any thread) and parses it. */
    public static SafeTensors open(Path path) {
        return load(path, (channel, size, arena) -> channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena));
    }

    /**
     * Reads {@code path} into memory of its own (a shared arena) and parses it, mapping nothing: for callers that
     * cannot rule out another process truncating or rewriting the file meanwhile, which makes reading a mapping
     * fault and the process die. A file that changes while it is read is refused, or read as the bytes that were
     * there, checked like any other file.
     */
    public static SafeTensors read(Path path) {
        return load(path, SafeTensors::readFully);
    }

    /** How a file's bytes reach memory: mapped, or read. */
    @FunctionalInterface
    private interface Contents {
        MemorySegment of(FileChannel channel, long size, Arena arena) throws IOException;
    }

    private static SafeTensors load(Path path, Contents contents) {
        String source = path.toString();
        refuseUnlessRegularFile(source, path);
        Arena arena = Arena.ofShared();
        boolean success = false;
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < 8) {
                throw new ModelFormatException(source, "file of " + size + " bytes is too short for a safetensors"
                        + " header length");
            }
            SafeTensors result = parse(source, contents.of(channel, size, arena), arena);
            success = true;
            return result;
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(source, "no such file", e);
        } catch (IOException e) {
            throw new ModelFormatException(source, "cannot read: " + e.getMessage(), e);
        } finally {
            if (!success) arena.close();
        }
    }

    private static MemorySegment readFully(FileChannel channel, long size, Arena arena) throws IOException {
        MemorySegment bytes = arena.allocate(size, 64);
        for (long done = 0; done < size; ) {
            int n = channel.read(bytes.asSlice(done, Math.min(size - done, 1 << 26)).asByteBuffer(), done);
            if (n < 0) throw new EOFException("the file shrank from " + size + " to " + done + " bytes while being read");
            done += n;
        }
        return bytes;
    }

    /** Opening a FIFO blocks until someone writes to it, and a device is no file to map: refused first. */
    private static void refuseUnlessRegularFile(String source, Path path) {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(path, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(source, "no such file", e);
        } catch (IOException e) {
            throw new ModelFormatException(source, "cannot read: " + e.getMessage(), e);
        }
        if (!attributes.isRegularFile()) {
            throw new ModelFormatException(source, "not a regular file (" + (attributes.isDirectory() ? "a folder"
                    : "a FIFO, socket or device") + ")");
        }
    }

    /** Parses bytes already in memory (for example a resource); the caller keeps {@code bytes} valid. */
    public static SafeTensors parse(String source, MemorySegment bytes) {
        return parse(source, bytes, null);
    }

    private static SafeTensors parse(String source, MemorySegment file, Arena ownedArena) {
        if (file.byteSize() < 8) {
            throw new ModelFormatException(source, "file of " + file.byteSize() + " bytes is too short for a"
                    + " safetensors header length");
        }
        long headerLength = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLength < 2 || headerLength > MAX_HEADER_BYTES) {
            throw new ModelFormatException(source, "header length " + headerLength + " is outside [2, "
                    + MAX_HEADER_BYTES + "]");
        }
        if (8 + headerLength > file.byteSize()) {
            throw new ModelFormatException(source, "header length " + headerLength + " runs past the end of the "
                    + file.byteSize() + "-byte file");
        }
        byte[] headerBytes = file.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
        String headerText;
        try {
            headerText = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(headerBytes)).toString();
        } catch (CharacterCodingException e) {
            throw new ModelFormatException(source, "header is not valid UTF-8", e);
        }
        JsonNode header;
        try {
            header = Json.MAPPER.readTree(headerText);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(source, "header is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (header == null || !header.isObject()) {
            throw new ModelFormatException(source, "header is not a JSON object");
        }
        long dataStart = 8 + headerLength;
        long dataSize = file.byteSize() - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().equals("__metadata__")) {
                parseMetadata(source, field.getValue(), metadata);
            } else {
                Entry entry = parseEntry(source, field.getKey(), field.getValue(), dataStart, dataSize);
                entries.put(entry.name(), entry);
            }
        }
        checkLayout(source, entries, dataStart, dataSize);
        return new SafeTensors(source, file, ownedArena, Collections.unmodifiableMap(metadata),
                Collections.unmodifiableMap(entries));
    }

    /**
     * As the format's reference implementation demands: sorted by offset, the tensors tile the data section
     * exactly (no gap, no overlap, nothing after the last one).
     */
    private static void checkLayout(String source, Map<String, Entry> entries, long dataStart, long dataSize) {
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long expected = dataStart;
        String previous = null;
        for (Entry e : sorted) {
            if (e.begin() != expected) {
                throw new ModelFormatException(source, "tensor \"" + e.name() + "\" starts at data offset "
                        + (e.begin() - dataStart) + " but " + (previous == null ? "the data section starts at 0"
                        : "the previous tensor \"" + previous + "\" ends at " + (expected - dataStart))
                        + (e.begin() < expected ? " (overlap)" : " (gap)"));
            }
            expected = e.end();
            previous = e.name();
        }
        if (expected - dataStart != dataSize) {
            throw new ModelFormatException(source, "tensors cover " + (expected - dataStart) + " bytes but the data"
                    + " section has " + dataSize);
        }
    }

    private static void parseMetadata(String source, JsonNode node, Map<String, String> out) {
        if (!node.isObject()) throw new ModelFormatException(source, "__metadata__ is not a JSON object");
        node.fields().forEachRemaining(e -> {
            if (!e.getValue().isTextual()) {
                throw new ModelFormatException(source, "__metadata__ value of \"" + e.getKey() + "\" is not a string");
            }
            out.put(e.getKey(), e.getValue().textValue());
        });
    }

    private static Entry parseEntry(String source, String name, JsonNode node, long dataStart, long dataSize) {
        String where = "tensor \"" + name + "\"";
        if (!node.isObject()) throw new ModelFormatException(source, where + ": entry is not a JSON object");
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new ModelFormatException(source, where + ": \"dtype\" is missing or not a string");
        }
        DType dtype = DType.parse(dtypeNode.textValue());
        if (dtype == null) throw new ModelFormatException(source, where + ": unknown dtype \"" + dtypeNode.textValue() + "\"");
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new ModelFormatException(source, where + ": \"shape\" is missing or not an array");
        }
        long[] shape = new long[shapeNode.size()];
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                throw new ModelFormatException(source, where + ": shape " + shapeNode + " has an invalid dimension");
            }
            shape[i] = d.longValue();
            count = shape[i] != 0 && count > Long.MAX_VALUE / shape[i] ? Long.MAX_VALUE : count * shape[i];
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2 || !offsets.get(0).canConvertToLong()
                || !offsets.get(1).canConvertToLong() || !offsets.get(0).isIntegralNumber()
                || !offsets.get(1).isIntegralNumber()) {
            throw new ModelFormatException(source, where + ": \"data_offsets\" must be two integers");
        }
        long begin = offsets.get(0).longValue();
        long end = offsets.get(1).longValue();
        if (begin < 0 || end < begin || end > dataSize) {
            throw new ModelFormatException(source, where + ": data_offsets [" + begin + ", " + end
                    + "] are outside the " + dataSize + "-byte data section");
        }
        if (count > Long.MAX_VALUE / dtype.byteSize() || end - begin != count * dtype.byteSize()) {
            throw new ModelFormatException(source, where + ": data_offsets [" + begin + ", " + end + "] span "
                    + (end - begin) + " bytes but " + dtype + Arrays.toString(shape) + " needs "
                    + (count > Long.MAX_VALUE / dtype.byteSize() ? "more" : count * dtype.byteSize()));
        }
        return new Entry(name, dtype, shape, dataStart + begin, dataStart + end);
    }

    /** A claim on the file's memory: while any is open, {@link #close()} defers unmapping. */
    public final class Lease implements AutoCloseable {
        private boolean released;

        private Lease() {}

        /** Releases the claim (idempotent); the last release after {@link SafeTensors#close()} unmaps. */
        @Override
        public void close() {
            synchronized (SafeTensors.this) {
                if (released) return;
                released = true;
                if (--leases == 0 && closeRequested) {
                    try {
                        unmap();
                    } catch (IllegalStateException inUse) {
                        // a native call reads a view of the file: mapped until a later close()
                    }
                }
            }
        }
    }

    /** Claims the file's memory until the lease is closed. */
    public synchronized Lease lease() {
        ensureOpen();
        leases++;
        return new Lease();
    }

    /** Whether {@link #close()} has been called (the memory may still be mapped for open leases). */
    public synchronized boolean isClosed() {
        return closeRequested;
    }

    private void ensureOpen() {
        if (closeRequested) throw new IllegalStateException(source + " is closed");
    }

    private void unmap() {
        if (ownedArena != null && ownedArena.scope().isAlive()) ownedArena.close();
    }

    /** Where the data came from, for messages. */
    public String source() {
        return source;
    }

    /** The {@code __metadata__} entries in header order (empty when there is none); unmodifiable. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Tensor entries in header order. */
    public Map<String, Entry> entries() {
        return entries;
    }

    /** The entry, or a {@link ModelFormatException} naming the file and the missing tensor. */
    public Entry entry(String name) {
        synchronized (this) {
            ensureOpen();
        }
        Entry e = entries.get(name);
        if (e == null) throw new ModelFormatException(source, "tensor \"" + name + "\" is missing");
        return e;
    }

    /** A view of a tensor's bytes (no copy). */
    public MemorySegment data(Entry entry) {
        return file.asSlice(entry.begin(), entry.end() - entry.begin());
    }

    /**
     * A tensor's float32 data for native code: a view of the file (no copy) when it is 4-byte aligned, as in
     * every file whose header is padded the way the reference writer pads it; else an aligned copy (the
     * format does not demand alignment, and native code must not read misaligned floats), which lives as long
     * as the returned segment is reachable.
     */
    public MemorySegment floatData(Entry entry) {
        MemorySegment view = data(entry);
        if (view.address() % Float.BYTES == 0) return view;
        MemorySegment copy = Arena.ofAuto().allocate(view.byteSize(), 64);
        copy.copyFrom(view);
        return copy;
    }

    /**
     * A tensor's float32 data as a {@link FloatBuffer} over {@link #floatData} (a view of the file, no copy unless
     * misaligned), in native order: what ONNX Runtime's {@code OnnxTensor.createTensor} reads in place.
     */
    public FloatBuffer floatBuffer(Entry entry) {
        return floatData(entry).asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /**
     * Unmaps the file if this object mapped it, now or when the last lease is released. Idempotent once unmapped;
     * called again after a refusal below, it tries again.
     *
     * @throws IllegalStateException when a native call is reading a tensor of the file (the mapping stays, and
     *                               lookups are refused from now on)
     */
    @Override
    public synchronized void close() {
        closeRequested = true;
        if (leases > 0) return;
        try {
            unmap();
        } catch (IllegalStateException inUse) {
            throw new IllegalStateException(source + " is in use by a native call reading one of its tensors (a"
                    + " forward or a copy); close it again once that returns", inUse);
        }
    }

    /**
     * Float32 data of any rank to write: {@code data} holds the elements in row-major order of {@code shape}.
     *
     * @param shape the dimensions (empty for a scalar)
     * @param data  the elements, {@code 4 * product(shape)} bytes, read but not retained
     */
    public record F32Array(long[] shape, MemorySegment data) {
        /** Checks that the data holds exactly the shape's elements. */
        public F32Array {
            long count = 1;
            for (long d : shape) {
                if (d < 0) throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has a negative dimension");
                count = Math.multiplyExact(count, d);
            }
            if (data.byteSize() != Math.multiplyExact(count, (long) Float.BYTES)) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + count * Float.BYTES
                        + " bytes, the data has " + data.byteSize());
            }
        }
    }


    /**
     * Writes float32 arrays of any rank (in map order) and string metadata as a safetensors file, atomically,
     * as {@link #write} does.
     *
     * @param path     the file to create or replace
     * @param arrays   the arrays by name
     * @param metadata the {@code __metadata__} entries; none is written when empty
     * @throws IOException when the temporary file cannot be created, written or renamed over {@code path}
     */
    public static void writeArrays(Path path, Map<String, F32Array> arrays, Map<String, String> metadata)
            throws IOException {
        ObjectNode header = Json.MAPPER.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, F32Array> e : arrays.entrySet()) {
            ObjectNode entry = header.putObject(e.getKey());
            entry.put("dtype", DType.F32.name());
            var shape = entry.putArray("shape");
            for (long d : e.getValue().shape()) shape.add(d);
            long bytes = e.getValue().data().byteSize();
            entry.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = Json.MAPPER.writeValueAsBytes(header);
        long dataBytes = offset;
        int padded = (json.length + 7) / 8 * 8;  // data starts 8-byte aligned, as the reference writer does
        byte[] headerBytes = Arrays.copyOf(json, padded);
        Arrays.fill(headerBytes, json.length, padded, (byte) ' ');

        OutputFiles.replace(path, temporary -> {
            try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.READ,
                    StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING); Arena arena = Arena.ofConfined()) {
                long total = 8 + padded + dataBytes;
                MemorySegment out = channel.map(FileChannel.MapMode.READ_WRITE, 0, total, arena);
                out.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, padded);
                MemorySegment.copy(headerBytes, 0, out, ValueLayout.JAVA_BYTE, 8, padded);
                long position = 8 + padded;
                for (F32Array a : arrays.values()) {
                    MemorySegment.copy(a.data(), 0, out, position, a.data().byteSize());
                    position += a.data().byteSize();
                }
                out.force();
            }
        });
    }
}
