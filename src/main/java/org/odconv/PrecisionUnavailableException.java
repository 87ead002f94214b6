package org.odconv;

/**
 * A device cannot compute in the precision asked for: bfloat16 on a CPU without AVX512-BF16, AMX-BF16 or
 * AVX-NE-CONVERT, or on a GPU older than compute capability 8.0 (the native status {@code ODCONV_STATUS_UNSUPPORTED} from
 * {@code odconv_device_supports_flags}). The message names what the device lacks, e.g. "cpu cannot compute in
 * bf16: bfloat16 needs a CPU with AVX512-BF16 ...; oneDNN finds avx2 here". odconv never emulates it slowly instead.
 */
public final class PrecisionUnavailableException extends OdconvException {
    private static final long serialVersionUID = 1L;
    private final transient Device device;
    private final Precision precision;

    /**
     * @param device    the device asked for
     * @param precision the precision asked for
     * @param reason    what the device lacks, from the native library
     */
    public PrecisionUnavailableException(Device device, Precision precision, String reason) {
        super(device + " cannot compute in " + precision.label() + ": " + reason);
        this.device = device;
        this.precision = precision;
    }

    /** The device asked for. */
    public Device device() {
        return device;
    }

    /** The precision asked for. */
    public Precision precision() {
        return precision;
    }
}
