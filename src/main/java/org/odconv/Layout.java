package org.odconv;

/** The memory order of an activation {@link Tensor}; shapes are always (batch, channels, height, width). */
public enum Layout {
    /** Channels planar: PyTorch's default. */
    NCHW(0),
    /** Channels last: oneDNN's fastest layout on CPUs, and PyTorch's {@code channels_last}. */
    NHWC(1);

    private final int nativeValue;

    Layout(int nativeValue) {
        this.nativeValue = nativeValue;
    }

    /** The {@code odconv_layout} value. */
    public int nativeValue() {
        return nativeValue;
    }
}
