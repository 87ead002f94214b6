package org.odconv;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Map;

import org.odconv.bindings.odconv_config_t;
import org.odconv.bindings.odconv_h;
import org.odconv.bindings.odconv_weights_t;
import org.odconv.internal.CStrings;
import org.odconv.internal.NativeLibrary;
import org.odconv.internal.NativeLoadException;

/**
 * The API's side of every native call: loading the library, turning statuses into this package's exceptions,
 * and filling the C structs from the Java types. Package-private, so that {@code org.odconv.internal} needs none
 * of the API's types.
 */
final class Natives {
    private Natives() {}

    /** Loads the library if needed; returns the folder it came from. */
    static Path load() {
        try {
            return NativeLibrary.load();
        } catch (NativeLoadException e) {
            throw new OdconvException(e.getMessage(), e);
        }
    }

    /**
     * Throws for a non-zero status: {@link IllegalArgumentException} for invalid arguments, else
     * {@link NativeException}; both carry the native last-error message. Must run on the thread that made
     * the call, right after it, since the message is thread-local.
     */
    static void check(int status, String call) {
        if (status == odconv_h.ODCONV_STATUS_SUCCESS()) return;
        String message = CStrings.read(odconv_h.odconv_last_error_message());
        if (status == odconv_h.ODCONV_STATUS_INVALID_ARGUMENT()) throw new IllegalArgumentException(message);
        throw new NativeException(NativeException.Status.of(status), CStrings.read(odconv_h.odconv_status_string(status)),
                call, message);
    }

    /**
     * As {@link #check(int, String)} for a call concerning {@code device}: "device unavailable" (the CUDA
     * backend, driver or cuDNN cannot be used) throws {@link DeviceUnavailableException}. Other failures on
     * a usable GPU, such as a shape cuDNN cannot run ("unsupported"), stay {@link NativeException}s.
     */
    static void check(int status, String call, Device device) {
        if (status == odconv_h.ODCONV_STATUS_DEVICE_UNAVAILABLE()) {
            String message = CStrings.read(odconv_h.odconv_last_error_message());
            throw new DeviceUnavailableException(device, call + " failed on " + device + " ("
                    + CStrings.read(odconv_h.odconv_status_string(status)) + "): " + message);
        }
        check(status, call);
    }

    /**
     * A new {@code odconv_config_t} in {@code allocator}'s memory holding {@code c}'s fields. The native calls
     * it is passed to copy it, so it need live only for the call.
     */
    static MemorySegment config(ODConv2dConfig c, SegmentAllocator allocator) {
        MemorySegment s = odconv_config_t.allocate(allocator);
        odconv_config_t.in_planes(s, c.inPlanes());
        odconv_config_t.out_planes(s, c.outPlanes());
        odconv_config_t.kernel_size(s, c.kernelSize());
        odconv_config_t.stride(s, c.stride());
        odconv_config_t.padding(s, c.padding());
        odconv_config_t.dilation(s, c.dilation());
        odconv_config_t.groups(s, c.groups());
        odconv_config_t.kernel_num(s, c.kernelNum());
        odconv_config_t.reduction(s, c.reduction());
        odconv_config_t.min_channel(s, c.minChannel());
        odconv_config_t.has_batch_norm(s, c.batchNorm() ? 1 : 0);
        odconv_config_t.temperature(s, c.temperature());
        odconv_config_t.bn_eps(s, c.bnEps());
        odconv_config_t.attention_bn_eps(s, c.attentionBnEps());
        odconv_config_t.activation(s, c.activation().nativeValue());
        return s;
    }

    /** The struct of borrowed pointers; absent parameters stay NULL (allocation zero-fills). */
    static MemorySegment weights(Map<Parameter, MemorySegment> segments, SegmentAllocator allocator) {
        MemorySegment s = odconv_weights_t.allocate(allocator);
        segments.forEach((p, data) -> s.set(ValueLayout.ADDRESS,
                odconv_weights_t.layout().byteOffset(MemoryLayout.PathElement.groupElement(p.nativeName())), data));
        return s;
    }
}
