/* odconv_layer_forward_on_pool runs on the caller's pool and starts no OpenMP team of its own (c-abi.md), also on
 * a layer whose plans an OpenMP forward made first: oneDNN sizes a primitive's team when it creates it, so a plan
 * made under another thread count than its own started a team inside every pool task (oversubscribing the
 * caller's pool, as two runtimes' pools spinning against each other do).
 *
 * This executable exports GOMP_parallel, so that the calls of libodconv and oneDNN to libgomp's reach it first: it
 * counts the teams of more than one thread that are asked for, and passes each call on. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "odconv.h"

static atomic_int teams_asked;

void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags) {
    typedef void (*gomp_parallel_fn)(void (*)(void *), void *, unsigned, unsigned);
    static gomp_parallel_fn real;
    if (real == NULL) real = (gomp_parallel_fn)dlsym(RTLD_NEXT, "GOMP_parallel");
    if (num_threads != 1) ++teams_asked;  /* 0: the default team size */
    real(fn, data, num_threads, flags);
}

static void serial(void *pool_context, odconv_task_fn task, void *task_context, size_t count) {
    (void)pool_context;
    for (size_t i = 0; i < count; ++i) task(task_context, i);
}

int main(void) {
    CHECK(getenv("OMP_NUM_THREADS") != NULL && atoi(getenv("OMP_NUM_THREADS")) >= 2,
          "run with OMP_NUM_THREADS of 2 or more (CTest sets it), so that OpenMP forwards use a team");
    odconv_config_t c = default_config(32, 32, 3);
    c.kernel_num = 2;
    odconv_weights_t w = random_weights(&c);
    const int64_t h = 28, width = 28;
    float *x = random_buffer(2 * 32 * h * width, -1, 1), *y = calloc(2 * 32 * h * width, sizeof(float));
    for (int32_t layout = ODCONV_LAYOUT_NCHW; layout <= ODCONV_LAYOUT_NHWC; ++layout) {
        odconv_layer_t layer = NULL;
        REQUIRE_OK(odconv_layer_create(&layer, &c, &w, ODCONV_DEVICE_CPU, 0, 0));
        teams_asked = 0;
        REQUIRE_OK(odconv_layer_forward(layer, 2, h, width, layout, x, y));  /* OpenMP: whole samples per thread */
        CHECK(teams_asked > 0, "layout %d: the OpenMP forward asked for no team (is GOMP_parallel interposed?)", layout);
        const odconv_thread_pool_t one = {serial, NULL, 1}, two = {serial, NULL, 2};
        teams_asked = 0;
        REQUIRE_OK(odconv_layer_forward_on_pool(layer, &one, 1, h, width, layout, x, y));
        CHECK(teams_asked == 0, "layout %d, a pool of 1: %d OpenMP teams", layout, (int)teams_asked);
        teams_asked = 0;
        REQUIRE_OK(odconv_layer_forward_on_pool(layer, &two, 2, h, width, layout, x, y));
        CHECK(teams_asked == 0, "layout %d, a pool of 2, whole samples: %d OpenMP teams", layout, (int)teams_asked);
        odconv_layer_destroy(layer);
    }
    free(x);
    free(y);
    free_weights(&w);
    return finish();
}
