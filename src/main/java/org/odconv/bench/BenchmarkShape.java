package org.odconv.bench;

import java.util.List;

import org.odconv.ODConv2dConfig;

/**
 * One benchmark shape: an ODConv2d layer (SiLU, BatchNorm, the seed's other defaults) on square inputs.
 *
 * @param name      "S1".."S5" for the standard shapes, else the parameter list
 * @param in        input channels
 * @param out       output channels
 * @param k         kernel side
 * @param stride    convolution stride
 * @param groups    convolution groups
 * @param hw        input height = width
 * @param kernelNum number of kernels in the bank
 */
public record BenchmarkShape(String name, int in, int out, int k, int stride, int groups, int hw, int kernelNum) {
    /** The standard shapes: (in, out, k, stride, groups, H=W, kernel_num). */
    public static final List<BenchmarkShape> STANDARD = List.of(
            new BenchmarkShape("S1", 64, 64, 3, 1, 1, 56, 1),
            new BenchmarkShape("S2", 128, 128, 3, 1, 1, 28, 4),
            new BenchmarkShape("S3", 256, 256, 3, 2, 1, 40, 1),
            new BenchmarkShape("S4", 512, 512, 1, 1, 1, 20, 1),
            new BenchmarkShape("S5", 144, 144, 3, 1, 144, 56, 1));

    /** A standard shape by name ("S1".."S5"). */
    public static BenchmarkShape standard(String name) {
        for (BenchmarkShape s : STANDARD) {
            if (s.name.equalsIgnoreCase(name)) return s;
        }
        throw new IllegalArgumentException("unknown shape \"" + name + "\"; standard shapes are S1..S5 or all");
    }

    /** Parses "in,out,k,stride,groups,hw,kernel_num". */
    public static BenchmarkShape parse(String spec) {
        String[] parts = spec.split(",");
        if (parts.length != 7) {
            throw new IllegalArgumentException("shape \"" + spec + "\" must be in,out,k,stride,groups,hw,kernel_num");
        }
        int[] v = new int[7];
        for (int i = 0; i < 7; i++) {
            try {
                v[i] = Integer.parseInt(parts[i].strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("shape \"" + spec + "\": \"" + parts[i] + "\" is not an integer");
            }
        }
        BenchmarkShape shape = new BenchmarkShape(spec.replace(" ", ""), v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
        shape.config();  // validates
        return shape;
    }

    /**
     * The layer's configuration: this shape's values, the builder's defaults for the rest.
     *
     * @throws IllegalArgumentException naming the field when the values are invalid
     */
    public ODConv2dConfig config() {
        return ODConv2dConfig.builder(in, out, k).stride(stride).groups(groups).kernelNum(kernelNum).build();
    }

    /** Multiply-accumulates of the convolution per sample. */
    public double macsPerSample() {
        ODConv2dConfig c = config();
        long o = c.outputSize(hw, hw)[0];
        return (double) out * (in / groups) * k * k * o * o;
    }
}
