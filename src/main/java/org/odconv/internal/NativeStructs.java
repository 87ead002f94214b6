package org.odconv.internal;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout;
import java.util.Map;

import org.odconv.ODConv2dConfig;
import org.odconv.Parameter;
import org.odconv.bindings.odconv_config_t;
import org.odconv.bindings.odconv_weights_t;

/** Fills the C structs of the ABI from the Java types. */
public final class NativeStructs {
    private NativeStructs() {}

    /**
     * A new {@code odconv_config_t} in {@code allocator}'s memory holding {@code c}'s fields. The native calls
     * it is passed to copy it, so it need live only for the call.
     */
    public static MemorySegment config(ODConv2dConfig c, SegmentAllocator allocator) {
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
    public static MemorySegment weights(Map<Parameter, MemorySegment> segments, SegmentAllocator allocator) {
        MemorySegment s = odconv_weights_t.allocate(allocator);
        segments.forEach((p, data) -> s.set(ValueLayout.ADDRESS,
                odconv_weights_t.layout().byteOffset(MemoryLayout.PathElement.groupElement(p.nativeName())), data));
        return s;
    }
}
