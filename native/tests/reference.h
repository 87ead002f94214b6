/* A direct, unoptimized ODConv forward in double precision, written from the PyTorch seed's eval-mode
 * mathematics step by step (nothing folded), to check the library through its C ABI. */
#ifndef ODCONV_TEST_REFERENCE_H
#define ODCONV_TEST_REFERENCE_H

#include <stdint.h>

#include "odconv.h"

/* output: [batch, out_planes, out_h, out_w]; out_h/out_w as the library computes them. */
void reference_forward(const odconv_config_t *config, const odconv_weights_t *weights, int64_t batch,
                       int64_t height, int64_t width, const float *input, double *output);

#endif
