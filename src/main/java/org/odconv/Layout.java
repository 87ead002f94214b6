package org.odconv;

import org.odconv.bindings.odconv_h;

/** The memory order of an activation {@link Tensor}; shapes are always (batch, channels, height, width). */
public enum Layout {
    /** Channels planar: PyTorch's default. */
    NCHW,
    /** Channels last: oneDNN's fastest layout on CPUs, and PyTorch's {@code channels_last}. */
    NHWC;

    /** The {@code odconv_layout} value, as odconv.h defines it. */
    public int nativeValue() {
        return switch (this) {
            case NCHW -> odconv_h.ODCONV_LAYOUT_NCHW();
            case NHWC -> odconv_h.ODCONV_LAYOUT_NHWC();
        };
    }
}
