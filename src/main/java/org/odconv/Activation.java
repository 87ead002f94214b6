package org.odconv;

import java.util.Locale;

/** The activation after the convolution (and its BatchNorm). */
public enum Activation {
    /** {@code nn.Identity}: the official OSVAI module, or {@code act=False} in the YOLO-style one. */
    IDENTITY(0),
    /** {@code nn.ReLU}. */
    RELU(1),
    /** {@code nn.SiLU}, x * sigmoid(x): the YOLO-style default ({@code act=True}). */
    SILU(2);

    private final int nativeValue;

    Activation(int nativeValue) {
        this.nativeValue = nativeValue;
    }

    /** The {@code odconv_activation} value. */
    public int nativeValue() {
        return nativeValue;
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
