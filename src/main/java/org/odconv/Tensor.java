package org.odconv;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.odconv.bindings.odconv_h;
import org.odconv.io.DType;
import org.odconv.io.ModelFormatException;
import org.odconv.io.SafeTensors;

/**
 * A dense float32 activation tensor in native memory: a {@link MemorySegment} with a shape (batch, channels,
 * height, width) and a {@link Layout}, NCHW unless asked otherwise. Native code reads and writes the segment
 * directly, so nothing is copied behind the caller's back; the only copies are the ones named so
 * ({@link #copyOf}, {@link #toLayout}, {@link #toArray}).
 *
 * <p>A tensor either owns its memory ({@link #allocate(long, long, long, long)}, {@link #copyOf}), which
 * {@link #close()} frees, or borrows it ({@link #allocate(Arena, long, long, long, long)}, {@link #wrap}),
 * in which case the memory lives as long as its arena and {@code close()} only ends this view. Pinned
 * (page-locked) tensors ({@link #allocatePinned}) own memory CUDA copies can read and write asynchronously;
 * closing one waits for queued stream work on it. Either way,
 * use after close throws {@link IllegalStateException}; close is idempotent; owned memory of a tensor that
 * becomes unreachable unclosed (a forward's result dropped, say) is freed by a {@link Cleaner}, as a backstop
 * only. Element access is not
 * synchronized; the memory is readable from any thread.
 */
public final class Tensor implements AutoCloseable, Shaped {
    /** Native byte order, alignment 1: mapped files need not align their tensors. */
    static final ValueLayout.OfFloat ELEMENT = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final MemorySegment data;
    private final long batch;
    private final long channels;
    private final long height;
    private final long width;
    private final Layout layout;
    private final Arena ownedArena;
    /** Frees owned memory if the tensor becomes unreachable unclosed (a backstop only); null for borrowed memory. */
    private final Cleaner.Cleanable cleanable;
    /** The streams with queued copies of pinned memory; null for other memory, which streams never see. */
    private final PendingStreams pendingStreams;
    private volatile boolean closed;

    private Tensor(MemorySegment data, long batch, long channels, long height, long width, Layout layout,
            Arena ownedArena) {
        this(data, batch, channels, height, width, layout, ownedArena, null);
    }

    private Tensor(MemorySegment data, long batch, long channels, long height, long width, Layout layout,
            Arena ownedArena, PendingStreams pendingStreams) {
        this.data = data;
        this.batch = batch;
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.layout = layout;
        this.ownedArena = ownedArena;
        this.pendingStreams = pendingStreams;
        this.cleanable = ownedArena == null ? null : NativeResource.CLEANER.register(this, new ArenaCloser(ownedArena));
    }

    /** A zero-filled NCHW tensor that owns its memory (a shared arena, so any thread may use it). */
    public static Tensor allocate(long batch, long channels, long height, long width) {
        return allocate(batch, channels, height, width, Layout.NCHW);
    }

    /** A zero-filled tensor in {@code layout} that owns its memory (a shared arena). */
    public static Tensor allocate(long batch, long channels, long height, long width, Layout layout) {
        long count = elementCount(batch, channels, height, width);
        Arena arena = Arena.ofShared();
        try {
            return new Tensor(arena.allocate(ELEMENT.byteSize() * count, 64), batch, channels, height, width,
                    requireLayout(layout), arena);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * A zero-filled tensor in page-locked host memory that owns it: the host side of asynchronous copies to
     * and from CUDA devices ({@link DeviceTensor#copyFromAsync}, {@link DeviceTensor#copyToAsync}), and
     * faster for synchronous ones. Pinning takes memory from the whole system: allocate these once and reuse
     * them. Closing waits for queued copies of it, then frees it.
     *
     * @throws DeviceUnavailableException when CUDA cannot be used (pinned memory needs the CUDA backend)
     * @throws IllegalArgumentException   when a dimension is &lt; 1 or the layout is null
     */
    public static Tensor allocatePinned(long batch, long channels, long height, long width, Layout layout) {
        long bytes = ELEMENT.byteSize() * elementCount(batch, channels, height, width);
        requireLayout(layout);
        Natives.load();
        MemorySegment pinned;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment out = call.allocate(ValueLayout.ADDRESS);
            // Pinned memory is the CUDA driver's, not one GPU's; cuda:0 names the backend in a failure.
            Natives.check(odconv_h.odconv_host_alloc_pinned(bytes, out), "odconv_host_alloc_pinned", Device.cuda(0));
            pinned = out.get(ValueLayout.ADDRESS, 0);
        }
        PendingStreams pendingStreams = new PendingStreams();
        Arena arena = Arena.ofShared();
        MemorySegment data = pinned.reinterpret(bytes, arena, freed -> {
            pendingStreams.awaitAll();  // a copy still queued must not reach freed memory
            odconv_h.odconv_host_free_pinned(freed);
        });
        data.fill((byte) 0);
        return new Tensor(data, batch, channels, height, width, layout, arena, pendingStreams);
    }

    /** A zero-filled NCHW tensor whose memory belongs to {@code arena} and lives until it closes. */
    public static Tensor allocate(Arena arena, long batch, long channels, long height, long width) {
        return allocate(arena, batch, channels, height, width, Layout.NCHW);
    }

    /** A zero-filled tensor in {@code layout} whose memory belongs to {@code arena}. */
    public static Tensor allocate(Arena arena, long batch, long channels, long height, long width, Layout layout) {
        long count = elementCount(batch, channels, height, width);
        return new Tensor(arena.allocate(ELEMENT.byteSize() * count, 64), batch, channels, height, width,
                requireLayout(layout), null);
    }

    /** A new owning NCHW tensor holding a copy of {@code values} (in NCHW order). */
    public static Tensor copyOf(float[] values, long batch, long channels, long height, long width) {
        return copyOf(values, batch, channels, height, width, Layout.NCHW);
    }

    /** A new owning tensor holding a copy of {@code values}, which are in {@code layout}'s order. */
    public static Tensor copyOf(float[] values, long batch, long channels, long height, long width, Layout layout) {
        long count = elementCount(batch, channels, height, width);
        if (values.length != count) {
            throw new IllegalArgumentException("values.length = " + values.length + " but shape "
                    + Arrays.toString(new long[] {batch, channels, height, width}) + " holds " + count);
        }
        Tensor tensor = allocate(batch, channels, height, width, layout);
        MemorySegment.copy(values, 0, tensor.data, ELEMENT, 0, values.length);
        return tensor;
    }

    /** A new owning tensor with the same values in {@code target} layout (a copy even when it is the same). */
    public Tensor toLayout(Layout target) {
        Tensor result = allocate(batch, channels, height, width, target);
        MemorySegment source = segment();
        long pixels = height * width;
        for (long n = 0; n < batch; n++) {
            for (long c = 0; c < channels; c++) {
                for (long p = 0; p < pixels; p++) {
                    long h = p / width, w = p % width;
                    result.data.setAtIndex(ELEMENT, result.index(n, c, h, w), source.getAtIndex(ELEMENT, index(n, c, h, w)));
                }
            }
        }
        return result;
    }

    /**
     * Writes tensors (in map order) and string metadata as a safetensors file, atomically (see
     * {@link SafeTensors#writeArrays}). Each tensor's data is written in its memory order under its (batch,
     * channels, height, width) shape, so NHWC tensors should be converted with {@link #toLayout} first.
     *
     * @param path     the file to create or replace
     * @param tensors  the tensors by name, read but not closed; each must be open
     * @param metadata the {@code __metadata__} entries; none is written when empty
     * @throws IOException when the temporary file cannot be created, written or renamed over {@code path}
     */
    public static void writeSafeTensors(Path path, Map<String, Tensor> tensors, Map<String, String> metadata)
            throws IOException {
        Map<String, SafeTensors.F32Array> arrays = new LinkedHashMap<>();
        tensors.forEach((name, t) -> arrays.put(name, new SafeTensors.F32Array(t.shape(), t.segment())));
        SafeTensors.writeArrays(path, arrays, metadata);
    }

    /**
     * A rank-4 F32 tensor of a safetensors file as an NCHW tensor viewing the file's memory (no copy unless the
     * data is misaligned, see {@link SafeTensors#floatData}); valid while the file is open.
     *
     * @throws ModelFormatException naming the file and tensor when it is missing, not F32 or not rank 4
     */
    public static Tensor from(SafeTensors file, String name) {
        SafeTensors.Entry e = file.entry(name);
        if (e.dtype() != DType.F32) {
            throw new ModelFormatException(file.source(), "tensor \"" + name + "\" is " + e.dtype() + ", expected F32");
        }
        long[] s = e.shape();
        if (s.length != 4) {
            throw new ModelFormatException(file.source(), "tensor \"" + name + "\" has shape " + Arrays.toString(s)
                    + ", expected rank 4 (NCHW)");
        }
        try {
            return wrap(file.floatData(e), s[0], s[1], s[2], s[3]);
        } catch (IllegalArgumentException ex) {
            throw new ModelFormatException(file.source(), "tensor \"" + name + "\": " + ex.getMessage(), ex);
        }
    }

    /**
     * A view of existing native memory, for example a region of a memory-mapped file; nothing is copied.
     * The segment must hold exactly the shape's elements, in native byte order, and stay valid while used.
     */
    public static Tensor wrap(MemorySegment segment, long batch, long channels, long height, long width) {
        return wrap(segment, batch, channels, height, width, Layout.NCHW);
    }

    /** As {@link #wrap(MemorySegment, long, long, long, long)}, for memory in {@code layout}'s order. */
    public static Tensor wrap(MemorySegment segment, long batch, long channels, long height, long width,
            Layout layout) {
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
        return new Tensor(segment, batch, channels, height, width, requireLayout(layout), null);
    }

    /** Whether the memory is pinned (page-locked, from {@link #allocatePinned}). */
    public boolean isPinned() {
        return pendingStreams != null;
    }

    /** The streams with queued copies of this pinned tensor; null unless {@link #isPinned()}. */
    PendingStreams pendingStreams() {
        return pendingStreams;
    }

    /** The memory; throws {@link IllegalStateException} after close. */
    public MemorySegment segment() {
        ensureOpen();
        return data;
    }

    /**
     * The memory, for a call that writes it. Read-only memory (a {@code READ_ONLY} file mapping, a segment made
     * {@code asReadOnly()}) is refused here: native code writing it would take the process down.
     */
    MemorySegment writableSegment(String role) {
        MemorySegment memory = segment();
        if (memory.isReadOnly()) {
            throw new IllegalArgumentException("the " + role + " " + this + " is read-only memory (a READ_ONLY file"
                    + " mapping, or a segment made asReadOnly()), which cannot be written");
        }
        return memory;
    }

    /** The batch size N, dimension 0 of {@link #shape()}; readable after close. */
    @Override
    public long batch() {
        return batch;
    }

    /** The channel count C, dimension 1 of {@link #shape()}; readable after close. */
    @Override
    public long channels() {
        return channels;
    }

    /** The height H, dimension 2 of {@link #shape()}; readable after close. */
    @Override
    public long height() {
        return height;
    }

    /** The width W, dimension 3 of {@link #shape()}; readable after close. */
    @Override
    public long width() {
        return width;
    }

    /** The memory order of the elements; readable after close. */
    @Override
    public Layout layout() {
        return layout;
    }

    /** {batch, channels, height, width}, whatever the layout. */
    @Override
    public long[] shape() {
        return new long[] {batch, channels, height, width};
    }

    /** batch * channels * height * width; readable after close. */
    public long elementCount() {
        return batch * channels * height * width;
    }

    /**
     * The element at batch n, channel c, row h, column w (logical coordinates, whatever the layout).
     *
     * @throws IndexOutOfBoundsException when an index is outside the shape
     * @throws IllegalStateException     after close, or when the arena of borrowed memory is closed
     */
    public float get(long n, long c, long h, long w) {
        return segment().getAtIndex(ELEMENT, index(n, c, h, w));
    }

    /**
     * Writes the element at batch n, channel c, row h, column w (logical coordinates, whatever the layout).
     *
     * @throws IndexOutOfBoundsException when an index is outside the shape
     * @throws IllegalStateException     after close, or when the arena of borrowed memory is closed
     * @throws IllegalArgumentException  when the memory is read-only, e.g. a view of a file mapped read-only
     */
    public void set(long n, long c, long h, long w, float value) {
        segment().setAtIndex(ELEMENT, index(n, c, h, w), value);
    }

    /** A copy of the elements in memory order (this tensor's layout), on the Java heap. */
    public float[] toArray() {
        long count = elementCount();
        if (count > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor of " + count + " elements does not fit a Java array");
        }
        return segment().toArray(ELEMENT);
    }

    /** Whether {@link #close()} has completed; a closed tensor refuses every use with {@link IllegalStateException}. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Frees owned memory, or ends this view of borrowed memory. Idempotent.
     *
     * @throws IllegalStateException while a forward or copy is using the memory; the tensor then stays open, and a
     *                               later close frees it
     */
    @Override
    public void close() {
        if (closed) return;
        synchronized (this) {
            if (closed) return;
            if (ownedArena != null) {
                try {
                    ownedArena.close();
                } catch (IllegalStateException inUse) {
                    // A forward or copy holds the memory (the FFM API keeps it alive for the native call): still
                    // open, so a later close() frees it.
                    throw new IllegalStateException(this + " is in use by a native call (a forward or a copy);"
                            + " close it once that returns", inUse);
                }
            }
            closed = true;
            if (cleanable != null) cleanable.clean();  // the arena is closed: only deregisters the backstop
        }
    }

    /** Holds only the arena, so the Cleaner does not keep the tensor reachable. */
    private record ArenaCloser(Arena arena) implements Runnable {
        @Override
        public void run() {
            try {
                arena.close();
            } catch (IllegalStateException alreadyClosedOrInUse) {
                // closed by close() already, or held by a native call, which keeps the memory alive itself
            }
        }
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape()) + (layout == Layout.NCHW ? "" : " " + layout)
                + (isPinned() ? " pinned" : "") + (closed ? " (closed)" : "");
    }

    private long index(long n, long c, long h, long w) {
        if (n < 0 || n >= batch || c < 0 || c >= channels || h < 0 || h >= height || w < 0 || w >= width) {
            throw new IndexOutOfBoundsException("index [" + n + ", " + c + ", " + h + ", " + w + "] outside shape "
                    + Arrays.toString(shape()));
        }
        return layout == Layout.NCHW ? ((n * channels + c) * height + h) * width + w
                : ((n * height + h) * width + w) * channels + c;
    }

    private static Layout requireLayout(Layout layout) {
        if (layout == null) throw new IllegalArgumentException("layout is null");
        return layout;
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
