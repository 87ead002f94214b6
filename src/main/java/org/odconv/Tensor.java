package org.odconv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A dense NCHW float32 tensor in native memory: a {@link MemorySegment} with a shape. Native code reads and
 * writes the segment directly, so nothing is copied behind the caller's back; the only copies are the ones
 * named so ({@link #copyOf}, {@link #toArray}).
 *
 * <p>A tensor either owns its memory ({@link #allocate(long, long, long, long)}, {@link #copyOf}), which
 * {@link #close()} frees, or borrows it ({@link #allocate(Arena, long, long, long, long)}, {@link #wrap}),
 * in which case the memory lives as long as its arena and {@code close()} only ends this view. Either way,
 * use after close throws {@link IllegalStateException}; close is idempotent. Element access is not
 * synchronized; the memory is readable from any thread.
 */
public final class Tensor implements AutoCloseable {
    /** Native byte order, alignment 1: mapped files need not align their tensors. */
    static final ValueLayout.OfFloat ELEMENT = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final MemorySegment data;
    private final long batch;
    private final long channels;
    private final long height;
    private final long width;
    private final Arena ownedArena;
    private volatile boolean closed;

    private Tensor(MemorySegment data, long batch, long channels, long height, long width, Arena ownedArena) {
        this.data = data;
        this.batch = batch;
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.ownedArena = ownedArena;
    }

    /** A zero-filled tensor that owns its memory (a shared arena, so any thread may use it). */
    public static Tensor allocate(long batch, long channels, long height, long width) {
        long count = elementCount(batch, channels, height, width);
        Arena arena = Arena.ofShared();
        try {
            return new Tensor(arena.allocate(ELEMENT.byteSize() * count, 64), batch, channels, height, width, arena);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** A zero-filled tensor whose memory belongs to {@code arena} and lives until it closes. */
    public static Tensor allocate(Arena arena, long batch, long channels, long height, long width) {
        long count = elementCount(batch, channels, height, width);
        return new Tensor(arena.allocate(ELEMENT.byteSize() * count, 64), batch, channels, height, width, null);
    }

    /** A new owning tensor holding a copy of {@code values} (NCHW order). */
    public static Tensor copyOf(float[] values, long batch, long channels, long height, long width) {
        long count = elementCount(batch, channels, height, width);
        if (values.length != count) {
            throw new IllegalArgumentException("values.length = " + values.length + " but shape "
                    + Arrays.toString(new long[] {batch, channels, height, width}) + " holds " + count);
        }
        Tensor tensor = allocate(batch, channels, height, width);
        MemorySegment.copy(values, 0, tensor.data, ELEMENT, 0, values.length);
        return tensor;
    }

    /**
     * A view of existing native memory, for example a region of a memory-mapped file; nothing is copied.
     * The segment must hold exactly the shape's elements, in native byte order, and stay valid while used.
     */
    public static Tensor wrap(MemorySegment segment, long batch, long channels, long height, long width) {
        long count = elementCount(batch, channels, height, width);
        if (!segment.isNative()) {
            throw new IllegalArgumentException("Tensor.wrap needs a native segment (heap segments cannot reach native"
                    + " code); use Tensor.copyOf for arrays");
        }
        if (segment.byteSize() != count * ELEMENT.byteSize()) {
            throw new IllegalArgumentException("segment of " + segment.byteSize() + " bytes cannot hold shape "
                    + Arrays.toString(new long[] {batch, channels, height, width}) + " (" + count * ELEMENT.byteSize()
                    + " bytes of float32)");
        }
        return new Tensor(segment, batch, channels, height, width, null);
    }

    /** The memory; throws {@link IllegalStateException} after close. */
    public MemorySegment segment() {
        ensureOpen();
        return data;
    }

    public long batch() {
        return batch;
    }

    public long channels() {
        return channels;
    }

    public long height() {
        return height;
    }

    public long width() {
        return width;
    }

    /** {batch, channels, height, width}. */
    public long[] shape() {
        return new long[] {batch, channels, height, width};
    }

    public long elementCount() {
        return batch * channels * height * width;
    }

    public float get(long n, long c, long h, long w) {
        return segment().getAtIndex(ELEMENT, index(n, c, h, w));
    }

    public void set(long n, long c, long h, long w, float value) {
        segment().setAtIndex(ELEMENT, index(n, c, h, w), value);
    }

    /** A copy of the elements in NCHW order, on the Java heap. */
    public float[] toArray() {
        long count = elementCount();
        if (count > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor of " + count + " elements does not fit a Java array");
        }
        return segment().toArray(ELEMENT);
    }

    /** Frees owned memory, or ends this view of borrowed memory. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        synchronized (this) {
            if (closed) return;
            closed = true;
            if (ownedArena != null) ownedArena.close();
        }
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape()) + (closed ? " (closed)" : "");
    }

    private long index(long n, long c, long h, long w) {
        if (n < 0 || n >= batch || c < 0 || c >= channels || h < 0 || h >= height || w < 0 || w >= width) {
            throw new IndexOutOfBoundsException("index [" + n + ", " + c + ", " + h + ", " + w + "] outside shape "
                    + Arrays.toString(shape()));
        }
        return ((n * channels + c) * height + h) * width + w;
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException(this + " is closed");
    }

    static long elementCount(long batch, long channels, long height, long width) {
        long[] dims = {batch, channels, height, width};
        long count = 1;
        for (long d : dims) {
            if (d < 1) throw new IllegalArgumentException("shape " + Arrays.toString(dims) + " has a dimension < 1");
            count = count > Long.MAX_VALUE / d ? Long.MAX_VALUE : count * d;
        }
        if (count > Long.MAX_VALUE / 8) throw new IllegalArgumentException("shape " + Arrays.toString(dims) + " is too large");
        return count;
    }
}
