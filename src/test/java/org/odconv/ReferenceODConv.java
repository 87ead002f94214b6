package org.odconv;

import java.util.Map;

/**
 * A plain-Java, double-precision ODConv2d forward written step by step from the PyTorch seed (eval mode):
 * nothing folded, nothing fused, so it shares no shortcut with the native path it checks.
 */
final class ReferenceODConv {
    private ReferenceODConv() {}

    /** PyTorch's Conv2d output size, computed here rather than asked of the library under test. */
    static int outputExtent(ODConv2dConfig c, int input) {
        return (input + 2 * c.padding() - c.dilation() * (c.kernelSize() - 1) - 1) / c.stride() + 1;
    }

    /** input: NCHW; returns NCHW output of shape {n, out, oh, ow}. */
    static double[] forward(ODConv2dConfig c, Map<Parameter, float[]> p, float[] input, int n, int h, int w) {
        int cin = c.inPlanes(), cout = c.outPlanes(), k = c.kernelSize(), kn = c.kernelNum(), g = c.groups();
        int ipg = cin / g, opg = cout / g, width = Math.max((int) (cin * c.reduction()), c.minChannel());
        int oh = outputExtent(c, h), ow = outputExtent(c, w);
        double[] out = new double[n * cout * oh * ow];
        for (int b = 0; b < n; b++) {
            int xBase = b * cin * h * w;
            // attention trunk: avgpool -> 1x1 conv -> BatchNorm -> ReLU
            double[] pooled = new double[cin];
            for (int ch = 0; ch < cin; ch++) {
                double sum = 0;
                for (int i = 0; i < h * w; i++) sum += input[xBase + ch * h * w + i];
                pooled[ch] = sum / (h * w);
            }
            float[] fc = p.get(Parameter.ATTENTION_FC_WEIGHT);
            double[] hidden = new double[width];
            for (int a = 0; a < width; a++) {
                double sum = 0;
                for (int ch = 0; ch < cin; ch++) sum += fc[a * cin + ch] * pooled[ch];
                double bn = (sum - p.get(Parameter.ATTENTION_BN_MEAN)[a])
                        / Math.sqrt(p.get(Parameter.ATTENTION_BN_VAR)[a] + (double) c.attentionBnEps())
                        * p.get(Parameter.ATTENTION_BN_WEIGHT)[a] + p.get(Parameter.ATTENTION_BN_BIAS)[a];
                hidden[a] = Math.max(bn, 0);
            }
            double[] channel = sigmoid(head(c, p, Parameter.CHANNEL_FC_WEIGHT, Parameter.CHANNEL_FC_BIAS, cin, hidden));
            double[] filter = c.hasFilterHead()
                    ? sigmoid(head(c, p, Parameter.FILTER_FC_WEIGHT, Parameter.FILTER_FC_BIAS, cout, hidden)) : ones(cout);
            double[] spatial = c.hasSpatialHead()
                    ? sigmoid(head(c, p, Parameter.SPATIAL_FC_WEIGHT, Parameter.SPATIAL_FC_BIAS, k * k, hidden)) : ones(k * k);
            double[] kernel = c.hasKernelHead()
                    ? softmax(head(c, p, Parameter.KERNEL_FC_WEIGHT, Parameter.KERNEL_FC_BIAS, kn, hidden)) : ones(kn);

            // x * channel attention, then the aggregated kernel: sum_j spatial * kernel_j * W_j
            float[] bank = p.get(Parameter.WEIGHT);
            for (int o = 0; o < cout; o++) {
                int group = o / opg;
                for (int y = 0; y < oh; y++) {
                    for (int x = 0; x < ow; x++) {
                        double sum = 0;
                        for (int i = 0; i < ipg; i++) {
                            int ch = group * ipg + i;
                            for (int ky = 0; ky < k; ky++) {
                                int iy = y * c.stride() - c.padding() + ky * c.dilation();
                                if (iy < 0 || iy >= h) continue;
                                for (int kx = 0; kx < k; kx++) {
                                    int ix = x * c.stride() - c.padding() + kx * c.dilation();
                                    if (ix < 0 || ix >= w) continue;
                                    double weight = 0;
                                    for (int j = 0; j < kn; j++) {
                                        weight += spatial[ky * k + kx] * kernel[j]
                                                * bank[(((j * cout + o) * ipg + i) * k + ky) * k + kx];
                                    }
                                    sum += weight * (input[xBase + (ch * h + iy) * w + ix] * channel[ch]);
                                }
                            }
                        }
                        double v = sum * filter[o];
                        if (c.batchNorm()) {
                            v = (v - p.get(Parameter.BN_MEAN)[o]) / Math.sqrt(p.get(Parameter.BN_VAR)[o] + (double) c.bnEps())
                                    * p.get(Parameter.BN_WEIGHT)[o] + p.get(Parameter.BN_BIAS)[o];
                        }
                        v = switch (c.activation()) {
                            case IDENTITY -> v;
                            case RELU -> Math.max(v, 0);
                            case SILU -> v / (1 + Math.exp(-v));
                        };
                        out[((b * cout + o) * oh + y) * ow + x] = v;
                    }
                }
            }
        }
        return out;
    }

    private static double[] head(ODConv2dConfig c, Map<Parameter, float[]> p, Parameter weight, Parameter bias, int rows,
            double[] hidden) {
        float[] wt = p.get(weight);
        float[] bs = p.get(bias);
        double[] logits = new double[rows];
        for (int r = 0; r < rows; r++) {
            double sum = bs[r];
            for (int a = 0; a < hidden.length; a++) sum += wt[r * hidden.length + a] * hidden[a];
            logits[r] = sum / c.temperature();
        }
        return logits;
    }

    private static double[] sigmoid(double[] v) {
        for (int i = 0; i < v.length; i++) v[i] = 1 / (1 + Math.exp(-v[i]));
        return v;
    }

    private static double[] softmax(double[] v) {
        double max = Double.NEGATIVE_INFINITY;
        for (double x : v) max = Math.max(max, x);
        double total = 0;
        for (int i = 0; i < v.length; i++) total += v[i] = Math.exp(v[i] - max);
        for (int i = 0; i < v.length; i++) v[i] /= total;
        return v;
    }

    private static double[] ones(int n) {
        double[] v = new double[n];
        java.util.Arrays.fill(v, 1);
        return v;
    }
}
