package org.odconv;

import java.util.Locale;

import org.odconv.bindings.odconv_h;

/**
 * The number format a layer's convolution computes in. Tensors stay float32 either way.
 */
public enum Precision {
    /** float32 throughout, as PyTorch computes it (within 1e-4). The default. */
    F32(0),
    /**
     * bfloat16 convolution: the attention runs in float32, the per-sample kernel and the input are rounded to
     * bfloat16, products accumulate in float32, bias, BatchNorm and activation apply in float32. Within 1e-2
     * of PyTorch's float32 output ({@link #errorBound()}; docs/bfloat16.md). CPUs need AVX512-BF16, AMX-BF16 or AVX-NE-CONVERT
     * ({@link Device#unsupportedReason(Precision)} tells), GPUs compute capability 8.0 or later.
     */
    BF16(odconv_h.ODCONV_FLAG_BFLOAT16());

    private final int flag;

    Precision(int flag) {
        this.flag = flag;
    }

    /**
     * The documented bound of a layer's error in this precision against PyTorch's float32 output: the largest
     * absolute difference over the output, divided by the larger of 1 and the output's largest magnitude
     * (docs/bfloat16.md has the measurements behind the bfloat16 figure).
     */
    public double errorBound() {
        return this == F32 ? 1e-4 : 1e-2;
    }

    /** The flag of {@code odconv_layer_create} that asks for this precision (0 for float32). */
    int nativeFlag() {
        return flag;
    }

    /** "f32" or "bf16", as the command line and benchmark files spell it. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The precision a label names, in any case.
     *
     * @throws IllegalArgumentException naming the accepted labels
     */
    public static Precision parse(String label) {
        for (Precision p : values()) {
            if (p.label().equalsIgnoreCase(label)) return p;
        }
        throw new IllegalArgumentException("precision '" + label + "' is not one of f32, bf16");
    }
}
