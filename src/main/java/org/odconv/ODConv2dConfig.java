package org.odconv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.odconv.bindings.odconv_h;

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

    /** The largest value of any int field, and of the attention width: {@code ODCONV_CONFIG_MAX_SIZE} of odconv.h. */
    public static final int MAX_SIZE = odconv_h.ODCONV_CONFIG_MAX_SIZE();

    /**
     * Checks every field with the native library's own validation ({@code odconv_config_validate}), so Java and
     * C accept exactly the same configurations; the message names the field in Java's spelling.
     *
     * @throws IllegalArgumentException naming the first invalid field and its value
     */
    public ODConv2dConfig(int inPlanes, int outPlanes, int kernelSize, int stride, int padding, int dilation,
            int groups, double reduction, int kernelNum, int minChannel, float temperature, Activation activation,
            boolean batchNorm, float bnEps, float attentionBnEps) {
        if (activation == null) throw new IllegalArgumentException("activation is null");
        this.inPlanes = inPlanes;
        this.outPlanes = outPlanes;
        this.kernelSize = kernelSize;
        this.stride = stride;
        this.padding = padding;
        this.dilation = dilation;
        this.groups = groups;
        this.reduction = reduction;
        this.kernelNum = kernelNum;
        this.minChannel = minChannel;
        this.temperature = temperature;
        this.activation = activation;
        this.batchNorm = batchNorm;
        this.bnEps = bnEps;
        this.attentionBnEps = attentionBnEps;
        Natives.load();
        try (Arena call = Arena.ofConfined()) {
            checkInJavaNames(odconv_h.odconv_config_validate(Natives.config(this, call)), "odconv_config_validate");
        }
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
        try (Arena call = Arena.ofConfined()) {
            MemorySegment width = call.allocate(ValueLayout.JAVA_INT);
            checkInJavaNames(odconv_h.odconv_config_attention_channels(Natives.config(this, call), width),
                    "odconv_config_attention_channels");
            return width.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /** in_planes == groups == out_planes: the filter attention is skipped. */
    public boolean isDepthwise() {
        return inPlanes == groups && outPlanes == groups;
    }

    /** Whether the layer has the filter attention head ({@code attention.filter_fc}): every layer but a depthwise one. */
    public boolean hasFilterHead() {
        return Parameter.FILTER_FC_WEIGHT.isPresent(this);
    }

    /** Whether the layer has the spatial attention head ({@code attention.spatial_fc}): kernelSize &gt; 1. */
    public boolean hasSpatialHead() {
        return Parameter.SPATIAL_FC_WEIGHT.isPresent(this);
    }

    /** Whether the layer has the kernel attention head ({@code attention.kernel_fc}): kernelNum &gt; 1. */
    public boolean hasKernelHead() {
        return Parameter.KERNEL_FC_WEIGHT.isPresent(this);
    }

    /**
     * The output's {height, width} for an input of height x width ({@code odconv_config_output_shape}).
     *
     * @throws IllegalArgumentException naming the axis when the input is too small for one output element
     */
    public long[] outputSize(long height, long width) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment out = call.allocate(ValueLayout.JAVA_LONG, 2);
            checkInJavaNames(odconv_h.odconv_config_output_shape(Natives.config(this, call), height, width, out,
                    out.asSlice(Long.BYTES)), "odconv_config_output_shape");
            return new long[] {out.get(ValueLayout.JAVA_LONG, 0), out.get(ValueLayout.JAVA_LONG, Long.BYTES)};
        }
    }

    /** How many float parameters a layer of this configuration holds. */
    public long parameterCount() {
        long total = 0;
        for (Parameter p : Parameter.values()) {
            if (p.isPresent(this)) total += p.elementCount(this);
        }
        return total;
    }

    /**
     * As {@link NativeCalls#check(int, String)}, with the message in Java's names: the C library names the
     * fields of odconv_config_t ("config.kernel_size"), Java users know the record's components ("kernelSize").
     */
    private static void checkInJavaNames(int status, String call) {
        try {
            Natives.check(status, call);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(javaNames(e.getMessage()), e);
        }
    }

    private static final Pattern C_NAME = Pattern.compile("\\b(?:config\\.)?([a-z]+(?:_[a-z]+)+|[a-z]+)\\b");

    /** "config.kernel_size = 0 ..." as "kernelSize = 0 ...": snake_case words in camelCase, the struct prefix gone. */
    static String javaNames(String message) {
        return C_NAME.matcher(message).replaceAll(m -> {
            String[] words = m.group(1).split("_");
            StringBuilder camel = new StringBuilder(words[0]);
            for (int i = 1; i < words.length; i++) {
                camel.append(Character.toUpperCase(words[i].charAt(0))).append(words[i].substring(1));
            }
            return Matcher.quoteReplacement(camel.toString());
        });
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
