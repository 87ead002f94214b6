package org.odconv;

import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The parameter tensors of an ODConv2d layer, named as in the PyTorch {@code state_dict()} of the
 * YOLO-style seed module or the official OSVAI module (under the layer's own prefix; see {@link NamingScheme}).
 * Which ones a layer has, and their shapes, follow from its {@link ODConv2dConfig}.
 * {@code num_batches_tracked} buffers are not parameters here.
 */
public enum Parameter {
    /** The kernel bank the kernel attention mixes: [kernelNum, outPlanes, inPlanes / groups, k, k]. Always present. */
    WEIGHT("weight", c -> shape(c.kernelNum(), c.outPlanes(), c.inPlanes() / c.groups(), c.kernelSize(), c.kernelSize()),
            c -> true),
    /** The attention trunk's 1x1 convolution (no bias): [A, inPlanes, 1, 1], where A is the attention width
     * ({@link ODConv2dConfig#attentionChannels()}). {@code attention.fc.weight} in the OSVAI scheme. */
    ATTENTION_FC_WEIGHT("attention.fc.conv.weight", c -> shape(c.attentionChannels(), c.inPlanes(), 1, 1), c -> true),
    /** The attention trunk's BatchNorm scale (gamma): [A]. {@code attention.bn.weight} in the OSVAI scheme. */
    ATTENTION_BN_WEIGHT("attention.fc.bn.weight", c -> shape(c.attentionChannels()), c -> true),
    /** The attention trunk's BatchNorm shift (beta): [A]. {@code attention.bn.bias} in the OSVAI scheme. */
    ATTENTION_BN_BIAS("attention.fc.bn.bias", c -> shape(c.attentionChannels()), c -> true),
    /** The attention trunk's BatchNorm running mean: [A]. {@code attention.bn.running_mean} in the OSVAI scheme. */
    ATTENTION_BN_MEAN("attention.fc.bn.running_mean", c -> shape(c.attentionChannels()), c -> true),
    /** The attention trunk's BatchNorm running variance: [A]. {@code attention.bn.running_var} in the OSVAI
     * scheme. */
    ATTENTION_BN_VAR("attention.fc.bn.running_var", c -> shape(c.attentionChannels()), c -> true),
    /** The channel attention head's 1x1 convolution: [inPlanes, A, 1, 1]. Always present. */
    CHANNEL_FC_WEIGHT("attention.channel_fc.weight", c -> shape(c.inPlanes(), c.attentionChannels(), 1, 1), c -> true),
    /** The channel attention head's bias: [inPlanes]. Always present. */
    CHANNEL_FC_BIAS("attention.channel_fc.bias", c -> shape(c.inPlanes()), c -> true),
    /** The filter (output-channel) attention head's 1x1 convolution: [outPlanes, A, 1, 1]; absent for a
     * depthwise layer (see {@link ODConv2dConfig#hasFilterHead()}). */
    FILTER_FC_WEIGHT("attention.filter_fc.weight", c -> shape(c.outPlanes(), c.attentionChannels(), 1, 1),
            ODConv2dConfig::hasFilterHead),
    /** The filter attention head's bias: [outPlanes]; absent for a depthwise layer. */
    FILTER_FC_BIAS("attention.filter_fc.bias", c -> shape(c.outPlanes()), ODConv2dConfig::hasFilterHead),
    /** The spatial attention head's 1x1 convolution: [k * k, A, 1, 1]; absent when kernelSize is 1 (see
     * {@link ODConv2dConfig#hasSpatialHead()}). */
    SPATIAL_FC_WEIGHT("attention.spatial_fc.weight",
            c -> shape((long) c.kernelSize() * c.kernelSize(), c.attentionChannels(), 1, 1), ODConv2dConfig::hasSpatialHead),
    /** The spatial attention head's bias: [k * k]; absent when kernelSize is 1. */
    SPATIAL_FC_BIAS("attention.spatial_fc.bias", c -> shape((long) c.kernelSize() * c.kernelSize()),
            ODConv2dConfig::hasSpatialHead),
    /** The kernel attention head's 1x1 convolution: [kernelNum, A, 1, 1]; absent when kernelNum is 1 (see
     * {@link ODConv2dConfig#hasKernelHead()}). */
    KERNEL_FC_WEIGHT("attention.kernel_fc.weight", c -> shape(c.kernelNum(), c.attentionChannels(), 1, 1),
            ODConv2dConfig::hasKernelHead),
    /** The kernel attention head's bias: [kernelNum]; absent when kernelNum is 1. */
    KERNEL_FC_BIAS("attention.kernel_fc.bias", c -> shape(c.kernelNum()), ODConv2dConfig::hasKernelHead),
    /** The trailing BatchNorm's scale (gamma): [outPlanes]; absent without BatchNorm (see
     * {@link ODConv2dConfig#batchNorm()}). */
    BN_WEIGHT("bn.weight", c -> shape(c.outPlanes()), ODConv2dConfig::batchNorm),
    /** The trailing BatchNorm's shift (beta): [outPlanes]; absent without BatchNorm. */
    BN_BIAS("bn.bias", c -> shape(c.outPlanes()), ODConv2dConfig::batchNorm),
    /** The trailing BatchNorm's running mean: [outPlanes]; absent without BatchNorm. */
    BN_MEAN("bn.running_mean", c -> shape(c.outPlanes()), ODConv2dConfig::batchNorm),
    /** The trailing BatchNorm's running variance: [outPlanes]; absent without BatchNorm. */
    BN_VAR("bn.running_var", c -> shape(c.outPlanes()), ODConv2dConfig::batchNorm);

    private final String stateDictName;
    private final Function<ODConv2dConfig, long[]> shape;
    private final Predicate<ODConv2dConfig> present;

    Parameter(String stateDictName, Function<ODConv2dConfig, long[]> shape, Predicate<ODConv2dConfig> present) {
        this.stateDictName = stateDictName;
        this.shape = shape;
        this.present = present;
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

    /** Whether a layer of this configuration has this parameter (skipped heads have none). */
    public boolean isPresent(ODConv2dConfig config) {
        return present.test(config);
    }

    /** The tensor shape for this configuration. */
    public long[] shape(ODConv2dConfig config) {
        return shape.apply(config);
    }

    /** The element count for this configuration. */
    public long elementCount(ODConv2dConfig config) {
        long count = 1;
        for (long d : shape(config)) count *= d;
        return count;
    }

    private static long[] shape(long... dims) {
        return dims;
    }
}
