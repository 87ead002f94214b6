package org.odconv;

import org.odconv.bindings.odconv_h;

/**
 * How layers are created: where they run, the precision they compute in and which shortcuts their backend may
 * take. Immutable; start from {@link #DEFAULT} (the CPU, float32 as PyTorch computes it) and change what
 * differs, by name:
 * {@snippet :
 * LayerOptions gpu = LayerOptions.DEFAULT.onDevice(Device.cuda(0)).allowingTf32(true);
 * ODConvModel model = ODConvModel.load(path, gpu);
 * ODConvModel fast = ODConvModel.load(path, LayerOptions.DEFAULT.withPrecision(Precision.BF16));
 * }
 *
 * @param device     where the layers run
 * @param allowTf32  CUDA only: let cuDNN run float32 convolutions on TF32 tensor cores (faster, about 1e-3
 *                   relative error, so outside this library's 1e-4 bound against PyTorch); ignored on the CPU
 * @param precision  what the convolutions compute in (see {@link Precision}); creating a layer in a precision
 *                   its device cannot compute in throws {@link PrecisionUnavailableException}
 */
public record LayerOptions(Device device, boolean allowTf32, Precision precision) {
    /** The CPU, float32, no TF32. */
    public static final LayerOptions DEFAULT = new LayerOptions(Device.cpu(), false, Precision.F32);

    public LayerOptions {
        if (device == null) throw new IllegalArgumentException("device is null");
        if (precision == null) throw new IllegalArgumentException("precision is null");
    }

    /** Float32 options, as before precisions existed. */
    public LayerOptions(Device device, boolean allowTf32) {
        this(device, allowTf32, Precision.F32);
    }

    /** These options on another device. */
    public LayerOptions onDevice(Device device) {
        return new LayerOptions(device, allowTf32, precision);
    }

    /** These options with TF32 allowed or not. */
    public LayerOptions allowingTf32(boolean allow) {
        return new LayerOptions(device, allow, precision);
    }

    /** These options in another precision. */
    public LayerOptions withPrecision(Precision precision) {
        return new LayerOptions(device, allowTf32, precision);
    }

    /**
     * The flags of {@code odconv_layer_create} and {@code odconv_static_conv_create} for these options, once the
     * device is known to compute in their precision.
     *
     * @throws PrecisionUnavailableException naming what the device lacks
     */
    int nativeFlags() {
        if (precision != Precision.F32) device.requireSupport(precision);
        return (allowTf32 ? odconv_h.ODCONV_FLAG_ALLOW_TF32() : 0) | precision.nativeFlag();
    }
}
