package org.odconv;

/**
 * How layers are created: where they run and which shortcuts their backend may take. Immutable; start from
 * {@link #DEFAULT} (the CPU, float32 as PyTorch computes it) and change what differs, by name:
 * {@snippet :
 * LayerOptions gpu = LayerOptions.DEFAULT.onDevice(Device.cuda(0)).allowingTf32(true);
 * ODConvModel model = ODConvModel.load(path, gpu);
 * }
 *
 * @param device     where the layers run
 * @param allowTf32  CUDA only: let cuDNN run float32 convolutions on TF32 tensor cores (faster, about 1e-3
 *                   relative error, so outside this library's 1e-4 bound against PyTorch); ignored on the CPU
 */
public record LayerOptions(Device device, boolean allowTf32) {
    /** The CPU, no TF32. */
    public static final LayerOptions DEFAULT = new LayerOptions(Device.cpu(), false);

    public LayerOptions {
        if (device == null) throw new IllegalArgumentException("device is null");
    }

    /** These options on another device. */
    public LayerOptions onDevice(Device device) {
        return new LayerOptions(device, allowTf32);
    }

    /** These options with TF32 allowed or not. */
    public LayerOptions allowingTf32(boolean allow) {
        return new LayerOptions(device, allow);
    }
}
