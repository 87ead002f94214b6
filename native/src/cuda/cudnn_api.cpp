#include "cudnn_api.hpp"

#include <dlfcn.h>

#include <cstdlib>

#include "../common/errors.hpp"

namespace odconv::cuda::cudnn {

std::string Api::version_string() const {
    return std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) + "." +
           std::to_string(version % 100);
}

bool load(Api &api, std::string &error) {
    const char *configured = std::getenv("ODCONV_CUDNN_LIBRARY");
    const std::string path = configured && *configured ? configured : "libcudnn.so.9";
    const std::string origin = configured && *configured ? " (from ODCONV_CUDNN_LIBRARY)" : "";
    // RTLD_LOCAL: cuDNN's symbols must not satisfy anyone else's lookups. Never closed: the backend lives
    // until the process exits.
    void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        const char *why = dlerror();
        error = "cuDNN 9 not available: dlopen(\"" + path + "\")" + origin + " failed: " + (why ? why : "unknown") +
                "; install cuDNN 9 for CUDA (e.g. pip install nvidia-cudnn-cu13) and put it on the loader path or "
                "set ODCONV_CUDNN_LIBRARY to the full path of libcudnn.so.9";
        return false;
    }
#define ODCONV_CUDNN_RESOLVE(type, symbol)                                                                   \
    api.symbol = reinterpret_cast<type>(dlsym(library, #symbol));                                            \
    if (api.symbol == nullptr) {                                                                             \
        error = "cuDNN at " + path + origin + " does not export " #symbol "; odconv needs cuDNN 9's legacy " \
                "convolution API";                                                                           \
        return false;                                                                                        \
    }
    ODCONV_CUDNN_FUNCTIONS(ODCONV_CUDNN_RESOLVE)
#undef ODCONV_CUDNN_RESOLVE
    api.version = api.cudnnGetVersion();
    // cuDNN 8 numbered versions major * 1000 + ..., so 8.9.7 is 8907: anything below 90000 is older than 9,
    // and its cudnnConvolutionFwdAlgoPerf_t and entry points are not the ones declared here.
    if (api.version < 90000) {
        error = "cuDNN at " + path + origin + " reports version " + std::to_string(api.version) +
                "; odconv needs cuDNN 9 or newer";
        return false;
    }
    return true;
}

void check(const Api &api, Status status, const char *call) {
    if (status == STATUS_SUCCESS) return;
    const char *text = api.cudnnGetErrorString ? api.cudnnGetErrorString(status) : nullptr;
    fail(ODCONV_STATUS_BACKEND_ERROR, "cuDNN: ", call, ": ", text ? text : "unknown error", " (status ",
         static_cast<int>(status), ")");
}

}  // namespace odconv::cuda::cudnn
