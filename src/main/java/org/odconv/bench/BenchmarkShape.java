package org.odconv.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
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
    /** Where the standard shapes are listed, once for this class and the Python benchmarks (pytorch_eager.py). */
    static final String STANDARD_RESOURCE = "standard-shapes.txt";

    /** The standard shapes S1..S5, from {@link #STANDARD_RESOURCE}. */
    public static final List<BenchmarkShape> STANDARD = readStandard();

    private static List<BenchmarkShape> readStandard() {
        try (InputStream in = BenchmarkShape.class.getResourceAsStream(STANDARD_RESOURCE)) {
            if (in == null) throw new IllegalStateException("resource " + STANDARD_RESOURCE + " is missing");
            return parseStandard(new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList());
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + STANDARD_RESOURCE, e);
        }
    }

    /**
     * Shapes from lines "name in out k stride groups hw kernel_num"; blank lines and lines starting with '#' are
     * skipped.
     *
     * @throws IllegalArgumentException naming the line (1-based) that is not such a shape
     */
    static List<BenchmarkShape> parseStandard(List<String> lines) {
        List<BenchmarkShape> shapes = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            String[] fields = line.split("\\s+");
            try {
                if (fields.length != 8) throw new IllegalArgumentException("expected 8 fields, found " + fields.length);
                shapes.add(parse(fields[0], String.join(",", Arrays.copyOfRange(fields, 1, 8))));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(STANDARD_RESOURCE + " line " + (i + 1) + " \"" + line + "\": "
                        + e.getMessage(), e);
            }
        }
        return List.copyOf(shapes);
    }

    /** A standard shape by name ("S1".."S5"). */
    public static BenchmarkShape standard(String name) {
        for (BenchmarkShape s : STANDARD) {
            if (s.name.equalsIgnoreCase(name)) return s;
        }
        throw new IllegalArgumentException("unknown shape \"" + name + "\"; standard shapes are S1..S5 or all");
    }

    /** Parses "in,out,k,stride,groups,hw,kernel_num", named by its parameter list. */
    public static BenchmarkShape parse(String spec) {
        return parse(spec.replace(" ", ""), spec);
    }

    private static BenchmarkShape parse(String name, String spec) {
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
        BenchmarkShape shape = new BenchmarkShape(name, v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
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
