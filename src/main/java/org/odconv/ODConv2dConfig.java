package org.odconv;

/**
 * The configuration of one ODConv2d layer: the constructor arguments of the YOLO-style PyTorch module
 * {@code ODConv2d(in_planes, out_planes, k, s, p, g, act, d, reduction, kernel_num)} plus what its
 * submodules hold (the attention's {@code min_channel} and temperature, the BatchNorm eps values).
 * Built with {@link #builder(int, int, int)}, whose defaults are the seed's. The constructor checks
 * every field and throws {@link IllegalArgumentException} naming the field and its value.
 *
 * @param inPlanes       input channels
 * @param outPlanes      output channels
 * @param kernelSize     square kernel side k
 * @param stride         convolution stride
 * @param padding        zero padding per side; the seed's {@code autopad(k, None)} is k / 2 whatever the dilation
 * @param dilation       kernel dilation
 * @param groups         convolution groups; divides both channel counts
 * @param reduction      attention width factor: width = max((int) (inPlanes * reduction), minChannel)
 * @param kernelNum      number of kernels in the static bank mixed by the kernel attention
 * @param minChannel     lower bound of the attention width
 * @param temperature    divisor of every attention logit
 * @param activation     activation after the trailing BatchNorm
 * @param batchNorm      whether a BatchNorm follows the convolution (false for the official OSVAI module)
 * @param bnEps          eps of the trailing BatchNorm
 * @param attentionBnEps eps of the attention trunk's BatchNorm
 */
public record ODConv2dConfig(int inPlanes, int outPlanes, int kernelSize, int stride, int padding, int dilation,
        int groups, double reduction, int kernelNum, int minChannel, float temperature, Activation activation,
        boolean batchNorm, float bnEps, float attentionBnEps) {

    /** Far above any real layer; keeps every size product well inside a long (the C library checks the same). */
    public static final int MAX_SIZE = 1 << 20;

    /**
     * Checks every field; {@link #builder(int, int, int)} is the usual way to get here.
     *
     * @throws IllegalArgumentException naming the field and its value when a size is below its minimum (1, or
     *                                  0 for padding) or above {@link #MAX_SIZE}, groups does not divide both
     *                                  channel counts, reduction, temperature, attentionBnEps or (with BatchNorm)
     *                                  bnEps is not finite and positive, the attention width would exceed
     *                                  {@link #MAX_SIZE}, or activation is null
     */
    public ODConv2dConfig {
        requireRange("inPlanes", inPlanes, 1);
        requireRange("outPlanes", outPlanes, 1);
        requireRange("kernelSize", kernelSize, 1);
        requireRange("stride", stride, 1);
        requireRange("padding", padding, 0);
        requireRange("dilation", dilation, 1);
        requireRange("groups", groups, 1);
        requireRange("kernelNum", kernelNum, 1);
        requireRange("minChannel", minChannel, 1);
        long extent = (long) dilation * (kernelSize - 1) + 1;  // wider padding sees only zeros (odconv.h)
        if (padding > extent) {
            throw new IllegalArgumentException("padding = " + padding + " is wider than the dilated kernel (" + extent
                    + " for kernelSize " + kernelSize + " and dilation " + dilation + ")");
        }
        if (inPlanes % groups != 0) {
            throw new IllegalArgumentException("groups = " + groups + " does not divide inPlanes = " + inPlanes);
        }
        if (outPlanes % groups != 0) {
            throw new IllegalArgumentException("groups = " + groups + " does not divide outPlanes = " + outPlanes);
        }
        requirePositiveFinite("reduction", reduction);
        if (reduction * inPlanes > MAX_SIZE) {
            throw new IllegalArgumentException("reduction = " + reduction + " makes the attention width exceed " + MAX_SIZE);
        }
        requirePositiveFinite("temperature", temperature);
        requirePositiveFinite("attentionBnEps", attentionBnEps);
        if (batchNorm) requirePositiveFinite("bnEps", bnEps);
        if (activation == null) throw new IllegalArgumentException("activation is null");
    }

    /** A builder with the seed's defaults: stride 1, padding k / 2, dilation 1, groups 1, reduction 0.0625,
     * kernelNum 1, minChannel 16, temperature 1, SiLU, BatchNorm with eps 1e-5 in both places. */
    public static Builder builder(int inPlanes, int outPlanes, int kernelSize) {
        return new Builder(inPlanes, outPlanes, kernelSize);
    }

    /** A builder holding this configuration's values. */
    public Builder toBuilder() {
        return new Builder(inPlanes, outPlanes, kernelSize).stride(stride).padding(padding).dilation(dilation)
                .groups(groups).reduction(reduction).kernelNum(kernelNum).minChannel(minChannel)
                .temperature(temperature).activation(activation).batchNorm(batchNorm).bnEps(bnEps)
                .attentionBnEps(attentionBnEps);
    }

    /** max((int) (inPlanes * reduction), minChannel), truncating as Python's int() does. */
    public int attentionChannels() {
        return Math.max((int) (inPlanes * reduction), minChannel);
    }

    /** in_planes == groups == out_planes: the filter attention is skipped. */
    public boolean isDepthwise() {
        return inPlanes == groups && outPlanes == groups;
    }

    /** Whether the layer has the filter attention head ({@code attention.filter_fc}): every layer but a depthwise one. */
    public boolean hasFilterHead() {
        return !isDepthwise();
    }

    /** Whether the layer has the spatial attention head ({@code attention.spatial_fc}): kernelSize &gt; 1. */
    public boolean hasSpatialHead() {
        return kernelSize > 1;
    }

    /** Whether the layer has the kernel attention head ({@code attention.kernel_fc}): kernelNum &gt; 1. */
    public boolean hasKernelHead() {
        return kernelNum > 1;
    }

    /**
     * The output side for an input side ({@code axis} names it in the message), as PyTorch computes it.
     *
     * @throws IllegalArgumentException when the input is too small for one output element
     */
    public long outputExtent(long inputExtent, String axis) {
        if (inputExtent < 1) throw new IllegalArgumentException("input " + axis + " = " + inputExtent + " must be >= 1");
        long receptive = (long) dilation * (kernelSize - 1) + 1;
        long padded = inputExtent + 2L * padding;
        if (padded < receptive) {
            throw new IllegalArgumentException("input " + axis + " = " + inputExtent + " is too small: with padding "
                    + padding + " it must be at least " + (receptive - 2L * padding) + " for kernelSize " + kernelSize
                    + " and dilation " + dilation);
        }
        return (padded - receptive) / stride + 1;
    }

    /** Parameter count of the layer (every tensor it holds, BatchNorm statistics included). */
    public long parameterCount() {
        long total = 0;
        for (Parameter p : Parameter.values()) {
            if (p.isPresent(this)) total += p.elementCount(this);
        }
        return total;
    }

    private static void requireRange(String field, int value, int min) {
        if (value < min || value > MAX_SIZE) {
            throw new IllegalArgumentException(field + " = " + value + " is out of range [" + min + ", " + MAX_SIZE + "]");
        }
    }

    private static void requirePositiveFinite(String field, double value) {
        if (!(Double.isFinite(value) && value > 0)) {
            throw new IllegalArgumentException(field + " = " + value + " must be finite and > 0");
        }
    }

    /** Collects the fields; {@link #build()} validates them. */
    public static final class Builder {
        private final int inPlanes;
        private final int outPlanes;
        private final int kernelSize;
        private int stride = 1;
        private int padding;
        private int dilation = 1;
        private int groups = 1;
        private double reduction = 0.0625;
        private int kernelNum = 1;
        private int minChannel = 16;
        private float temperature = 1.0f;
        private Activation activation = Activation.SILU;
        private boolean batchNorm = true;
        private float bnEps = 1e-5f;
        private float attentionBnEps = 1e-5f;

        private Builder(int inPlanes, int outPlanes, int kernelSize) {
            this.inPlanes = inPlanes;
            this.outPlanes = outPlanes;
            this.kernelSize = kernelSize;
            this.padding = kernelSize / 2;
        }

        /** Sets the convolution stride (default 1); returns this builder. */
        public Builder stride(int stride) { this.stride = stride; return this; }
        /** Sets the zero padding per side (default kernelSize / 2, whatever the dilation); returns this builder. */
        public Builder padding(int padding) { this.padding = padding; return this; }
        /** Sets the kernel dilation (default 1; the padding does not follow it); returns this builder. */
        public Builder dilation(int dilation) { this.dilation = dilation; return this; }
        /** Sets the convolution groups (default 1), which must divide both channel counts; returns this builder. */
        public Builder groups(int groups) { this.groups = groups; return this; }
        /** Sets the attention width factor (default 0.0625); returns this builder. */
        public Builder reduction(double reduction) { this.reduction = reduction; return this; }
        /** Sets the number of kernels in the bank (default 1); returns this builder. */
        public Builder kernelNum(int kernelNum) { this.kernelNum = kernelNum; return this; }
        /** Sets the lower bound of the attention width (default 16); returns this builder. */
        public Builder minChannel(int minChannel) { this.minChannel = minChannel; return this; }
        /** Sets the divisor of every attention logit (default 1); returns this builder. */
        public Builder temperature(float temperature) { this.temperature = temperature; return this; }
        /** Sets the activation after the trailing BatchNorm (default {@link Activation#SILU}); returns this builder. */
        public Builder activation(Activation activation) { this.activation = activation; return this; }
        /** Sets whether a BatchNorm follows the convolution (default true); returns this builder. */
        public Builder batchNorm(boolean batchNorm) { this.batchNorm = batchNorm; return this; }
        /** Sets the trailing BatchNorm's eps (default 1e-5; unchecked and unused without BatchNorm); returns this
         * builder. */
        public Builder bnEps(float bnEps) { this.bnEps = bnEps; return this; }
        /** Sets the attention trunk BatchNorm's eps (default 1e-5); returns this builder. */
        public Builder attentionBnEps(float attentionBnEps) { this.attentionBnEps = attentionBnEps; return this; }

        /**
         * A configuration of the collected values; the builder stays usable.
         *
         * @return the validated configuration
         * @throws IllegalArgumentException naming the field and its value when one is invalid, as the record's
         *                                  constructor checks them
         */
        public ODConv2dConfig build() {
            return new ODConv2dConfig(inPlanes, outPlanes, kernelSize, stride, padding, dilation, groups, reduction,
                    kernelNum, minChannel, temperature, activation, batchNorm, bnEps, attentionBnEps);
        }
    }
}
