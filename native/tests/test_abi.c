/* Tests of the odconv C ABI: error reporting, validation, ABI self-description, lifecycle, forward
 * results against a double-precision reference, and concurrent forwards on one layer. */
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "odconv.h"
#include "odconv_tools.h"
#include "reference.h"

static void test_version_and_strings(void) {
    CHECK(odconv_version() == ODCONV_VERSION_MAJOR * 10000 + ODCONV_VERSION_MINOR * 100 + ODCONV_VERSION_PATCH,
          "version %u", odconv_version());
    CHECK(strstr(odconv_backend_description(), "oneDNN 3.") != NULL, "backend '%s'", odconv_backend_description());
    CHECK(strcmp(odconv_status_string(ODCONV_STATUS_SUCCESS), "success") == 0, "success string");
    CHECK(strcmp(odconv_status_string((odconv_status)99), "unknown status") == 0, "unknown status string");
}

static void expect_invalid_config(odconv_config_t c, const char *expected_text) {
    odconv_status s = odconv_config_validate(&c);
    CHECK(s == ODCONV_STATUS_INVALID_ARGUMENT, "status %d for '%s'", s, expected_text);
    CHECK(strstr(odconv_last_error_message(), expected_text) != NULL, "message '%s' lacks '%s'",
          odconv_last_error_message(), expected_text);
}

static void test_config_validation(void) {
    odconv_config_t c = default_config(16, 32, 3);
    CHECK(odconv_config_validate(&c) == ODCONV_STATUS_SUCCESS, "valid config refused: %s", odconv_last_error_message());
    CHECK(odconv_config_validate(NULL) == ODCONV_STATUS_INVALID_ARGUMENT, "NULL config");
    odconv_config_t bad = c; bad.in_planes = 0; expect_invalid_config(bad, "config.in_planes = 0");
    bad = c; bad.groups = 3; expect_invalid_config(bad, "config.groups = 3 does not divide in_planes = 16");
    bad = c; bad.kernel_size = 0; expect_invalid_config(bad, "config.kernel_size = 0");
    bad = c; bad.stride = -1; expect_invalid_config(bad, "config.stride = -1");
    bad = c; bad.padding = -2; expect_invalid_config(bad, "config.padding = -2");
    bad = c; bad.padding = 20000; expect_invalid_config(bad, "config.padding = 20000 is wider than the dilated kernel");
    bad = c; bad.dilation = 0; expect_invalid_config(bad, "config.dilation = 0");
    bad = c; bad.kernel_num = 0; expect_invalid_config(bad, "config.kernel_num = 0");
    bad = c; bad.temperature = 0.0f; expect_invalid_config(bad, "config.temperature = 0");
    bad = c; bad.temperature = NAN; expect_invalid_config(bad, "config.temperature = nan");
    bad = c; bad.bn_eps = -1.0f; expect_invalid_config(bad, "config.bn_eps = -1");
    bad = c; bad.activation = 7; expect_invalid_config(bad, "config.activation = 7");
    bad = c; bad.reduction = 0.0; expect_invalid_config(bad, "config.reduction = 0");
    bad = default_config(1, 1, 46341); bad.padding = 0;  /* 46341^2 > 2^31 - 1: a kernel int32_t cannot index */
    expect_invalid_config(bad, "per-sample kernel of out_planes x in_planes / groups x kernel_size^2 = 2147488281");
    bad = c; bad.has_batch_norm = 0; bad.bn_eps = 0.0f;
    CHECK(odconv_config_validate(&bad) == ODCONV_STATUS_SUCCESS, "bn_eps is unused without BatchNorm");

    int32_t a = 0;
    CHECK(odconv_config_attention_channels(&c, &a) == ODCONV_STATUS_SUCCESS && a == 16, "width %d", a);
    c.in_planes = 512; c.out_planes = 512;
    CHECK(odconv_config_attention_channels(&c, &a) == ODCONV_STATUS_SUCCESS && a == 32, "width %d", a);
    c.reduction = 0.25; c.in_planes = 70; c.out_planes = 70;  /* int(17.5) == 17 */
    CHECK(odconv_config_attention_channels(&c, &a) == ODCONV_STATUS_SUCCESS && a == 17, "width %d", a);
}

/* Output sizes and the parameter table come from the configuration alone, before any layer exists. */
static void test_config_shapes(void) {
    odconv_config_t c = default_config(16, 32, 3);
    c.stride = 2; c.kernel_num = 4;
    int64_t oh = -1, ow = -1;
    CHECK(odconv_config_output_shape(&c, 9, 8, &oh, &ow) == ODCONV_STATUS_SUCCESS && oh == 5 && ow == 4,
          "output %lldx%lld", (long long)oh, (long long)ow);
    c.padding = 0; oh = -1;
    CHECK(odconv_config_output_shape(&c, 2, 8, &oh, &ow) == ODCONV_STATUS_INVALID_ARGUMENT && oh == -1,
          "a 2-row input is too small for a 3x3 kernel without padding");
    CHECK(strstr(odconv_last_error_message(), "height") != NULL, "message '%s' names the axis",
          odconv_last_error_message());
    odconv_config_t bad = c; bad.groups = 3;
    CHECK(odconv_config_output_shape(&bad, 9, 8, &oh, &ow) == ODCONV_STATUS_INVALID_ARGUMENT, "invalid config");

    CHECK(odconv_parameter_count() == 18, "%d parameters", odconv_parameter_count());
    CHECK(strcmp(odconv_parameter_name(0), "weight") == 0 && strcmp(odconv_parameter_name(17), "bn_var") == 0,
          "first and last parameter names");
    CHECK(odconv_parameter_name(18) == NULL && odconv_parameter_name(-1) == NULL, "names out of range");
    int32_t rank = -1;
    int64_t dims[ODCONV_PARAMETER_MAX_RANK] = {0};
    CHECK(odconv_config_parameter_shape(&c, 0, &rank, dims) == ODCONV_STATUS_SUCCESS && rank == 5 && dims[0] == 4 &&
              dims[1] == 32 && dims[2] == 16 && dims[3] == 3 && dims[4] == 3,
          "weight: rank %d, [%lld, %lld, %lld, %lld, %lld]", rank, (long long)dims[0], (long long)dims[1],
          (long long)dims[2], (long long)dims[3], (long long)dims[4]);
    c.kernel_size = 1; c.padding = 0;  /* a 1x1 layer has no spatial head: index 10 is spatial_fc_weight */
    CHECK(strcmp(odconv_parameter_name(10), "spatial_fc_weight") == 0, "index 10 is %s", odconv_parameter_name(10));
    CHECK(odconv_config_parameter_shape(&c, 10, &rank, dims) == ODCONV_STATUS_SUCCESS && rank == 0,
          "spatial head of a 1x1 layer: rank %d", rank);
    CHECK(odconv_config_parameter_shape(&c, 18, &rank, dims) == ODCONV_STATUS_INVALID_ARGUMENT, "index 18");
    CHECK(odconv_config_parameter_shape(&bad, 0, &rank, dims) == ODCONV_STATUS_INVALID_ARGUMENT, "invalid config");
}

static void test_layer_lifecycle_errors(void) {
    CHECK(odconv_layer_destroy(NULL) == ODCONV_STATUS_SUCCESS, "destroy(NULL)");
    odconv_config_t c = default_config(16, 16, 3);
    odconv_weights_t w = random_weights(&c);
    odconv_layer_t layer = (odconv_layer_t)(uintptr_t)1;
    CHECK(odconv_layer_create(&layer, &c, NULL, ODCONV_DEVICE_CPU, 0, 0) == ODCONV_STATUS_INVALID_ARGUMENT && layer == NULL,
          "NULL weights must fail and clear the handle");
    CHECK(odconv_layer_create(NULL, &c, &w, ODCONV_DEVICE_CPU, 0, 0) == ODCONV_STATUS_INVALID_ARGUMENT, "NULL handle pointer");

    const float *saved = w.spatial_fc_bias;
    w.spatial_fc_bias = NULL;
    CHECK(odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, 0) == ODCONV_STATUS_INVALID_ARGUMENT, "missing spatial bias");
    CHECK(strstr(odconv_last_error_message(), "weights.spatial_fc_bias is NULL") != NULL, "'%s'",
          odconv_last_error_message());
    w.spatial_fc_bias = saved;
    w.kernel_fc_weight = w.weight;  /* kernel_num 1 has no kernel head */
    CHECK(odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, 0) == ODCONV_STATUS_INVALID_ARGUMENT, "extra kernel head");
    CHECK(strstr(odconv_last_error_message(), "kernel_fc_weight must be NULL") != NULL, "'%s'",
          odconv_last_error_message());
    w.kernel_fc_weight = NULL;

    CHECK(odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, 0) == ODCONV_STATUS_SUCCESS, "%s", odconv_last_error_message());
    CHECK(odconv_layer_set_num_threads(layer, -1) == ODCONV_STATUS_INVALID_ARGUMENT, "negative threads");
    int64_t oh = -1, ow = -1;
    CHECK(odconv_layer_output_shape(layer, 7, 5, &oh, &ow) == ODCONV_STATUS_SUCCESS && oh == 7 && ow == 5,
          "shape %lld x %lld", (long long)oh, (long long)ow);
    CHECK(odconv_layer_output_shape(layer, 0, 5, &oh, &ow) == ODCONV_STATUS_INVALID_ARGUMENT, "zero height");
    float in[16 * 4], out[16 * 4];
    for (int i = 0; i < 64; ++i) in[i] = 0.5f;
    CHECK(odconv_layer_forward(layer, 0, 2, 2, ODCONV_LAYOUT_NCHW, in, out) == ODCONV_STATUS_INVALID_ARGUMENT, "batch 0");
    CHECK(strstr(odconv_last_error_message(), "batch = 0") != NULL, "'%s'", odconv_last_error_message());
    CHECK(odconv_layer_forward(layer, 1, 2, 2, ODCONV_LAYOUT_NCHW, NULL, out) == ODCONV_STATUS_INVALID_ARGUMENT, "NULL input");
    CHECK(odconv_layer_forward(layer, 1, 2, 2, ODCONV_LAYOUT_NCHW, in, in) == ODCONV_STATUS_INVALID_ARGUMENT, "in-place");
    CHECK(odconv_layer_forward(layer, 1, (int64_t)1 << 40, (int64_t)1 << 40, ODCONV_LAYOUT_NCHW, in, out) == ODCONV_STATUS_INVALID_ARGUMENT,
          "overflowing size");
    CHECK(odconv_layer_forward(layer, 1, 2, 2, 7, in, out) == ODCONV_STATUS_INVALID_ARGUMENT, "bad layout");
    CHECK(strstr(odconv_last_error_message(), "layout = 7 is not an odconv_layout") != NULL, "'%s'",
          odconv_last_error_message());
    double times[2];
    CHECK(odconv_layer_benchmark(layer, 1, 2, 2, ODCONV_LAYOUT_NCHW, in, out, 0, times) ==
              ODCONV_STATUS_INVALID_ARGUMENT, "zero iterations");
    CHECK(odconv_layer_benchmark(layer, 1, 2, 2, ODCONV_LAYOUT_NCHW, in, out, 2, times) == ODCONV_STATUS_SUCCESS &&
              times[0] > 0 && times[1] > 0, "benchmark: %s", odconv_last_error_message());
    CHECK(odconv_layer_forward(layer, 1, 2, 2, ODCONV_LAYOUT_NCHW, in, out) == ODCONV_STATUS_SUCCESS, "%s",
          odconv_last_error_message());
    CHECK(odconv_layer_destroy(layer) == ODCONV_STATUS_SUCCESS, "destroy");

    c.padding = 0;
    CHECK(odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, 0) == ODCONV_STATUS_SUCCESS, "%s", odconv_last_error_message());
    CHECK(odconv_layer_output_shape(layer, 2, 5, &oh, &ow) == ODCONV_STATUS_INVALID_ARGUMENT, "too small");
    CHECK(strstr(odconv_last_error_message(), "input height = 2 is too small") != NULL, "'%s'",
          odconv_last_error_message());
    odconv_layer_destroy(layer);
    free_weights(&w);
}

static void test_abi_description(void) {
    CHECK(odconv_abi_struct_size("odconv_config_t") == (int64_t)sizeof(odconv_config_t), "config size");
    CHECK(odconv_abi_struct_size("odconv_weights_t") == (int64_t)sizeof(odconv_weights_t), "weights size");
    CHECK(odconv_abi_struct_size("nope") == -1, "unknown struct");
    CHECK(odconv_abi_field_count("odconv_weights_t") == 18, "weights field count");
    CHECK(odconv_abi_field_offset("odconv_config_t", "reduction") == (int64_t)offsetof(odconv_config_t, reduction),
          "reduction offset");
    CHECK(odconv_abi_field_offset("odconv_weights_t", "bn_var") == (int64_t)offsetof(odconv_weights_t, bn_var),
          "bn_var offset");
    CHECK(strcmp(odconv_abi_field_name("odconv_config_t", 0), "in_planes") == 0, "first field");
    CHECK(odconv_abi_field_name("odconv_config_t", 99) == NULL, "field index out of range");
    CHECK(odconv_abi_field_offset("odconv_config_t", "missing") == -1, "unknown field");
}

/* Runs one configuration against the reference; returns the max error relative to max(1, max|ref|). */
/* NCHW <-> NHWC copies of (n, c, h, w) tensors. */
static void to_nhwc(const float *nchw, float *nhwc, int64_t n, int64_t c, int64_t h, int64_t w) {
    for (int64_t b = 0; b < n; ++b)
        for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t p = 0; p < h * w; ++p) nhwc[(b * h * w + p) * c + ch] = nchw[(b * c + ch) * h * w + p];
}
static void to_nchw(const float *nhwc, float *nchw, int64_t n, int64_t c, int64_t h, int64_t w) {
    for (int64_t b = 0; b < n; ++b)
        for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t p = 0; p < h * w; ++p) nchw[(b * c + ch) * h * w + p] = nhwc[(b * h * w + p) * c + ch];
}

/* Thread pools of a caller's, for odconv_layer_forward_on_pool: one runs the tasks one after another, last first
 * (any order must do); the other on `threads` threads at once (threads - 1 started per call, plus the caller's),
 * taking indices from a shared counter. Both count the tasks they ran. */
struct test_pool {
    int threads;
    atomic_long tasks_run;
};

static void serial_reversed(void *pool_context, odconv_task_fn task, void *task_context, size_t count) {
    struct test_pool *pool = pool_context;
    for (size_t i = count; i-- > 0;) {
        task(task_context, i);
        atomic_fetch_add(&pool->tasks_run, 1);
    }
}

struct pool_call {
    struct test_pool *pool;
    odconv_task_fn task;
    void *task_context;
    size_t count;
    atomic_size_t next;
};

static void *take_tasks(void *arg) {
    struct pool_call *call = arg;
    for (size_t i; (i = atomic_fetch_add(&call->next, 1)) < call->count;) {
        call->task(call->task_context, i);
        atomic_fetch_add(&call->pool->tasks_run, 1);
    }
    return NULL;
}

static void concurrent(void *pool_context, odconv_task_fn task, void *task_context, size_t count) {
    struct test_pool *pool = pool_context;
    struct pool_call call = {pool, task, task_context, count, 0};
    pthread_t workers[16];
    const int started = pool->threads - 1 < 16 ? pool->threads - 1 : 16;
    for (int t = 0; t < started; ++t) pthread_create(&workers[t], NULL, take_tasks, &call);
    take_tasks(&call);
    for (int t = 0; t < started; ++t) pthread_join(workers[t], NULL);
}

/* The largest error of a forward against the double-precision reference, relative to max(1, max |expected|).
 * With `pool`, the forward runs on it (odconv_layer_forward_on_pool) instead of odconv's own threads. */
static double layer_error(odconv_layer_t layer, const odconv_config_t *config, const odconv_weights_t *weights,
                          int64_t batch, int64_t h, int64_t w_in, int32_t layout, const odconv_thread_pool_t *pool) {
    const odconv_config_t c = *config;
    odconv_status s;
    int64_t oh = 0, ow = 0;
    odconv_layer_output_shape(layer, h, w_in, &oh, &ow);
    const int64_t in_count = batch * c.in_planes * h * w_in, out_count = batch * c.out_planes * oh * ow;
    float *input = random_buffer(in_count, -2.0, 2.0);
    float *output = malloc(sizeof(float) * (size_t)out_count);
    double *expected = malloc(sizeof(double) * (size_t)out_count);
    for (int64_t i = 0; i < out_count; ++i) output[i] = NAN;  /* every element must be written */
    double max_error = INFINITY;
    float *in_layout = malloc(sizeof(float) * (size_t)in_count), *out_layout = malloc(sizeof(float) * (size_t)out_count);
    if (layout == ODCONV_LAYOUT_NHWC) to_nhwc(input, in_layout, batch, c.in_planes, h, w_in);
    else memcpy(in_layout, input, sizeof(float) * (size_t)in_count);
    for (int64_t i = 0; i < out_count; ++i) out_layout[i] = NAN;
    for (int repeat = 0; repeat < 2; ++repeat) {  /* the second call runs on the cached plan */
        s = pool ? odconv_layer_forward_on_pool(layer, pool, batch, h, w_in, layout, in_layout, out_layout)
                 : odconv_layer_forward(layer, batch, h, w_in, layout, in_layout, out_layout);
        CHECK(s == ODCONV_STATUS_SUCCESS, "forward: %s", odconv_last_error_message());
    }
    if (layout == ODCONV_LAYOUT_NHWC) to_nchw(out_layout, output, batch, c.out_planes, oh, ow);
    else memcpy(output, out_layout, sizeof(float) * (size_t)out_count);
    free(in_layout); free(out_layout);
    reference_forward(&c, weights, batch, h, w_in, input, expected);
    double scale = 1.0;
    for (int64_t i = 0; i < out_count; ++i) scale = fmax(scale, fabs(expected[i]));
    max_error = 0;
    for (int64_t i = 0; i < out_count; ++i) {
        const double e = fabs(output[i] - expected[i]) / scale;
        max_error = isnan(output[i]) ? INFINITY : fmax(max_error, e);
        if (isinf(max_error)) break;
    }
    free(input); free(output); free(expected);
    return max_error;
}

static double forward_error(odconv_config_t c, int64_t batch, int64_t h, int64_t w_in, int threads, int32_t layout,
                            uint32_t flags, const odconv_thread_pool_t *pool) {
    odconv_weights_t w = random_weights(&c);
    odconv_layer_t layer = NULL;
    odconv_status s = odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, flags);
    CHECK(s == ODCONV_STATUS_SUCCESS, "create: %s", odconv_last_error_message());
    if (s != ODCONV_STATUS_SUCCESS) { free_weights(&w); return INFINITY; }
    odconv_layer_set_num_threads(layer, threads);
    const double error = layer_error(layer, &c, &w, batch, h, w_in, layout, pool);
    odconv_layer_destroy(layer);
    free_weights(&w);
    return error;
}

/* Every configuration family the layer supports: k 1 to 5, strides, dilation, groups, depthwise, kernel_num 1 to 4,
 * each activation, with and without BatchNorm, temperature. */
static const struct { int in, out, k, stride, padding, dilation, groups, kn, has_bn, act, n, h, w, threads; float t; } cases[] = {
        {16, 32, 3, 1, 1, 1, 1, 1, 1, ODCONV_ACTIVATION_SILU, 1, 9, 9, 0, 1.0f},
        {24, 16, 1, 1, 0, 1, 1, 1, 1, ODCONV_ACTIVATION_SILU, 2, 7, 5, 1, 1.0f},
        {16, 24, 1, 2, 0, 1, 1, 3, 1, ODCONV_ACTIVATION_RELU, 2, 6, 7, 2, 1.0f},
        {16, 16, 3, 2, 1, 1, 1, 4, 1, ODCONV_ACTIVATION_IDENTITY, 3, 11, 13, 0, 3.0f},
        {16, 16, 3, 1, 1, 2, 1, 2, 1, ODCONV_ACTIVATION_SILU, 2, 12, 10, 0, 1.0f},
        {20, 28, 3, 1, 0, 1, 4, 2, 0, ODCONV_ACTIVATION_IDENTITY, 2, 7, 9, 1, 1.0f},
        {32, 32, 3, 1, 1, 1, 32, 1, 1, ODCONV_ACTIVATION_SILU, 2, 10, 10, 0, 1.0f},
        {24, 24, 5, 2, 2, 1, 24, 3, 1, ODCONV_ACTIVATION_RELU, 1, 9, 8, 2, 0.5f},
        {16, 32, 5, 1, 3, 1, 16, 2, 1, ODCONV_ACTIVATION_SILU, 1, 1, 1, 0, 1.0f},
        {64, 48, 3, 1, 1, 1, 2, 1, 1, ODCONV_ACTIVATION_SILU, 2, 17, 3, 0, 1.0f},
        /* padding as wide as the dilated kernel: oneDNN 3.13's brgemm convolution crashed on these */
        {8, 10, 1, 2, 1, 2, 1, 3, 1, ODCONV_ACTIVATION_SILU, 3, 8, 1, 0, 30.0f},
        {1, 8, 2, 2, 3, 2, 1, 2, 1, ODCONV_ACTIVATION_RELU, 1, 11, 1, 0, 3.0f},
        {16, 16, 2, 3, 4, 3, 1, 1, 1, ODCONV_ACTIVATION_SILU, 1, 11, 2, 0, 1.0f},
        /* odd input channels per group: the last bfloat16 input-channel pair is half padding */
        {6, 20, 3, 1, 1, 1, 2, 4, 1, ODCONV_ACTIVATION_SILU, 2, 9, 8, 0, 1.0f},
        {35, 40, 1, 1, 0, 1, 1, 2, 0, ODCONV_ACTIVATION_IDENTITY, 1, 6, 6, 0, 1.0f},
        /* more output rows than input rows: split over a pool, some bands move no input rows */
        {8, 8, 3, 1, 2, 1, 1, 2, 1, ODCONV_ACTIVATION_SILU, 1, 2, 3, 0, 1.0f},
        /* a kernel larger than the input: split over a pool of 3 or 4 by output channels (in NHWC), into slices of
         * 16 and one of the rest; case 0 splits so on a pool of 2 */
        {48, 72, 3, 2, 1, 1, 1, 3, 1, ODCONV_ACTIVATION_SILU, 2, 7, 6, 0, 1.0f},
        /* the same into a 1x1 output: the first slice's own output is then a view of the caller's, with no move
         * between them (every such forward on a pool failed, "object is not initialized") */
        {16, 32, 3, 1, 1, 1, 1, 2, 1, ODCONV_ACTIVATION_SILU, 1, 1, 1, 0, 1.0f},
};

static odconv_config_t case_config(size_t i) {
    odconv_config_t c = default_config(cases[i].in, cases[i].out, cases[i].k);
    c.stride = cases[i].stride; c.padding = cases[i].padding; c.dilation = cases[i].dilation;
    c.groups = cases[i].groups; c.kernel_num = cases[i].kn; c.has_batch_norm = cases[i].has_bn;
    c.activation = cases[i].act; c.temperature = cases[i].t;
    return c;
}

static void test_forward_against_reference(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        const odconv_config_t c = case_config(i);
        for (int32_t layout = ODCONV_LAYOUT_NCHW; layout <= ODCONV_LAYOUT_NHWC; ++layout) {
            const double error = forward_error(c, cases[i].n, cases[i].h, cases[i].w, cases[i].threads, layout, 0, NULL);
            CHECK(error <= 1e-5, "case %zu, layout %d: relative error %g", i, layout, error);
        }
    }
}

/* Every case on a caller's pool: serially with 3 tasks per step, and on 2 and 4 threads at once, so that
 * samples run whole (batch >= threads) and split (batch < threads) into bands of rows, with more bands than
 * some outputs have rows, or into slices of output channels. The same bound as odconv's own threads; the pool runs tasks whenever it has more
 * than one thread. Then the arguments odconv_layer_forward_on_pool refuses. */
static void test_forward_on_pool(void) {
    struct test_pool serial = {3, 0}, two = {2, 0}, four = {4, 0};
    const odconv_thread_pool_t pools[] = {{serial_reversed, &serial, 3}, {concurrent, &two, 2}, {concurrent, &four, 4}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        const odconv_config_t c = case_config(i);
        for (int32_t layout = ODCONV_LAYOUT_NCHW; layout <= ODCONV_LAYOUT_NHWC; ++layout) {
            for (size_t p = 0; p < sizeof pools / sizeof pools[0]; ++p) {
                const double error = forward_error(c, cases[i].n, cases[i].h, cases[i].w, 0, layout, 0, &pools[p]);
                CHECK(error <= 1e-5, "case %zu, layout %d, pool of %d: relative error %g", i, layout,
                      pools[p].threads, error);
            }
        }
    }
    CHECK(serial.tasks_run > 0 && two.tasks_run > 0 && four.tasks_run > 0, "tasks run: %ld, %ld, %ld",
          (long)serial.tasks_run, (long)two.tasks_run, (long)four.tasks_run);

    odconv_config_t c = default_config(8, 8, 3);
    odconv_weights_t w = random_weights(&c);
    odconv_layer_t layer = NULL;
    CHECK(odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, 0) == ODCONV_STATUS_SUCCESS, "%s",
          odconv_last_error_message());
    float *input = random_buffer(8 * 5 * 5, -1, 1), output[8 * 5 * 5];
    CHECK(odconv_layer_forward_on_pool(layer, NULL, 1, 5, 5, ODCONV_LAYOUT_NCHW, input, output) ==
              ODCONV_STATUS_INVALID_ARGUMENT && strstr(odconv_last_error_message(), "pool is NULL"),
          "NULL pool: %s", odconv_last_error_message());
    const odconv_thread_pool_t no_function = {NULL, NULL, 2}, no_threads = {concurrent, &two, 0},
                               too_many = {concurrent, &two, 1 << 30};
    CHECK(odconv_layer_forward_on_pool(layer, &no_function, 1, 5, 5, ODCONV_LAYOUT_NCHW, input, output) ==
              ODCONV_STATUS_INVALID_ARGUMENT && strstr(odconv_last_error_message(), "pool->parallel_for is NULL"),
          "NULL parallel_for: %s", odconv_last_error_message());
    CHECK(odconv_layer_forward_on_pool(layer, &no_threads, 1, 5, 5, ODCONV_LAYOUT_NCHW, input, output) ==
              ODCONV_STATUS_INVALID_ARGUMENT && strstr(odconv_last_error_message(), "pool->threads = 0"),
          "no threads: %s", odconv_last_error_message());
    CHECK(odconv_layer_forward_on_pool(layer, &too_many, 1, 5, 5, ODCONV_LAYOUT_NCHW, input, output) ==
              ODCONV_STATUS_INVALID_ARGUMENT, "2^30 threads accepted");
    CHECK(odconv_layer_forward_on_pool(layer, &pools[1], 1, 5, 5, ODCONV_LAYOUT_NCHW, input, NULL) ==
              ODCONV_STATUS_INVALID_ARGUMENT, "NULL output accepted");
    free(input);
    odconv_layer_destroy(layer);
    free_weights(&w);
}

/* The documented bound of bfloat16 layers against float32 (docs/bfloat16.md): the largest error over the
 * output, relative to the output's largest magnitude. */
#define BFLOAT16_BOUND 1e-2

/* Where the CPU has bfloat16 instructions, every case above in bfloat16 stays within the bound of the
 * double-precision reference, and is not float32 in disguise. Elsewhere (and under ONEDNN_MAX_CPU_ISA=AVX2,
 * which CTest sets for odconv_abi_test_bfloat16_refused) asking for it fails in one message naming what is
 * missing, for layers and static convolutions alike. */
static void test_bfloat16(void) {
    const odconv_status support = odconv_device_supports_flags(ODCONV_DEVICE_CPU, 0, ODCONV_FLAG_BFLOAT16);
    if (getenv("ODCONV_TEST_EXPECT_NO_BFLOAT16") != NULL)
        CHECK(support == ODCONV_STATUS_UNSUPPORTED, "bfloat16 offered under ONEDNN_MAX_CPU_ISA=%s",
              getenv("ONEDNN_MAX_CPU_ISA"));
    if (support != ODCONV_STATUS_SUCCESS) {
        char reason[512];
        snprintf(reason, sizeof reason, "%s", odconv_last_error_message());
        CHECK(support == ODCONV_STATUS_UNSUPPORTED, "status %d: %s", support, reason);
        CHECK(strstr(reason, "AVX512-BF16") != NULL && strstr(reason, odconv_cpu_isa()) != NULL,
              "the reason names the instructions wanted and found: %s", reason);
        odconv_config_t c = default_config(8, 8, 3);
        odconv_weights_t w = random_weights(&c);
        odconv_layer_t layer = (odconv_layer_t)&c;
        CHECK(odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, ODCONV_FLAG_BFLOAT16) ==
                  ODCONV_STATUS_UNSUPPORTED && layer == NULL, "bfloat16 layer created");
        CHECK(strcmp(odconv_last_error_message(), reason) == 0, "layer refused with: %s", odconv_last_error_message());
        odconv_static_conv_t conv = NULL;
        CHECK(odconv_static_conv_create(&conv, &c, w.weight, NULL, 1, 5, 5, ODCONV_LAYOUT_NCHW, 0, ODCONV_DEVICE_CPU, 0,
                                        ODCONV_FLAG_BFLOAT16) == ODCONV_STATUS_UNSUPPORTED && conv == NULL,
              "bfloat16 static convolution created");
        free_weights(&w);
        printf("bfloat16 unavailable here: %s\n", reason);
        return;
    }
    double worst = 0, least = INFINITY;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        const odconv_config_t c = case_config(i);
        for (int32_t layout = ODCONV_LAYOUT_NCHW; layout <= ODCONV_LAYOUT_NHWC; ++layout) {
            const double error = forward_error(c, cases[i].n, cases[i].h, cases[i].w, cases[i].threads, layout,
                                               ODCONV_FLAG_BFLOAT16, NULL);
            CHECK(error <= BFLOAT16_BOUND, "bfloat16 case %zu, layout %d: relative error %g", i, layout, error);
            struct test_pool two = {2, 0};
            const odconv_thread_pool_t pool = {concurrent, &two, 2};
            const double on_pool = forward_error(c, cases[i].n, cases[i].h, cases[i].w, 0, layout,
                                                 ODCONV_FLAG_BFLOAT16, &pool);
            CHECK(on_pool <= BFLOAT16_BOUND, "bfloat16 case %zu, layout %d, on a pool: relative error %g", i, layout,
                  on_pool);
            if (getenv("ODCONV_TEST_VERBOSE")) printf("bfloat16 case %zu, layout %d: %.3g\n", i, layout, error);
            worst = fmax(worst, error);
            least = fmin(least, error);
        }
    }
    /* bfloat16 keeps 8 significant bits: float32 stays within 1e-5 on every case above (a case whose outputs are
     * all far below 1 may stay that close in bfloat16 too, as errors count against max(1, max |output|)) */
    CHECK(worst > 1e-5, "bfloat16 errors up to %g: computed in float32?", worst);
    printf("bfloat16 (%s): relative error %.2e .. %.2e, bound %.0e\n", odconv_cpu_isa(), least, worst, BFLOAT16_BOUND);
}

struct concurrent_job {
    odconv_layer_t layer;
    const float *input;
    float *output;
    int64_t n, h, w;
    odconv_status status;
};

static void *run_job(void *arg) {
    struct concurrent_job *job = arg;
    for (int i = 0; i < 20 && job->status == ODCONV_STATUS_SUCCESS; ++i)
        job->status = odconv_layer_forward(job->layer, job->n, job->h, job->w, ODCONV_LAYOUT_NCHW, job->input,
                                           job->output);
    return NULL;
}

static void test_concurrent_forwards(void) {
    odconv_config_t c = default_config(32, 32, 3);
    c.kernel_num = 2;
    odconv_weights_t w = random_weights(&c);
    odconv_layer_t layer = NULL;
    CHECK(odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, 0) == ODCONV_STATUS_SUCCESS, "%s", odconv_last_error_message());
    const int64_t n = 2, h = 14, wd = 14, count = n * 32 * h * wd;
    float *input = random_buffer(count, -1, 1);
    float *single = malloc(sizeof(float) * (size_t)count);
    CHECK(odconv_layer_forward(layer, n, h, wd, ODCONV_LAYOUT_NCHW, input, single) == ODCONV_STATUS_SUCCESS, "single");
    enum { kThreads = 4 };
    pthread_t threads[kThreads];
    struct concurrent_job jobs[kThreads];
    for (int t = 0; t < kThreads; ++t) {
        jobs[t] = (struct concurrent_job){layer, input, malloc(sizeof(float) * (size_t)count), n, h, wd,
                                          ODCONV_STATUS_SUCCESS};
        pthread_create(&threads[t], NULL, run_job, &jobs[t]);
    }
    for (int t = 0; t < kThreads; ++t) {
        pthread_join(threads[t], NULL);
        CHECK(jobs[t].status == ODCONV_STATUS_SUCCESS, "thread %d status %d", t, jobs[t].status);
        CHECK(memcmp(jobs[t].output, single, sizeof(float) * (size_t)count) == 0, "thread %d differs", t);
        free(jobs[t].output);
    }
    free(input); free(single);
    odconv_layer_destroy(layer);
    free_weights(&w);
}

/* The benchmark floor: a plain convolution with bias and activation, against a direct loop. */
static void test_static_conv(void) {
    odconv_config_t c = default_config(12, 20, 3);
    c.groups = 2; c.stride = 2; c.activation = ODCONV_ACTIVATION_RELU;
    const int64_t n = 2, h = 9, w = 7, oh = 5, ow = 4, ipg = 6, opg = 10;
    float *weight = random_buffer(20 * ipg * 9, -0.5, 0.5), *bias = random_buffer(20, -0.5, 0.5);
    float *input = random_buffer(n * 12 * h * w, -1, 1);
    float output[2 * 20 * 5 * 4], nhwc_in[2 * 12 * 9 * 7], nhwc_out[2 * 20 * 5 * 4], from_nhwc[2 * 20 * 5 * 4];
    odconv_static_conv_t conv = NULL, conv_nhwc = NULL;
    CHECK(odconv_static_conv_create(&conv, &c, weight, bias, n, h, w, ODCONV_LAYOUT_NCHW, 1, ODCONV_DEVICE_CPU, 0, 0) == ODCONV_STATUS_SUCCESS,
          "%s", odconv_last_error_message());
    CHECK(odconv_static_conv_create(&conv_nhwc, &c, weight, bias, n, h, w, ODCONV_LAYOUT_NHWC, 0, ODCONV_DEVICE_CPU, 0, 0) ==
              ODCONV_STATUS_SUCCESS, "%s", odconv_last_error_message());
    double times[3];
    CHECK(odconv_static_conv_benchmark(conv, input, output, 3, times) == ODCONV_STATUS_SUCCESS, "%s",
          odconv_last_error_message());
    to_nhwc(input, nhwc_in, n, 12, h, w);
    CHECK(odconv_static_conv_forward(conv_nhwc, nhwc_in, nhwc_out) == ODCONV_STATUS_SUCCESS, "%s",
          odconv_last_error_message());
    CHECK(odconv_static_conv_forward(conv_nhwc, NULL, nhwc_out) == ODCONV_STATUS_INVALID_ARGUMENT, "NULL input");
    to_nchw(nhwc_out, from_nhwc, n, 20, oh, ow);
    double worst = 0;
    for (int64_t b = 0; b < n; ++b)
        for (int64_t o = 0; o < 20; ++o)
            for (int64_t y = 0; y < oh; ++y)
                for (int64_t x = 0; x < ow; ++x) {
                    double sum = bias[o];
                    for (int64_t i = 0; i < ipg; ++i)
                        for (int64_t ky = 0; ky < 3; ++ky)
                            for (int64_t kx = 0; kx < 3; ++kx) {
                                int64_t iy = y * 2 - 1 + ky, ix = x * 2 - 1 + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                sum += (double)weight[((o * ipg + i) * 3 + ky) * 3 + kx] *
                                       input[((b * 12 + (o / opg) * ipg + i) * h + iy) * w + ix];
                            }
                    const double want = sum > 0 ? sum : 0;
                    const int64_t at = ((b * 20 + o) * oh + y) * ow + x;
                    worst = fmax(worst, fmax(fabs(output[at] - want), fabs(from_nhwc[at] - want)));
                }
    CHECK(worst < 1e-5, "static conv error %g", worst);
    CHECK(odconv_static_conv_destroy(conv) == ODCONV_STATUS_SUCCESS, "destroy");
    CHECK(odconv_static_conv_destroy(conv_nhwc) == ODCONV_STATUS_SUCCESS, "destroy");
    CHECK(odconv_static_conv_destroy(NULL) == ODCONV_STATUS_SUCCESS, "destroy(NULL)");
    CHECK(odconv_static_conv_create(&conv, &c, NULL, bias, n, h, w, ODCONV_LAYOUT_NCHW, 0, ODCONV_DEVICE_CPU, 0, 0) ==
              ODCONV_STATUS_INVALID_ARGUMENT && conv == NULL, "NULL weight");
    free(weight); free(bias); free(input);
}

/* Native memory in use after many create/forward/destroy cycles and forwards stays where it was. oneDNN and
 * OpenMP take several hundred cycles to warm up (each round of 100 grows by up to 6 KB, less each time, then
 * the level wanders by some hundreds of bytes), so warm-up lasts until a round grows by under 1 KB, and then
 * the level over 500 more cycles is held to 8 KB: a leak of one malloc chunk (32 bytes) per cycle grows 16 KB. */
static size_t native_memory_in_use(void) { return mallinfo2().uordblks + mallinfo2().hblkhd; }

static void test_no_growth_over_cycles(void) {
    odconv_config_t c = default_config(16, 24, 3);
    c.kernel_num = 2;
    odconv_weights_t w = random_weights(&c);
    /* large enough for the input sizes up to 60 x 9 below */
    float *input = random_buffer(2 * 16 * 60 * 9, -1, 1), *output = malloc(sizeof(float) * 2 * 24 * 60 * 9);
    int failed = 0;
    enum { CYCLES = 100, MOST_WARM_UP_ROUNDS = 20, MEASURED_ROUNDS = 5 };
    size_t level = native_memory_in_use(), warmed_up_level = 0;
    int measured = -1;  /* -1 while warming up */
    for (int round = 0; measured < MEASURED_ROUNDS; ++round) {
        for (int cycle = 0; cycle < CYCLES; ++cycle) {
            odconv_layer_t layer = NULL;
            failed |= odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, 0) != ODCONV_STATUS_SUCCESS;
            for (int i = 0; i < 5; ++i)
                failed |= odconv_layer_forward(layer, 2, 9, 9, i % 2, input, output) != ODCONV_STATUS_SUCCESS;
            odconv_layer_destroy(layer);
        }
        const size_t previous = level;
        level = native_memory_in_use();
        if (measured >= 0) ++measured;
        else if (level <= previous + 1024 || round == MOST_WARM_UP_ROUNDS) measured = 0, warmed_up_level = level;
    }
    CHECK(level <= warmed_up_level + 8192, "%d cycles grew native memory by %zd bytes after warming up",
          MEASURED_ROUNDS * CYCLES, (ssize_t)(level - warmed_up_level));
    /* One layer fed ever-new input sizes keeps a bounded cache of plans. */
    odconv_layer_t layer = NULL;
    failed |= odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, 0) != ODCONV_STATUS_SUCCESS;
    size_t in_use[3];
    for (int width = 7; width <= 9; ++width) {  /* three rounds of 57 new sizes each, alike in area */
        for (int height = 3; height < 60; ++height)
            failed |= odconv_layer_forward(layer, 1, height, width, ODCONV_LAYOUT_NCHW, input, output) !=
                      ODCONV_STATUS_SUCCESS;
        in_use[width - 7] = mallinfo2().uordblks + mallinfo2().hblkhd;
    }
    CHECK(in_use[2] <= in_use[1] + in_use[1] / 20, "57 more input sizes grew native memory from %zu to %zu bytes",
          in_use[1], in_use[2]);
    odconv_layer_destroy(layer);
    CHECK(!failed, "cycles failed: %s", odconv_last_error_message());
    free(input); free(output);
    free_weights(&w);
}

/* One layer through every kind of plan in turn (its own threads, one and two; a pool, whole samples, bands of
 * rows, slices of output channels; both layouts), each against the reference: the plans after the first lay
 * the bank out from the first one's layout (the layer's copy from creation is gone by then), or share it. */
static void test_one_layer_many_plans(void) {
    struct test_pool two = {2, 0}, four = {4, 0};
    const odconv_thread_pool_t pools[] = {{concurrent, &two, 2}, {concurrent, &four, 4}};
    const size_t chosen[] = {0, 5, 9, 16};  /* plain, groups, groups of 32 channels, slices on a pool of 4 */
    for (size_t k = 0; k < sizeof chosen / sizeof chosen[0]; ++k) {
        const size_t i = chosen[k];
        const odconv_config_t c = case_config(i);
        odconv_weights_t w = random_weights(&c);
        odconv_layer_t layer = NULL;
        CHECK(odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, 0) == ODCONV_STATUS_SUCCESS, "create: %s",
              odconv_last_error_message());
        for (int32_t layout = ODCONV_LAYOUT_NHWC; layout >= ODCONV_LAYOUT_NCHW; --layout) {
            for (int threads = 1; threads <= 2; ++threads) {
                odconv_layer_set_num_threads(layer, threads);
                const double error = layer_error(layer, &c, &w, cases[i].n, cases[i].h, cases[i].w, layout, NULL);
                CHECK(error <= 1e-5, "case %zu, layout %d, %d threads after other plans: relative error %g", i,
                      layout, threads, error);
            }
            for (size_t p = 0; p < sizeof pools / sizeof pools[0]; ++p)
                for (int64_t batch = 1; batch <= 4; batch += 3) {
                    const double error = layer_error(layer, &c, &w, batch, cases[i].h + 1, cases[i].w, layout, &pools[p]);
                    CHECK(error <= 1e-5, "case %zu, layout %d, batch %lld, pool of %d after other plans: relative "
                          "error %g", i, layout, (long long)batch, pools[p].threads, error);
                }
        }
        odconv_layer_destroy(layer);
        free_weights(&w);
    }
}

/* A layer holds its bank once when its plans share a kernel layout: the copy made at creation goes once the
 * first plan has laid the bank out, and plans of other input sizes share that layout rather than each laying
 * out their own (plans are per input size), so each new size's growth stays well under the bank's size. */
static void test_plans_share_the_bank(void) {
    odconv_config_t c = default_config(64, 64, 3);
    c.kernel_num = 32;  /* a bank of 4.7 MB, large against a plan's own buffers */
    odconv_weights_t w = random_weights(&c);
    const size_t bank_bytes = sizeof(float) * (size_t)c.kernel_num * c.out_planes * (c.in_planes / c.groups) *
                              c.kernel_size * c.kernel_size;
    enum { FIRST = 20, SIZES = 12, STEP = 2 };
    const int last = FIRST + STEP * (SIZES - 1);
    float *input = random_buffer(64 * last * last, -1, 1), *output = malloc(sizeof(float) * 64 * last * last);
    const size_t at_start = native_memory_in_use();
    odconv_layer_t layer = NULL;
    int failed = odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, 0) != ODCONV_STATUS_SUCCESS;
    failed |= odconv_layer_forward(layer, 1, FIRST, FIRST, ODCONV_LAYOUT_NHWC, input, output) != ODCONV_STATUS_SUCCESS;
    const size_t before = native_memory_in_use();
    CHECK(before - at_start < bank_bytes + bank_bytes / 2, "a layer and its first plan hold %zu bytes, a bank is %zu",
          before - at_start, bank_bytes);
    for (int size = FIRST + STEP; size <= last; size += STEP)
        failed |= odconv_layer_forward(layer, 1, size, size, ODCONV_LAYOUT_NHWC, input, output) != ODCONV_STATUS_SUCCESS;
    const size_t grown = native_memory_in_use() - before;
    CHECK(!failed, "forwards failed: %s", odconv_last_error_message());
    /* A copy of the bank per plan would be (SIZES - 1) bank sizes and more. */
    CHECK(grown < (SIZES - 1) * bank_bytes / 2, "%d more input sizes grew native memory by %zu bytes, a bank is %zu",
          SIZES - 1, grown, bank_bytes);
    odconv_layer_destroy(layer);
    free(input); free(output);
    free_weights(&w);
}

/* Devices: the CPU is always device 0; CUDA calls either work (a GPU machine with the CUDA backend) or
 * fail with ODCONV_STATUS_DEVICE_UNAVAILABLE and a message saying what is missing, never anything worse. */
static void test_devices(void) {
    int32_t count = -1;
    CHECK(odconv_device_count(ODCONV_DEVICE_CPU, &count) == ODCONV_STATUS_SUCCESS && count == 1, "cpu count %d", count);
    CHECK(odconv_device_count(7, &count) == ODCONV_STATUS_INVALID_ARGUMENT, "unknown device type");
    CHECK(strstr(odconv_last_error_message(), "device_type = 7") != NULL, "message: %s", odconv_last_error_message());
    CHECK(odconv_device_count(ODCONV_DEVICE_CPU, NULL) == ODCONV_STATUS_INVALID_ARGUMENT, "NULL count");

    char text[256];
    CHECK(odconv_device_describe(ODCONV_DEVICE_CPU, 0, text, sizeof text) == ODCONV_STATUS_SUCCESS &&
              strncmp(text, "CPU (", 5) == 0, "describe: %s", text);
    char tiny[4];
    CHECK(odconv_device_describe(ODCONV_DEVICE_CPU, 0, tiny, sizeof tiny) == ODCONV_STATUS_SUCCESS &&
              strcmp(tiny, "CPU") == 0, "truncated: '%s'", tiny);
    CHECK(odconv_device_describe(ODCONV_DEVICE_CPU, 1, text, sizeof text) == ODCONV_STATUS_INVALID_ARGUMENT,
          "cpu index 1");
    CHECK(strstr(odconv_last_error_message(), "device_index = 1") != NULL, "message: %s", odconv_last_error_message());
    CHECK(odconv_device_describe(ODCONV_DEVICE_CPU, 0, text, 0) == ODCONV_STATUS_INVALID_ARGUMENT, "capacity 0");

    /* CPU device memory is aligned host memory. */
    void *memory = NULL;
    CHECK(odconv_device_alloc(ODCONV_DEVICE_CPU, 0, 1000, &memory) == ODCONV_STATUS_SUCCESS && memory != NULL &&
              ((uintptr_t)memory % 64) == 0, "cpu alloc %p", memory);
    if (memory) memset(memory, 0x5a, 1000);
    CHECK(odconv_device_free(ODCONV_DEVICE_CPU, 0, memory) == ODCONV_STATUS_SUCCESS, "cpu free");
    CHECK(odconv_device_free(ODCONV_DEVICE_CPU, 0, NULL) == ODCONV_STATUS_SUCCESS, "free NULL");
    CHECK(odconv_device_alloc(ODCONV_DEVICE_CPU, 0, 0, &memory) == ODCONV_STATUS_INVALID_ARGUMENT && memory == NULL,
          "zero bytes");

    /* CPUs have no streams, and a CPU layer has no asynchronous forward. */
    odconv_stream_t stream = (odconv_stream_t)&count;
    CHECK(odconv_stream_create(&stream, ODCONV_DEVICE_CPU, 0) == ODCONV_STATUS_UNSUPPORTED && stream == NULL,
          "cpu stream");
    CHECK(odconv_stream_destroy(NULL) == ODCONV_STATUS_SUCCESS, "destroy NULL stream");
    CHECK(odconv_stream_synchronize(NULL) == ODCONV_STATUS_INVALID_ARGUMENT, "synchronize NULL");

    odconv_config_t c = default_config(8, 8, 3);
    odconv_weights_t w = random_weights(&c);
    odconv_layer_t layer = NULL;
    CHECK(odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, 4) == ODCONV_STATUS_INVALID_ARGUMENT,
          "unknown flag");
    CHECK(strstr(odconv_last_error_message(), "flags = 4") != NULL, "message: %s", odconv_last_error_message());
    CHECK(odconv_device_supports_flags(ODCONV_DEVICE_CPU, 0, 4) == ODCONV_STATUS_INVALID_ARGUMENT, "unknown flag");
    CHECK(odconv_device_supports_flags(ODCONV_DEVICE_CPU, 0, 0) == ODCONV_STATUS_SUCCESS, "no flags");
    CHECK(odconv_device_supports_flags(ODCONV_DEVICE_CPU, 0, ODCONV_FLAG_ALLOW_TF32) == ODCONV_STATUS_SUCCESS,
          "TF32 means nothing to a CPU");
    CHECK(odconv_device_supports_flags(ODCONV_DEVICE_CPU, 1, 0) == ODCONV_STATUS_INVALID_ARGUMENT, "cpu index 1");
    CHECK(odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 3, 0) == ODCONV_STATUS_INVALID_ARGUMENT,
          "cpu index 3");
    CHECK(odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, ODCONV_FLAG_ALLOW_TF32) ==
              ODCONV_STATUS_SUCCESS, "cpu layer, TF32 flag ignored: %s", odconv_last_error_message());
    odconv_device_type type = (odconv_device_type)-1;
    int32_t index = -1;
    CHECK(odconv_layer_device(layer, &type, &index) == ODCONV_STATUS_SUCCESS && type == ODCONV_DEVICE_CPU &&
              index == 0, "layer device %d:%d", (int)type, index);
    float *input = random_buffer(8 * 5 * 5, -1, 1), *output = random_buffer(8 * 5 * 5, 0, 0);
    CHECK(odconv_layer_forward_async(layer, NULL, 1, 5, 5, ODCONV_LAYOUT_NCHW, input, output) ==
              ODCONV_STATUS_INVALID_ARGUMENT, "NULL stream");
    odconv_layer_destroy(layer);

    /* CUDA: here either a GPU machine or a clear refusal. */
    const odconv_status cuda = odconv_device_count(ODCONV_DEVICE_CUDA, &count);
    if (cuda == ODCONV_STATUS_SUCCESS && count > 0) {
        printf("CUDA devices: %d\n", count);
    } else {
        const char *why = cuda == ODCONV_STATUS_SUCCESS ? "no CUDA device" : odconv_last_error_message();
        printf("CUDA unavailable here: %s\n", why);
        CHECK(cuda == ODCONV_STATUS_SUCCESS || (cuda == ODCONV_STATUS_DEVICE_UNAVAILABLE && strstr(why, "CUDA") != NULL),
              "status %d: %s", cuda, why);
        const odconv_status expected = cuda == ODCONV_STATUS_SUCCESS ? ODCONV_STATUS_INVALID_ARGUMENT
                                                                      : ODCONV_STATUS_DEVICE_UNAVAILABLE;
        layer = (odconv_layer_t)&count;
        CHECK(odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CUDA, 0, 0) == expected && layer == NULL,
              "cuda layer: %s", odconv_last_error_message());
        CHECK(odconv_stream_create(&stream, ODCONV_DEVICE_CUDA, 0) == expected, "cuda stream");
        CHECK(odconv_device_alloc(ODCONV_DEVICE_CUDA, 0, 64, &memory) == expected, "cuda alloc");
        if (cuda != ODCONV_STATUS_SUCCESS) {
            CHECK(odconv_host_alloc_pinned(64, &memory) == ODCONV_STATUS_DEVICE_UNAVAILABLE && memory == NULL, "pinned");
            CHECK(odconv_copy(output, input, 16, ODCONV_COPY_HOST_TO_DEVICE, NULL) == ODCONV_STATUS_DEVICE_UNAVAILABLE,
                  "copy");
        }
    }
    CHECK(odconv_copy(output, input, 16, 9, NULL) == ODCONV_STATUS_INVALID_ARGUMENT, "copy kind");
    CHECK(odconv_copy(output, input, -1, ODCONV_COPY_HOST_TO_DEVICE, NULL) == ODCONV_STATUS_INVALID_ARGUMENT,
          "negative bytes");
    CHECK(odconv_copy(input + 1, input, 16, ODCONV_COPY_DEVICE_TO_DEVICE, NULL) == ODCONV_STATUS_INVALID_ARGUMENT,
          "overlap");
    free(input);
    free(output);
    free_weights(&w);
}

int main(int argc, char **argv) {
    /* oneDNN's own process-wide primitive cache (up to 1024 primitives) would hide whether odconv's plan
     * cache is bounded; switch it off before oneDNN starts. */
    setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "0", 1);
    /* mallinfo2 counts the main arena only; with one arena it counts what every thread allocates (batches
     * run their samples on OpenMP worker threads). */
    mallopt(M_ARENA_MAX, 1);
    if (argc > 1 && strcmp(argv[1], "bfloat16") == 0) {  /* the bfloat16 test alone, for CTest's ISA-limited run */
        test_bfloat16();
        return finish();
    }
    test_version_and_strings();
    test_config_validation();
    test_config_shapes();
    test_layer_lifecycle_errors();
    test_abi_description();
    test_forward_against_reference();
    test_forward_on_pool();
    test_one_layer_many_plans();
    test_bfloat16();
    test_concurrent_forwards();
    test_static_conv();
    test_devices();
    test_no_growth_over_cycles();
    test_plans_share_the_bank();
    return finish();
}
