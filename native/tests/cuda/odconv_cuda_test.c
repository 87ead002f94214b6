/* The CUDA backend through the public ABI only (libodconv dispatching to libodconv_cuda.so): device
 * layers against reference.c and the CPU layer over hand-picked and random configurations in both
 * layouts, synchronous and stream-ordered forwards, the static convolution, and the refusal of host
 * memory where device memory is needed. Exits 77 (skipped) when no CUDA device can be used. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "odconv.h"
#include "odconv_tools.h"
#include "../reference.h"

#define SKIP 77

typedef struct {
    odconv_config_t config;
    odconv_weights_t weights;
    int64_t batch, height, width;
} test_case;

static void free_case(test_case *t) { free_weights(&t->weights); }

static odconv_config_t base_config(int in, int out, int k, int stride, int groups, int kernel_num) {
    odconv_config_t c;
    memset(&c, 0, sizeof c);
    c.in_planes = in;
    c.out_planes = out;
    c.kernel_size = k;
    c.stride = stride;
    c.padding = k / 2;
    c.dilation = 1;
    c.groups = groups;
    c.kernel_num = kernel_num;
    c.reduction = 0.0625;
    c.min_channel = 16;
    c.has_batch_norm = 1;
    c.temperature = 1.0f;
    c.bn_eps = 1e-3f;
    c.attention_bn_eps = 1e-5f;
    c.activation = ODCONV_ACTIVATION_SILU;
    return c;
}

static test_case random_case(void) {
    test_case t;
    memset(&t, 0, sizeof t);
    odconv_config_t *k = &t.config;
    *k = base_config(1, 1, 1, 1, 1, 1);
    k->groups = pick(1, 4);
    const int make_depthwise = pick(0, 4) == 0;
    k->in_planes = make_depthwise ? k->groups : k->groups * pick(1, 6);
    k->out_planes = make_depthwise ? k->groups : k->groups * pick(1, 6);
    k->kernel_size = pick(1, 5);
    k->stride = pick(1, 3);
    k->padding = pick(0, 3);
    k->dilation = pick(1, 3);
    k->kernel_num = pick(1, 4);
    k->reduction = 0.0625 * pick(1, 16);
    k->min_channel = pick(1, 16);
    k->has_batch_norm = pick(0, 1);
    k->temperature = 0.5f + 0.5f * (float)pick(0, 60);
    k->activation = pick(0, 2);
    const int receptive = k->dilation * (k->kernel_size - 1) + 1;
    int minimum = receptive - 2 * k->padding;
    if (minimum < 1) minimum = 1;
    t.batch = pick(1, 5);
    t.height = minimum + pick(0, 17);
    t.width = minimum + pick(0, 17);
    t.weights = random_weights(&t.config);
    return t;
}

static float *to_layout(const float *x, int64_t batch, int64_t channels, int64_t pixels, int layout) {
    float *y = malloc(sizeof(float) * (size_t)(batch * channels * pixels));
    for (int64_t n = 0; n < batch; ++n)
        for (int64_t c = 0; c < channels; ++c)
            for (int64_t p = 0; p < pixels; ++p)
                y[layout == ODCONV_LAYOUT_NHWC ? (n * pixels + p) * channels + c : (n * channels + c) * pixels + p] =
                    x[(n * channels + c) * pixels + p];
    return y;
}

/* Max |got - expected| with got in `layout` and expected NCHW doubles. */
static double max_error(const float *got, const double *expected, int64_t batch, int64_t channels, int64_t pixels,
                        int layout) {
    double worst = 0;
    for (int64_t n = 0; n < batch; ++n)
        for (int64_t c = 0; c < channels; ++c)
            for (int64_t p = 0; p < pixels; ++p) {
                const int64_t at =
                    layout == ODCONV_LAYOUT_NHWC ? (n * pixels + p) * channels + c : (n * channels + c) * pixels + p;
                const double e = fabs(got[at] - expected[(n * channels + c) * pixels + p]);
                if (!(e <= worst)) worst = e; /* NaN counts as the worst */
            }
    return worst;
}

static void *device_copy_of(const float *host, size_t count) {
    void *device = NULL;
    REQUIRE_OK(odconv_device_alloc(ODCONV_DEVICE_CUDA, 0, (int64_t)(sizeof(float) * count), &device));
    REQUIRE_OK(odconv_copy(device, host, (int64_t)(sizeof(float) * count), ODCONV_COPY_HOST_TO_DEVICE, NULL));
    return device;
}

/* Runs one case in one layout on CUDA (synchronously or on a stream) and on the CPU layer. */
static void run_case(const char *name, test_case *t, int layout, odconv_stream_t stream) {
    const odconv_config_t *k = &t->config;
    odconv_layer_t cpu = NULL, gpu = NULL;
    REQUIRE_OK(odconv_layer_create(&cpu, k, &t->weights, ODCONV_DEVICE_CPU, 0, 0));
    REQUIRE_OK(odconv_layer_create(&gpu, k, &t->weights, ODCONV_DEVICE_CUDA, 0, 0));
    int64_t out_h = 0, out_w = 0;
    REQUIRE_OK(odconv_layer_output_shape(gpu, t->height, t->width, &out_h, &out_w));
    const int64_t pixels = t->height * t->width, out_pixels = out_h * out_w;
    const size_t in_count = (size_t)(t->batch * k->in_planes * pixels);
    const size_t out_count = (size_t)(t->batch * k->out_planes * out_pixels);
    /* Two inputs, A then B, written in turn into the same device buffer. */
    float *nchw[2], *input[2];
    double *expected[2];
    double scale = 1;
    for (int v = 0; v < 2; ++v) {
        nchw[v] = malloc(sizeof(float) * in_count);
        for (size_t i = 0; i < in_count; ++i) nchw[v][i] = uniform(-2, 2);
        expected[v] = malloc(sizeof(double) * out_count);
        reference_forward(k, &t->weights, t->batch, t->height, t->width, nchw[v], expected[v]);
        for (size_t i = 0; i < out_count; ++i)
            if (fabs(expected[v][i]) > scale) scale = fabs(expected[v][i]);
        input[v] = to_layout(nchw[v], t->batch, k->in_planes, pixels, layout);
    }
    const double tolerance = 1e-4 * scale;

    float *gpu_out = malloc(sizeof(float) * out_count), *cpu_out = malloc(sizeof(float) * out_count);
    void *d_in = device_copy_of(input[0], in_count), *d_out = NULL;
    REQUIRE_OK(odconv_device_alloc(ODCONV_DEVICE_CUDA, 0, (int64_t)(sizeof(float) * out_count), &d_out));
    /* Four times on the same tensors: the first call plans (and times the strategies on the output) and
     * runs kernel by kernel, the second captures a CUDA graph, the others replay it. Runs 2 and 3 read
     * input B from the same buffer, so a graph missing a step (stale attention or filters from A) fails,
     * and the output is poisoned before each run, so a run that writes nothing fails. */
    float *poison = malloc(sizeof(float) * out_count);
    for (size_t i = 0; i < out_count; ++i) poison[i] = NAN;
    int current = 0;
    for (int run = 0; run < 4; ++run) {
        if (run == 2) {
            current = 1;
            REQUIRE_OK(odconv_copy(d_in, input[1], (int64_t)(sizeof(float) * in_count), ODCONV_COPY_HOST_TO_DEVICE, NULL));
        }
        REQUIRE_OK(odconv_copy(d_out, poison, (int64_t)(sizeof(float) * out_count), ODCONV_COPY_HOST_TO_DEVICE, NULL));
        if (stream) {
            REQUIRE_OK(odconv_layer_forward_async(gpu, stream, t->batch, t->height, t->width, layout, d_in, d_out));
            REQUIRE_OK(odconv_copy(gpu_out, d_out, (int64_t)(sizeof(float) * out_count), ODCONV_COPY_DEVICE_TO_HOST, stream));
            REQUIRE_OK(odconv_stream_synchronize(stream));
        } else {
            REQUIRE_OK(odconv_layer_forward(gpu, t->batch, t->height, t->width, layout, d_in, d_out));
            REQUIRE_OK(odconv_copy(gpu_out, d_out, (int64_t)(sizeof(float) * out_count), ODCONV_COPY_DEVICE_TO_HOST, NULL));
        }
        const double error = max_error(gpu_out, expected[current], t->batch, k->out_planes, out_pixels, layout);
        if (!(error <= tolerance)) {
            ++failures;
            fprintf(stderr,
                    "FAILED %s (%s, %s, run %d): max error %.3g > %.3g: in %d out %d k %d stride %d pad %d dilation %d "
                    "groups %d kernel_num %d bn %d act %d batch %lld %lldx%lld\n",
                    name, layout == ODCONV_LAYOUT_NHWC ? "NHWC" : "NCHW", stream ? "stream" : "sync", run, error,
                    tolerance, k->in_planes, k->out_planes, k->kernel_size, k->stride, k->padding, k->dilation,
                    k->groups, k->kernel_num, k->has_batch_norm, k->activation, (long long)t->batch,
                    (long long)t->height, (long long)t->width);
            break;
        }
    }
    REQUIRE_OK(odconv_layer_forward(cpu, t->batch, t->height, t->width, layout, input[current], cpu_out));
    double cpu_gpu = 0;
    for (size_t i = 0; i < out_count; ++i) {
        const double e = fabs((double)cpu_out[i] - gpu_out[i]);
        if (!(e <= cpu_gpu)) cpu_gpu = e;
    }
    if (!(cpu_gpu <= 2 * tolerance)) {
        ++failures;
        fprintf(stderr, "FAILED %s: CUDA and CPU layers differ by %.3g\n", name, cpu_gpu);
    }
    REQUIRE_OK(odconv_device_free(ODCONV_DEVICE_CUDA, 0, d_in));
    REQUIRE_OK(odconv_device_free(ODCONV_DEVICE_CUDA, 0, d_out));
    free(poison);
    for (int v = 0; v < 2; ++v) {
        free(input[v]);
        free(nchw[v]);
        free(expected[v]);
    }
    free(gpu_out);
    free(cpu_out);
    REQUIRE_OK(odconv_layer_destroy(cpu));
    REQUIRE_OK(odconv_layer_destroy(gpu));
}

/* The static convolution on CUDA against the CPU one, same weight, bias and activation. */
static void run_static_case(test_case *t, int layout) {
    const odconv_config_t *k = &t->config;
    const float *weight = t->weights.weight, *bias = t->weights.bn_bias; /* bn_bias: any [out] vector or NULL */
    odconv_static_conv_t cpu = NULL, gpu = NULL;
    REQUIRE_OK(odconv_static_conv_create(&cpu, k, weight, bias, t->batch, t->height, t->width, layout, 0, ODCONV_DEVICE_CPU, 0, 0));
    REQUIRE_OK(odconv_static_conv_create(&gpu, k, weight, bias, t->batch, t->height, t->width, layout, 0,
                                              ODCONV_DEVICE_CUDA, 0, 0));
    int64_t out_h = 0, out_w = 0;
    odconv_layer_t shape_layer = NULL;
    REQUIRE_OK(odconv_layer_create(&shape_layer, k, &t->weights, ODCONV_DEVICE_CPU, 0, 0));
    REQUIRE_OK(odconv_layer_output_shape(shape_layer, t->height, t->width, &out_h, &out_w));
    REQUIRE_OK(odconv_layer_destroy(shape_layer));
    const size_t in_count = (size_t)(t->batch * k->in_planes * t->height * t->width);
    const size_t out_count = (size_t)(t->batch * k->out_planes * out_h * out_w);
    float *input = malloc(sizeof(float) * in_count), *cpu_out = malloc(sizeof(float) * out_count),
          *gpu_out = malloc(sizeof(float) * out_count);
    for (size_t i = 0; i < in_count; ++i) input[i] = uniform(-2, 2);
    void *d_in = device_copy_of(input, in_count), *d_out = NULL;
    REQUIRE_OK(odconv_device_alloc(ODCONV_DEVICE_CUDA, 0, (int64_t)(sizeof(float) * out_count), &d_out));
    REQUIRE_OK(odconv_static_conv_forward(cpu, input, cpu_out));
    REQUIRE_OK(odconv_static_conv_forward(gpu, d_in, d_out));
    REQUIRE_OK(odconv_copy(gpu_out, d_out, (int64_t)(sizeof(float) * out_count), ODCONV_COPY_DEVICE_TO_HOST, NULL));
    double scale = 1, error = 0;
    for (size_t i = 0; i < out_count; ++i) {
        if (fabs(cpu_out[i]) > scale) scale = fabs(cpu_out[i]);
        const double e = fabs((double)cpu_out[i] - gpu_out[i]);
        if (!(e <= error)) error = e;
    }
    if (!(error <= 1e-4 * scale)) {
        ++failures;
        fprintf(stderr, "FAILED static convolution (%s): CUDA and CPU differ by %.3g\n",
                layout == ODCONV_LAYOUT_NHWC ? "NHWC" : "NCHW", error);
    }
    REQUIRE_OK(odconv_device_free(ODCONV_DEVICE_CUDA, 0, d_in));
    REQUIRE_OK(odconv_device_free(ODCONV_DEVICE_CUDA, 0, d_out));
    free(input);
    free(cpu_out);
    free(gpu_out);
    REQUIRE_OK(odconv_static_conv_destroy(cpu));
    REQUIRE_OK(odconv_static_conv_destroy(gpu));
}

static void expect_status(odconv_status got, odconv_status want, const char *what) {
    if (got != want) {
        ++failures;
        fprintf(stderr, "FAILED %s: got %s (%s), want %s\n", what, odconv_status_string(got),
                odconv_last_error_message(), odconv_status_string(want));
    } else {
        printf("refused as expected: %s: %s\n", what, odconv_last_error_message());
    }
}

static void never_called(void *pool_context, odconv_task_fn task, void *task_context, size_t count) {
    (void)pool_context; (void)task; (void)task_context; (void)count;
    fprintf(stderr, "FAIL: a CUDA layer ran tasks on a caller's pool\n");
    abort();
}

static void check_refusals(void) {
    test_case t;
    memset(&t, 0, sizeof t);
    t.config = base_config(8, 8, 3, 1, 1, 2);
    t.weights = random_weights(&t.config);
    odconv_layer_t gpu = NULL;
    REQUIRE_OK(odconv_layer_create(&gpu, &t.config, &t.weights, ODCONV_DEVICE_CUDA, 0, 0));
    float *host_in = calloc(8 * 16, sizeof(float)), *host_out = calloc(8 * 16, sizeof(float));
    void *d_in = device_copy_of(host_in, 8 * 16), *d_out = NULL;
    REQUIRE_OK(odconv_device_alloc(ODCONV_DEVICE_CUDA, 0, 8 * 16 * sizeof(float), &d_out));
    expect_status(odconv_layer_forward(gpu, 1, 4, 4, ODCONV_LAYOUT_NCHW, host_in, d_out),
                  ODCONV_STATUS_INVALID_ARGUMENT, "host input to a CUDA layer");
    expect_status(odconv_layer_forward(gpu, 1, 4, 4, ODCONV_LAYOUT_NCHW, d_in, host_out),
                  ODCONV_STATUS_INVALID_ARGUMENT, "host output of a CUDA layer");
    const odconv_thread_pool_t pool = {never_called, NULL, 2};
    expect_status(odconv_layer_forward_on_pool(gpu, &pool, 1, 4, 4, ODCONV_LAYOUT_NCHW, d_in, d_out),
                  ODCONV_STATUS_UNSUPPORTED, "a caller's thread pool for a CUDA layer");
    expect_status(odconv_copy(host_out, host_in, 16, ODCONV_COPY_HOST_TO_DEVICE, NULL), ODCONV_STATUS_INVALID_ARGUMENT,
                  "host memory as the device side of a copy");
    expect_status(odconv_copy(d_out, d_in, 16, ODCONV_COPY_HOST_TO_DEVICE, NULL), ODCONV_STATUS_INVALID_ARGUMENT,
                  "device memory as the host side of a copy");
    int32_t count = 0;
    REQUIRE_OK(odconv_device_count(ODCONV_DEVICE_CUDA, &count));
    odconv_layer_t other = NULL;
    expect_status(odconv_layer_create(&other, &t.config, &t.weights, ODCONV_DEVICE_CUDA, count, 0),
                  ODCONV_STATUS_INVALID_ARGUMENT, "a device index past the last device");
    REQUIRE_OK(odconv_device_free(ODCONV_DEVICE_CUDA, 0, d_in));
    REQUIRE_OK(odconv_device_free(ODCONV_DEVICE_CUDA, 0, d_out));
    free(host_in);
    free(host_out);
    REQUIRE_OK(odconv_layer_destroy(gpu));
    free_case(&t);
}

/* Batches that grow a context's scratch memory drop its graphs (their pointers die with the old buffers):
 * batch 2 twice (captured), 4 twice (grown, captured again), then 2 three times (captured anew, replayed),
 * each checked against the reference. */
static void check_graphs_across_growth(void) {
    test_case t;
    memset(&t, 0, sizeof t);
    t.config = base_config(16, 24, 3, 1, 1, 3);
    t.batch = 4;
    t.height = t.width = 11;
    t.weights = random_weights(&t.config);
    const odconv_config_t *k = &t.config;
    odconv_layer_t gpu = NULL;
    REQUIRE_OK(odconv_layer_create(&gpu, k, &t.weights, ODCONV_DEVICE_CUDA, 0, 0));
    int64_t out_h = 0, out_w = 0;
    REQUIRE_OK(odconv_layer_output_shape(gpu, t.height, t.width, &out_h, &out_w));
    const int64_t pixels = t.height * t.width, out_pixels = out_h * out_w;
    const size_t in_count = (size_t)(4 * k->in_planes * pixels), out_count = (size_t)(4 * k->out_planes * out_pixels);
    float *input = malloc(sizeof(float) * in_count), *output = malloc(sizeof(float) * out_count);
    for (size_t i = 0; i < in_count; ++i) input[i] = uniform(-2, 2);
    double *expected = malloc(sizeof(double) * out_count);
    reference_forward(k, &t.weights, 4, t.height, t.width, input, expected); /* samples are independent */
    double scale = 1;
    for (size_t i = 0; i < out_count; ++i)
        if (fabs(expected[i]) > scale) scale = fabs(expected[i]);
    void *d_in = device_copy_of(input, in_count), *d_out = NULL;
    REQUIRE_OK(odconv_device_alloc(ODCONV_DEVICE_CUDA, 0, (int64_t)(sizeof(float) * out_count), &d_out));
    const int64_t batches[] = {2, 2, 4, 4, 2, 2, 2};
    for (size_t r = 0; r < sizeof batches / sizeof batches[0]; ++r) {
        const int64_t batch = batches[r];
        REQUIRE_OK(odconv_layer_forward(gpu, batch, t.height, t.width, ODCONV_LAYOUT_NCHW, d_in, d_out));
        const size_t count = (size_t)(batch * k->out_planes * out_pixels);
        REQUIRE_OK(odconv_copy(output, d_out, (int64_t)(sizeof(float) * count), ODCONV_COPY_DEVICE_TO_HOST, NULL));
        const double error = max_error(output, expected, batch, k->out_planes, out_pixels, ODCONV_LAYOUT_NCHW);
        if (!(error <= 1e-4 * scale)) {
            ++failures;
            fprintf(stderr, "FAILED graphs across growth, run %zu (batch %lld): max error %.3g\n", r, (long long)batch,
                    error);
        }
    }
    REQUIRE_OK(odconv_device_free(ODCONV_DEVICE_CUDA, 0, d_in));
    REQUIRE_OK(odconv_device_free(ODCONV_DEVICE_CUDA, 0, d_out));
    REQUIRE_OK(odconv_layer_destroy(gpu));
    free(input);
    free(output);
    free(expected);
    free_case(&t);
}

int main(int argc, char **argv) {
    /* ODCONV_REQUIRE_CUDA=1 (the GPU check) turns "no usable GPU" from a skip into a failure. */
    const char *required = getenv("ODCONV_REQUIRE_CUDA");
    const int unusable = required != NULL && strcmp(required, "1") == 0 ? 1 : SKIP;
    int32_t count = 0;
    const odconv_status status = odconv_device_count(ODCONV_DEVICE_CUDA, &count);
    if (status != ODCONV_STATUS_SUCCESS) {
        printf("%s: no usable CUDA backend: %s: %s\n", unusable == SKIP ? "skipped" : "FAILED",
               odconv_status_string(status), odconv_last_error_message());
        return unusable;
    }
    if (count == 0) {
        printf("%s: the CUDA driver reports no device\n", unusable == SKIP ? "skipped" : "FAILED");
        return unusable;
    }
    char description[256];
    REQUIRE_OK(odconv_device_describe(ODCONV_DEVICE_CUDA, 0, description, sizeof description));
    printf("CUDA device 0: %s\n", description);

    odconv_stream_t stream = NULL;
    REQUIRE_OK(odconv_stream_create(&stream, ODCONV_DEVICE_CUDA, 0));
    check_refusals();
    check_graphs_across_growth();

    /* Hand-picked, YOLO-like layers: a 3x3 ODConv with BatchNorm and SiLU, a strided one, grouped,
     * depthwise, pointwise; the last has an attention 96 wide, past the width the attention kernel computes
     * a head row per thread, so its row-per-warp path runs too. */
    const struct { int in, out, k, stride, groups, kernel_num, batch, size; double reduction; } golden[] = {
        {16, 32, 3, 1, 1, 4, 2, 20, 0.0625}, {32, 64, 3, 2, 1, 4, 3, 17, 0.0625}, {32, 32, 3, 1, 4, 2, 2, 16, 0.0625},
        {24, 24, 3, 1, 24, 1, 4, 15, 0.0625}, {64, 32, 1, 1, 1, 4, 5, 13, 0.0625}, {3, 16, 5, 2, 1, 2, 1, 31, 0.0625},
        {96, 48, 3, 1, 1, 2, 2, 12, 1.0},
    };
    for (size_t g = 0; g < sizeof golden / sizeof golden[0]; ++g) {
        test_case t;
        memset(&t, 0, sizeof t);
        t.config = base_config(golden[g].in, golden[g].out, golden[g].k, golden[g].stride, golden[g].groups,
                               golden[g].kernel_num);
        t.config.reduction = golden[g].reduction;
        t.batch = golden[g].batch;
        t.height = t.width = golden[g].size;
        t.weights = random_weights(&t.config);
        for (int layout = 0; layout < 2; ++layout) {
            run_case("golden", &t, layout, (g % 2) ? stream : NULL);
            run_static_case(&t, layout);
        }
        free_case(&t);
    }

    const int cases = argc > 1 ? atoi(argv[1]) : 200;
    for (int i = 0; i < cases; ++i) {
        test_case t = random_case();
        char name[32];
        snprintf(name, sizeof name, "random %d", i);
        run_case(name, &t, i % 2, (i % 3 == 0) ? stream : NULL);
        if (i % 10 == 0) run_static_case(&t, (i / 10) % 2);
        free_case(&t);
    }
    REQUIRE_OK(odconv_stream_destroy(stream));
    printf("%d hand-picked and %d random configurations: %d failures\n",
           (int)(sizeof golden / sizeof golden[0]), cases, failures);
    return failures == 0 ? 0 : 1;
}
