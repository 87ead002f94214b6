package org.odconv;

import java.util.Locale;

import org.odconv.bindings.odconv_h;

/** The activation after the convolution (and its BatchNorm). */
public enum Activation {
    /** {@code nn.Identity}: the official OSVAI module, or {@code act=False} in the YOLO-style one. */
    IDENTITY,
    /** {@code nn.ReLU}. */
    RELU,
    /** {@code nn.SiLU}, x * sigmoid(x): the YOLO-style default ({@code act=True}). */
    SILU;

    /** The {@code odconv_activation} value, as odconv.h defines it. */
    public int nativeValue() {
        return switch (this) {
            case IDENTITY -> odconv_h.ODCONV_ACTIVATION_IDENTITY();
            case RELU -> odconv_h.ODCONV_ACTIVATION_RELU();
            case SILU -> odconv_h.ODCONV_ACTIVATION_SILU();
        };
    }

    /** The name used in model files: "identity", "relu", "silu". */
    public String fileName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a model file's name; throws {@link IllegalArgumentException} listing the known names. */
    public static Activation fromFileName(String name) {
        for (Activation a : values()) {
            if (a.fileName().equals(name)) return a;
        }
        throw new IllegalArgumentException("unknown activation \"" + name + "\"; expected identity, relu or silu");
    }
}
