package org.odconv.ort;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.odconv.io.ModelFormatException;

/**
 * Counts the nodes of an ONNX model's main graph by domain and type, reading the protobuf wire format
 * directly (ModelProto.graph = field 7, GraphProto.node = field 1, NodeProto.op_type = 4, domain = 7), so
 * that reports can say how many ODConv nodes a model has without a protobuf dependency. The file is mapped,
 * not read into the heap; a malformed file is refused with its name.
 */
public final class OnnxGraph {
    private static final int WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LENGTH = 2, WIRE_FIXED32 = 5;

    private OnnxGraph() {}

    /**
     * The number of nodes of the model's main graph (not of subgraphs or functions) of this domain and type.
     *
     * @param model  the .onnx file
     * @param domain the node domain, e.g. {@value OdconvOrt#DOMAIN}
     * @param opType the operator type, e.g. {@value OdconvOrt#OP_TYPE}
     * @throws IOException          when the file cannot be read
     * @throws ModelFormatException when it is not protobuf of ONNX's shape
     */
    public static int countNodes(Path model, String domain, String opType) throws IOException {
        try (FileChannel channel = FileChannel.open(model, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            Reader file = new Reader(model.toString(), bytes, 0, bytes.byteSize());
            int count = 0;
            while (file.hasMore()) {
                Field modelField = file.next();
                if (modelField.number != 7 || modelField.wire != WIRE_LENGTH) continue;
                Reader graph = modelField.message(file);
                while (graph.hasMore()) {
                    Field graphField = graph.next();
                    if (graphField.number != 1 || graphField.wire != WIRE_LENGTH) continue;
                    Reader node = graphField.message(graph);
                    String nodeType = "", nodeDomain = "";
                    while (node.hasMore()) {
                        Field nodeField = node.next();
                        if (nodeField.wire != WIRE_LENGTH) continue;
                        if (nodeField.number == 4) nodeType = nodeField.string(node);
                        if (nodeField.number == 7) nodeDomain = nodeField.string(node);
                    }
                    if (nodeType.equals(opType) && nodeDomain.equals(domain)) count++;
                }
            }
            return count;
        }
    }

    /** A field's number, wire type and, for length-delimited fields, where its bytes are. */
    private record Field(int number, int wire, long begin, long end) {
        Reader message(Reader parent) {
            return new Reader(parent.source, parent.bytes, begin, end);
        }

        String string(Reader parent) {
            byte[] text = parent.bytes.asSlice(begin, end - begin).toArray(ValueLayout.JAVA_BYTE);
            return new String(text, StandardCharsets.UTF_8);
        }
    }

    private static final class Reader {
        final String source;
        final MemorySegment bytes;
        long position;
        final long end;

        Reader(String source, MemorySegment bytes, long begin, long end) {
            this.source = source;
            this.bytes = bytes;
            this.position = begin;
            this.end = end;
        }

        boolean hasMore() {
            return position < end;
        }

        Field next() {
            long key = varint();
            int wire = (int) (key & 7);
            long number = key >>> 3;
            if (number < 1 || number > Integer.MAX_VALUE) throw malformed("field number " + number);
            long begin = position;
            switch (wire) {
                case WIRE_VARINT -> varint();
                case WIRE_FIXED64 -> skip(8);
                case WIRE_FIXED32 -> skip(4);
                case WIRE_LENGTH -> {
                    long length = varint();
                    if (length < 0) throw malformed("negative length");
                    begin = position;
                    skip(length);
                }
                default -> throw malformed("wire type " + wire);
            }
            return new Field((int) number, wire, begin, position);
        }

        private long varint() {
            long value = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (position >= end) throw malformed("truncated varint");
                byte b = bytes.get(ValueLayout.JAVA_BYTE, position++);
                value |= (long) (b & 0x7f) << shift;
                if (b >= 0) return value;
            }
            throw malformed("varint longer than 10 bytes");
        }

        private void skip(long count) {
            if (count > end - position) throw malformed("a field runs past its message's end");
            position += count;
        }

        private ModelFormatException malformed(String what) {
            return new ModelFormatException(source, "not an ONNX model (protobuf): " + what + " at byte " + position);
        }
    }
}
