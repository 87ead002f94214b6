package org.odconv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;

import org.odconv.bindings.odconv_h;

/**
 * The parameter tensors of an ODConv2d layer, named as in the PyTorch {@code state_dict()} of the
 * YOLO-style seed module or the official OSVAI module (under the layer's own prefix; see {@link NamingScheme}).
 * Which ones a layer has, and their shapes, follow from its {@link ODConv2dConfig}.
 * {@code num_batches_tracked} buffers are not parameters here.
 */
public enum Parameter {
    /** The kernel bank the kernel attention mixes: [kernelNum, outPlanes, inPlanes / groups, k, k]. Always present. */
    WEIGHT("weight"),
    /** The attention trunk's 1x1 convolution (no bias): [A, inPlanes, 1, 1], where A is the attention width
     * ({@link ODConv2dConfig#attentionChannels()}). {@code attention.fc.weight} in the OSVAI scheme. */
    ATTENTION_FC_WEIGHT("attention.fc.conv.weight"),
    /** The attention trunk's BatchNorm scale (gamma): [A]. {@code attention.bn.weight} in the OSVAI scheme. */
    ATTENTION_BN_WEIGHT("attention.fc.bn.weight"),
    /** The attention trunk's BatchNorm shift (beta): [A]. {@code attention.bn.bias} in the OSVAI scheme. */
    ATTENTION_BN_BIAS("attention.fc.bn.bias"),
    /** The attention trunk's BatchNorm running mean: [A]. {@code attention.bn.running_mean} in the OSVAI scheme. */
    ATTENTION_BN_MEAN("attention.fc.bn.running_mean"),
    /** The attention trunk's BatchNorm running variance: [A]. {@code attention.bn.running_var} in the OSVAI
     * scheme. */
    ATTENTION_BN_VAR("attention.fc.bn.running_var"),
    /** The channel attention head's 1x1 convolution: [inPlanes, A, 1, 1]. Always present. */
    CHANNEL_FC_WEIGHT("attention.channel_fc.weight"),
    /** The channel attention head's bias: [inPlanes]. Always present. */
    CHANNEL_FC_BIAS("attention.channel_fc.bias"),
    /** The filter (output-channel) attention head's 1x1 convolution: [outPlanes, A, 1, 1]; absent for a
     * depthwise layer (see {@link ODConv2dConfig#hasFilterHead()}). */
    FILTER_FC_WEIGHT("attention.filter_fc.weight"),
    /** The filter attention head's bias: [outPlanes]; absent for a depthwise layer. */
    FILTER_FC_BIAS("attention.filter_fc.bias"),
    /** The spatial attention head's 1x1 convolution: [k * k, A, 1, 1]; absent when kernelSize is 1 (see
     * {@link ODConv2dConfig#hasSpatialHead()}). */
    SPATIAL_FC_WEIGHT("attention.spatial_fc.weight"),
    /** The spatial attention head's bias: [k * k]; absent when kernelSize is 1. */
    SPATIAL_FC_BIAS("attention.spatial_fc.bias"),
    /** The kernel attention head's 1x1 convolution: [kernelNum, A, 1, 1]; absent when kernelNum is 1 (see
     * {@link ODConv2dConfig#hasKernelHead()}). */
    KERNEL_FC_WEIGHT("attention.kernel_fc.weight"),
    /** The kernel attention head's bias: [kernelNum]; absent when kernelNum is 1. */
    KERNEL_FC_BIAS("attention.kernel_fc.bias"),
    /** The trailing BatchNorm's scale (gamma): [outPlanes]; absent without BatchNorm (see
     * {@link ODConv2dConfig#batchNorm()}). */
    BN_WEIGHT("bn.weight"),
    /** The trailing BatchNorm's shift (beta): [outPlanes]; absent without BatchNorm. */
    BN_BIAS("bn.bias"),
    /** The trailing BatchNorm's running mean: [outPlanes]; absent without BatchNorm. */
    BN_MEAN("bn.running_mean"),
    /** The trailing BatchNorm's running variance: [outPlanes]; absent without BatchNorm. */
    BN_VAR("bn.running_var");

    private final String stateDictName;

    Parameter(String stateDictName) {
        this.stateDictName = stateDictName;
    }

    /** The seed module's name under the layer's prefix, e.g. {@code attention.fc.bn.running_var}. */
    public String stateDictName() {
        return stateDictName;
    }

    /** The name under the layer's prefix in the given scheme, e.g. {@code attention.bn.running_var} for OSVAI. */
    public String stateDictName(NamingScheme scheme) {
        if (scheme == NamingScheme.OSVAI) {
            if (this == ATTENTION_FC_WEIGHT) return "attention.fc.weight";
            if (stateDictName.startsWith("attention.fc.bn.")) return "attention.bn." + stateDictName.substring(16);
        }
        return stateDictName;
    }

    /**
     * The {@code odconv_weights_t} field this parameter is, e.g. {@code attention_bn_var}: the library's table lists
     * the parameters in this enum's order (BindingsDriftTest holds the two to each other).
     */
    public String nativeName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether a layer of this configuration has this parameter (skipped heads have none). */
    public boolean isPresent(ODConv2dConfig config) {
        return shapeOrNone(config).length > 0;
    }

    /** The tensor shape for this configuration. */
    public long[] shape(ODConv2dConfig config) {
        long[] shape = shapeOrNone(config);
        if (shape.length == 0) throw new IllegalArgumentException(this + " is not part of a layer of " + config);
        return shape;
    }

    /**
     * The library's shape rule ({@code odconv_config_parameter_shape}); empty when the layer lacks the tensor. One
     * native call answers both {@link #isPresent} and {@link #shape}, for callers that need both.
     */
    long[] shapeOrNone(ODConv2dConfig config) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment rank = call.allocate(ValueLayout.JAVA_INT);
            MemorySegment dims = call.allocate(ValueLayout.JAVA_LONG, odconv_h.ODCONV_PARAMETER_MAX_RANK());
            Natives.check(odconv_h.odconv_config_parameter_shape(Natives.config(config, call), ordinal(), rank,
                    dims), "odconv_config_parameter_shape");
            return dims.asSlice(0, (long) rank.get(ValueLayout.JAVA_INT, 0) * Long.BYTES).toArray(ValueLayout.JAVA_LONG);
        }
    }

    /** The element count for this configuration. */
    public long elementCount(ODConv2dConfig config) {
        long count = 1;
        for (long d : shape(config)) count *= d;
        return count;
    }

}
