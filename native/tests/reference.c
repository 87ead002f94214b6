#include "reference.h"

#include <math.h>
#include <stdlib.h>

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static int attention_width(const odconv_config_t *c) {
    int reduced = (int)(c->in_planes * c->reduction);
    return reduced > c->min_channel ? reduced : c->min_channel;
}

/* out[r] = act((W[r] . x + b[r]) / temperature) for a head with `rows` outputs, or 1 when skipped. */
static void head(const float *w, const float *b, int rows, int width, const double *hidden, double temperature,
                 double *out) {
    for (int r = 0; r < rows; ++r) {
        if (!w) {
            out[r] = 1.0;
            continue;
        }
        double sum = b[r];
        for (int a = 0; a < width; ++a) sum += (double)w[r * width + a] * hidden[a];
        out[r] = sum / temperature;
    }
}

void reference_forward(const odconv_config_t *c, const odconv_weights_t *w, int64_t batch, int64_t height,
                       int64_t width, const float *input, double *output) {
    const int cin = c->in_planes, cout = c->out_planes, k = c->kernel_size, kn = c->kernel_num, g = c->groups;
    const int ipg = cin / g, opg = cout / g, a_width = attention_width(c);
    const int64_t oh = (height + 2 * c->padding - c->dilation * (k - 1) - 1) / c->stride + 1;
    const int64_t ow = (width + 2 * c->padding - c->dilation * (k - 1) - 1) / c->stride + 1;
    double *pooled = malloc(sizeof(double) * cin), *hidden = malloc(sizeof(double) * a_width);
    double *ca = malloc(sizeof(double) * cin), *fa = malloc(sizeof(double) * cout);
    double *sa = malloc(sizeof(double) * k * k), *ka = malloc(sizeof(double) * kn);
    for (int64_t n = 0; n < batch; ++n) {
        const float *x = input + n * cin * height * width;
        for (int ci = 0; ci < cin; ++ci) {
            double sum = 0;
            for (int64_t i = 0; i < height * width; ++i) sum += x[ci * height * width + i];
            pooled[ci] = sum / (double)(height * width);
        }
        for (int a = 0; a < a_width; ++a) {
            double sum = 0;
            for (int ci = 0; ci < cin; ++ci) sum += (double)w->attention_fc_weight[a * cin + ci] * pooled[ci];
            double bn = (sum - w->attention_bn_mean[a]) / sqrt((double)w->attention_bn_var[a] + c->attention_bn_eps) *
                            w->attention_bn_weight[a] + w->attention_bn_bias[a];
            hidden[a] = bn > 0 ? bn : 0;
        }
        head(w->channel_fc_weight, w->channel_fc_bias, cin, a_width, hidden, c->temperature, ca);
        for (int i = 0; i < cin; ++i) ca[i] = sigmoid(ca[i]);
        head(w->filter_fc_weight, w->filter_fc_bias, cout, a_width, hidden, c->temperature, fa);
        if (w->filter_fc_weight) for (int i = 0; i < cout; ++i) fa[i] = sigmoid(fa[i]);
        head(w->spatial_fc_weight, w->spatial_fc_bias, k * k, a_width, hidden, c->temperature, sa);
        if (w->spatial_fc_weight) for (int i = 0; i < k * k; ++i) sa[i] = sigmoid(sa[i]);
        head(w->kernel_fc_weight, w->kernel_fc_bias, kn, a_width, hidden, c->temperature, ka);
        if (w->kernel_fc_weight) {
            double max = ka[0], total = 0;
            for (int j = 1; j < kn; ++j) max = ka[j] > max ? ka[j] : max;
            for (int j = 0; j < kn; ++j) total += ka[j] = exp(ka[j] - max);
            for (int j = 0; j < kn; ++j) ka[j] /= total;
        }
        for (int o = 0; o < cout; ++o) {
            const int grp = o / opg;
            for (int64_t y = 0; y < oh; ++y)
                for (int64_t xo = 0; xo < ow; ++xo) {
                    double sum = 0;
                    for (int i = 0; i < ipg; ++i)
                        for (int ky = 0; ky < k; ++ky)
                            for (int kx = 0; kx < k; ++kx) {
                                int64_t iy = y * c->stride - c->padding + ky * c->dilation;
                                int64_t ix = xo * c->stride - c->padding + kx * c->dilation;
                                if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
                                double weight = 0;
                                for (int j = 0; j < kn; ++j)
                                    weight += sa[ky * k + kx] * ka[j] *
                                              w->weight[(((int64_t)j * cout + o) * ipg + i) * k * k + ky * k + kx];
                                const int ci = grp * ipg + i;
                                sum += weight * x[(ci * height + iy) * width + ix] * ca[ci];
                            }
                    double v = sum * fa[o];
                    if (c->has_batch_norm)
                        v = (v - w->bn_mean[o]) / sqrt((double)w->bn_var[o] + c->bn_eps) * w->bn_weight[o] + w->bn_bias[o];
                    if (c->activation == ODCONV_ACTIVATION_RELU) v = v > 0 ? v : 0;
                    if (c->activation == ODCONV_ACTIVATION_SILU) v = v * sigmoid(v);
                    output[((n * cout + o) * oh + y) * ow + xo] = v;
                }
        }
    }
    free(pooled); free(hidden); free(ca); free(fa); free(sa); free(ka);
}
