/*
 * libodconv.so loaded the way a JVM or Python's ctypes loads it: dlopen(RTLD_LOCAL), from a program that
 * does not link the C++ runtime itself. cuDNN 9 crashes in that setting, so asking for a CUDA device must
 * fail with ODCONV_STATUS_DEVICE_UNAVAILABLE naming the remedy, never crash. With the remedy applied
 * (libstdc++ loaded RTLD_GLOBAL first) the answer must not be that refusal: the device works, or fails for
 * another reason (no GPU, no driver, no cuDNN).
 *
 *   dlopen_local_test PATH_TO_LIBODCONV local|global
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "odconv.h"

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[2], "local") != 0 && strcmp(argv[2], "global") != 0)) {
        fprintf(stderr, "usage: %s PATH_TO_LIBODCONV local|global\n", argv[0]);
        return 2;
    }
    const int remedy = strcmp(argv[2], "global") == 0;
    if (remedy && dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL) == NULL) {
        fprintf(stderr, "cannot load libstdc++.so.6: %s\n", dlerror());
        return 1;
    }
    void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
        return 1;
    }
    odconv_status (*device_count)(int32_t, int32_t *) =
        (odconv_status(*)(int32_t, int32_t *))dlsym(library, "odconv_device_count");
    const char *(*last_error)(void) = (const char *(*)(void))dlsym(library, "odconv_last_error_message");
    if (device_count == NULL || last_error == NULL) {
        fprintf(stderr, "%s lacks odconv_device_count or odconv_last_error_message\n", argv[1]);
        return 1;
    }
    int32_t count = -1;
    const odconv_status status = device_count(ODCONV_DEVICE_CUDA, &count);
    const char *message = status == ODCONV_STATUS_SUCCESS ? "" : last_error();
    printf("%s: status %d, %d devices, \"%s\"\n", argv[2], (int)status, (int)count, message);
    const int refused_for_libstdcxx = status == ODCONV_STATUS_DEVICE_UNAVAILABLE && strstr(message, "libstdc++") != NULL;
    if (remedy ? refused_for_libstdcxx : !refused_for_libstdcxx) {
        fprintf(stderr, remedy ? "FAIL: refused although libstdc++ is global\n"
                               : "FAIL: expected the refusal that names libstdc++\n");
        return 1;
    }
    return 0;
}
