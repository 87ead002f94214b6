package org.odconv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.Optional;

import org.odconv.bindings.odconv_h;
import org.odconv.internal.Logging;
import org.odconv.internal.CStrings;

/**
 * Where a layer runs and where its tensors live: the CPU (host memory, oneDNN; always there) or one CUDA GPU
 * (its memory, cuDNN; needs libodconv_cuda.so, an NVIDIA driver and cuDNN 9). Written and parsed as
 * {@code cpu} and {@code cuda:N}.
 *
 * @param type  the kind of device
 * @param index which device of that kind: 0 for the CPU, 0 .. {@link #cudaDeviceCount()} - 1 for GPUs
 */
public record Device(Type type, int index) {
    /** The kinds of device, with their {@code odconv_device_type} values. */
    public enum Type {
        /** Host memory, oneDNN; one device, index 0. */
        CPU,
        /** An NVIDIA GPU, cuDNN. */
        CUDA;

        /** The {@code odconv_device_type} value, as odconv.h defines it. */
        public int nativeValue() {
            return switch (this) {
                case CPU -> odconv_h.ODCONV_DEVICE_CPU();
                case CUDA -> odconv_h.ODCONV_DEVICE_CUDA();
            };
        }
    }

    private static final Device CPU = new Device(Type.CPU, 0);
    /** odconv_device_describe truncates to the buffer; device names are far shorter. */
    private static final int DESCRIPTION_CAPACITY = 512;

    /**
     * Checks the index.
     *
     * @throws IllegalArgumentException when type is null, the index is negative, or a CPU index is not 0
     */
    public Device {
        if (type == null) throw new IllegalArgumentException("device type is null");
        if (index < 0) throw new IllegalArgumentException("device index = " + index + " must be >= 0");
        if (type == Type.CPU && index != 0) {
            throw new IllegalArgumentException("device index = " + index + " for the CPU; there is one CPU device, 0");
        }
    }

    /** The CPU. */
    public static Device cpu() {
        return CPU;
    }

    /**
     * The CUDA GPU of that index (as the driver numbers them, after {@code CUDA_VISIBLE_DEVICES}). Whether it
     * exists is checked when it is first used.
     *
     * @throws IllegalArgumentException when index &lt; 0
     */
    public static Device cuda(int index) {
        return new Device(Type.CUDA, index);
    }

    /**
     * Reads {@code cpu}, {@code cuda} (GPU 0) or {@code cuda:N}, ignoring case and surrounding blanks: the
     * inverse of {@link #toString()}.
     *
     * @throws IllegalArgumentException naming the text and the accepted forms otherwise
     */
    public static Device parse(String text) {
        String t = text == null ? "" : text.strip().toLowerCase(Locale.ROOT);
        if (t.equals("cpu")) return CPU;
        if (t.equals("cuda")) return cuda(0);
        if (t.startsWith("cuda:") && t.length() > "cuda:".length() && t.length() <= "cuda:".length() + 9
                && t.substring("cuda:".length()).chars().allMatch(c -> c >= '0' && c <= '9')) {
            return cuda(Integer.parseInt(t.substring("cuda:".length())));
        }
        throw new IllegalArgumentException("device \"" + text + "\" is not cpu, cuda or cuda:N (N a GPU index)");
    }

    /** Whether this is a CUDA GPU. */
    public boolean isCuda() {
        return type == Type.CUDA;
    }

    /**
     * The number of CUDA GPUs this process can use: 0 when there are none or CUDA cannot be used at all
     * ({@link #cudaUnavailableReason()} says why).
     */
    public static int cudaDeviceCount() {
        return cudaStatus().count();
    }

    /**
     * Why no CUDA GPU can be used, e.g. "CUDA backend not available: .../libodconv_cuda.so does not exist; ...",
     * or empty when at least one can.
     */
    public static Optional<String> cudaUnavailableReason() {
        return Optional.ofNullable(cudaStatus().reason());
    }

    /**
     * A one-line description from the native library, e.g. "CPU (avx512_core), oneDNN 3.13.0 ..." or
     * "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB), CUDA driver 13.0, cuDNN 9.10.2".
     *
     * @throws DeviceUnavailableException when CUDA cannot be used, with the native reason
     * @throws IllegalArgumentException   when there is no GPU of this index
     */
    public String describe() {
        Natives.load();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment buffer = call.allocate(DESCRIPTION_CAPACITY);
            Natives.check(odconv_h.odconv_device_describe(type.nativeValue(), index, buffer, DESCRIPTION_CAPACITY),
                    "odconv_device_describe", this);
            return buffer.getString(0);
        }
    }

    /**
     * Why layers on this device cannot compute in {@code precision}, e.g. "bfloat16 needs a CPU with
     * AVX512-BF16 ...; oneDNN finds avx2 here", or empty when they can (always, for {@link Precision#F32} on a
     * usable device).
     *
     * @throws DeviceUnavailableException when CUDA cannot be used at all
     * @throws IllegalArgumentException   when there is no GPU of this index
     */
    public Optional<String> unsupportedReason(Precision precision) {
        Natives.load();
        int status = odconv_h.odconv_device_supports_flags(type.nativeValue(), index, precision.nativeFlag());
        if (status == odconv_h.ODCONV_STATUS_UNSUPPORTED()) {
            return Optional.of(CStrings.read(odconv_h.odconv_last_error_message()));
        }
        Natives.check(status, "odconv_device_supports_flags", this);
        return Optional.empty();
    }

    /**
     * Checks that layers on this device can compute in {@code precision}.
     *
     * @throws PrecisionUnavailableException naming what the device lacks (see {@link #unsupportedReason(Precision)})
     * @throws DeviceUnavailableException    when CUDA cannot be used at all
     */
    public void requireSupport(Precision precision) {
        unsupportedReason(precision).ifPresent(reason -> {
            throw new PrecisionUnavailableException(this, precision, reason);
        });
    }

    /** "cpu" or "cuda:N", as {@link #parse(String)} reads it. */
    @Override
    public String toString() {
        return type == Type.CPU ? "cpu" : "cuda:" + index;
    }

    private record CudaStatus(int count, String reason) {}

    /** Asked each time: the answer is cheap, and the driver's view can change (a GPU reset, for one). */
    private static CudaStatus cudaStatus() {
        Natives.load();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment count = call.allocate(ValueLayout.JAVA_INT);
            int status = odconv_h.odconv_device_count(Type.CUDA.nativeValue(), count);
            if (status != odconv_h.ODCONV_STATUS_SUCCESS()) {
                String reason = CStrings.read(odconv_h.odconv_last_error_message());
                Logging.LOGGER.log(System.Logger.Level.DEBUG, "odconv: no CUDA device: {0}", reason);
                return new CudaStatus(0, reason);
            }
            int devices = count.get(ValueLayout.JAVA_INT, 0);
            return new CudaStatus(devices, devices > 0 ? null : "the CUDA driver reports no GPUs (check nvidia-smi and"
                    + " CUDA_VISIBLE_DEVICES)");
        }
    }
}
