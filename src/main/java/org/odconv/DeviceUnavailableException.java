package org.odconv;

/**
 * A device cannot be used at all: the CUDA backend is not built into this installation, the NVIDIA driver or
 * cuDNN 9 cannot be loaded, or the driver refuses (the native status {@code ODCONV_STATUS_DEVICE_UNAVAILABLE} on a
 * CUDA call). The message carries the native library's reason, e.g. "odconv_stream_create failed
 * (unsupported): CUDA backend not available: .../libodconv_cuda.so does not exist; ...".
 * {@link Device#cudaUnavailableReason()} tells the same without trying.
 */
public final class DeviceUnavailableException extends OdconvException {
    private static final long serialVersionUID = 1L;
    /** The device that was asked for. */
    private final transient Device device;

    /**
     * An exception for a device that cannot be used.
     *
     * @param device  the device that was asked for
     * @param message what failed and the native reason
     */
    public DeviceUnavailableException(Device device, String message) {
        super(message);
        this.device = device;
    }

    /** The device that was asked for. */
    public Device device() {
        return device;
    }
}
