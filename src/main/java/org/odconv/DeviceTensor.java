package org.odconv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.function.BiFunction;

import org.odconv.bindings.odconv_h;

/**
 * A dense float32 activation tensor in a device's memory, with a shape (batch, channels, height, width) and a
 * {@link Layout}: what layers on that device read and write. A GPU's memory cannot be read from Java, so there
 * is no segment to read; values move with {@link #copyFrom(Tensor)} and {@link #copyTo(Tensor)} (they wait
 * for the copy) or, on a {@link CudaStream}, {@link #copyFromAsync} and {@link #copyToAsync} (host side
 * pinned: {@link Tensor#allocatePinned}). On {@link Device#cpu()} the memory is host memory from the native
 * library, and copies are plain memory copies.
 *
 * <p>Synchronous copies and forwards are not ordered after work queued on a {@link CudaStream}: synchronize the
 * stream before one of them reads or writes a tensor that queued work still uses.
 *
 * <p>The contents are undefined until written. The tensor owns its memory: {@link #close()} waits for the
 * calls using it and for queued stream work on it, then frees it; close is idempotent, and use after close
 * throws {@link IllegalStateException}. A tensor that becomes unreachable unclosed is freed by a
 * {@link Cleaner} as a backstop only.
 */
public final class DeviceTensor extends NativeResource implements Shaped {
    private final Device device;
    private final long batch;
    private final long channels;
    private final long height;
    private final long width;
    private final Layout layout;
    private final long byteSize;
    /** Zero-length: only an address to pass to native code, never dereferenced by Java. */
    private final MemorySegment address;
    private final PendingStreams pendingStreams = new PendingStreams();

    private DeviceTensor(Device device, long batch, long channels, long height, long width, Layout layout,
            long byteSize, MemorySegment address) {
        super(new Freer(device, address));
        this.device = device;
        this.batch = batch;
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.layout = layout;
        this.byteSize = byteSize;
        this.address = address;
    }

    /** As {@link #allocate(Device, long, long, long, long, Layout)}, NCHW. */
    public static DeviceTensor allocate(Device device, long batch, long channels, long height, long width) {
        return allocate(device, batch, channels, height, width, Layout.NCHW);
    }

    /**
     * A tensor in {@code device}'s memory, contents undefined, which the caller closes.
     *
     * @throws IllegalArgumentException   when a dimension is &lt; 1, the layout is null, or the GPU index does
     *                                    not exist
     * @throws DeviceUnavailableException when CUDA cannot be used, with the native reason
     * @throws NativeException            when the device is out of memory
     */
    public static DeviceTensor allocate(Device device, long batch, long channels, long height, long width,
            Layout layout) {
        if (device == null) throw new IllegalArgumentException("device is null");
        if (layout == null) throw new IllegalArgumentException("layout is null");
        long bytes = Tensor.elementCount(batch, channels, height, width) * Tensor.ELEMENT.byteSize();
        Natives.load();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment out = call.allocate(ValueLayout.ADDRESS);
            Natives.check(odconv_h.odconv_device_alloc(device.type().nativeValue(), device.index(), bytes, out),
                    "odconv_device_alloc", device);
            return new DeviceTensor(device, batch, channels, height, width, layout, bytes,
                    out.get(ValueLayout.ADDRESS, 0));
        }
    }

    /** A new tensor on {@code device} holding a copy of {@code source} (same shape and layout); waits for the copy. */
    public static DeviceTensor copyOf(Tensor source, Device device) {
        return Shaped.filledBy(allocate(device, source.batch(), source.channels(), source.height(), source.width(),
                source.layout()), tensor -> tensor.copyFrom(source));
    }

    /** A new owning host tensor holding a copy of this one (same shape and layout); waits for the copy. */
    public Tensor toTensor() {
        return Shaped.filledBy(Tensor.allocate(batch, channels, height, width, layout), this::copyTo);
    }

    /**
     * Copies {@code source}'s values in; returns when they are here.
     *
     * @throws IllegalArgumentException when the shapes or layouts differ (naming both)
     * @throws IllegalStateException    when either tensor is closed
     */
    public void copyFrom(Tensor source) {
        copy(source, Direction.TO_DEVICE, null);
    }

    /**
     * Copies the values out into {@code destination}; returns when they are there.
     *
     * @throws IllegalArgumentException when the shapes or layouts differ (naming both)
     * @throws IllegalStateException    when either tensor is closed
     */
    public void copyTo(Tensor destination) {
        copy(destination, Direction.TO_HOST, null);
    }

    /**
     * Enqueues a copy of {@code source}'s values in on {@code stream} and returns at once; the values are here
     * once the stream has run it ({@link CudaStream#synchronize()}). Neither tensor may be written meanwhile
     * (closing either waits for the copy).
     *
     * @throws IllegalArgumentException when the shapes or layouts differ, {@code source} is not pinned, or the
     *                                  stream belongs to another device (naming both)
     */
    public void copyFromAsync(Tensor source, CudaStream stream) {
        copy(source, Direction.TO_DEVICE, requireStream(stream));
    }

    /**
     * Enqueues a copy of the values out into {@code destination} on {@code stream} and returns at once; the
     * values are there once the stream has run it. Neither tensor may be written meanwhile.
     *
     * @throws IllegalArgumentException when the shapes or layouts differ, {@code destination} is not pinned, or
     *                                  the stream belongs to another device (naming both)
     */
    public void copyToAsync(Tensor destination, CudaStream stream) {
        copy(destination, Direction.TO_HOST, requireStream(stream));
    }

    /** The device whose memory holds the values; readable after close. */
    public Device device() {
        return device;
    }

    /** The batch size N; readable after close. */
    @Override
    public long batch() {
        return batch;
    }

    /** The channel count C; readable after close. */
    @Override
    public long channels() {
        return channels;
    }

    /** The height H; readable after close. */
    @Override
    public long height() {
        return height;
    }

    /** The width W; readable after close. */
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

    /** batch * channels * height * width. */
    public long elementCount() {
        return batch * channels * height * width;
    }

    @Override
    String closedMessage() {
        return "DeviceTensor" + Arrays.toString(shape()) + " on " + device + " is closed";
    }

    @Override
    void beforeFree() {
        pendingStreams.awaitAll();
    }

    @Override
    public String toString() {
        return "DeviceTensor" + Arrays.toString(shape()) + " " + layout + " on " + device + (isClosed() ? " (closed)" : "");
    }

    /** Admits a native call that uses the memory; pass the stamp to {@link #release(long)}. */
    long acquire() {
        return enter();
    }

    /** Ends a call admitted by {@link #acquire()}. */
    void release(long stamp) {
        exit(stamp);
        Reference.reachabilityFence(this);  // the Cleaner must not free the memory during the call
    }

    /**
     * Runs {@code body} with the device addresses of {@code first} and {@code second}, both kept open
     * (closing either waits) meanwhile.
     */
    static <R> R withAddresses(DeviceTensor first, DeviceTensor second,
            BiFunction<MemorySegment, MemorySegment, R> body) {
        long firstStamp = first.acquire();
        try {
            long secondStamp = second.acquire();
            try {
                return body.apply(first.address, second.address);
            } finally {
                second.release(secondStamp);
            }
        } finally {
            first.release(firstStamp);
        }
    }

    /** The device address, for native calls between {@link #acquire()} and {@link #release(long)}. */
    MemorySegment address() {
        return address;
    }

    /** The streams that may have queued work on this tensor. */
    PendingStreams pendingStreams() {
        return pendingStreams;
    }

    private enum Direction {
        TO_DEVICE(odconv_h.ODCONV_COPY_HOST_TO_DEVICE()),
        TO_HOST(odconv_h.ODCONV_COPY_DEVICE_TO_HOST());

        final int copyKind;

        Direction(int copyKind) {
            this.copyKind = copyKind;
        }
    }

    private CudaStream requireStream(CudaStream stream) {
        if (stream == null) throw new IllegalArgumentException("stream is null");
        if (!stream.device().equals(device)) {
            throw new IllegalArgumentException("the stream is on " + stream.device() + " but " + this + " is on "
                    + device + "; use a stream of " + device);
        }
        return stream;
    }

    /** One copy between {@code host} and this tensor, waited for when {@code stream} is null. */
    private void copy(Tensor host, Direction direction, CudaStream stream) {
        if (host.layout() != layout || !Arrays.equals(host.shape(), shape())) {
            String from = direction == Direction.TO_DEVICE ? host.toString() : toString();
            String to = direction == Direction.TO_DEVICE ? toString() : host.toString();
            throw new IllegalArgumentException("cannot copy " + from + " into " + to + ": shapes "
                    + Arrays.toString(host.shape()) + " and " + Arrays.toString(shape()) + " (layouts " + host.layout()
                    + " and " + layout + ") must be equal");
        }
        if (stream != null && !host.isPinned()) {
            throw new IllegalArgumentException("asynchronous copies need pinned host memory (Tensor.allocatePinned);"
                    + " " + host + " is pageable: use copyFrom/copyTo, which wait for the copy");
        }
        MemorySegment hostMemory = direction == Direction.TO_HOST ? host.writableSegment("destination") : host.segment();
        long stamp = acquire();
        try {
            if (!device.isCuda()) {  // host memory on both sides
                MemorySegment mine = address.reinterpret(byteSize);
                if (direction == Direction.TO_DEVICE) MemorySegment.copy(hostMemory, 0, mine, 0, byteSize);
                else MemorySegment.copy(mine, 0, hostMemory, 0, byteSize);
                return;
            }
            MemorySegment destination = direction == Direction.TO_DEVICE ? address : hostMemory;
            MemorySegment source = direction == Direction.TO_DEVICE ? hostMemory : address;
            if (stream == null) {
                Natives.check(odconv_h.odconv_copy(destination, source, byteSize, direction.copyKind,
                        MemorySegment.NULL), "odconv_copy", device);
                return;
            }
            long streamStamp = stream.enter();
            try {
                pendingStreams.add(stream);
                host.pendingStreams().add(stream);
                int status = stream.enqueue(() -> odconv_h.odconv_copy(destination, source, byteSize, direction.copyKind,
                        stream.handle()), this, host);
                Natives.check(status, "odconv_copy", device);
            } finally {
                stream.exit(streamStamp);
            }
        } finally {
            release(stamp);
        }
    }

    /** Holds only the device and the address, so the Cleaner does not keep the tensor reachable. */
    /**
     * The backstop for a tensor dropped unclosed. It must not reach the tensor's streams: a stream keeps the
     * tensors its queued work uses reachable, so that cycle would keep both alive forever. cudaFree waits for
     * the device to finish its work before it frees.
     */
    private record Freer(Device device, MemorySegment address) implements Runnable {
        @Override
        public void run() {
            odconv_h.odconv_device_free(device.type().nativeValue(), device.index(), address);
        }
    }
}
