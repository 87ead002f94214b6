#include "backends.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <mutex>
#include <string>

#include "errors.hpp"

namespace odconv {
namespace {

struct Opened {
    DeviceBackend *backend = nullptr;
    std::string error;
};

// How to open the backend of one device type.
struct BackendSource {
    const char *device_name;            // "CPU", "CUDA": for messages
    const char *library_file;           // a backend in a library of its own, next to libodconv.so; or nullptr
    const char *library_path_variable;  // environment variable that overrides where that library is
    const char *entry_point;            // the BackendEntryPoint symbol that library exports
    BackendEntryPoint linked = nullptr; // a backend inside libodconv.so, once registered
};

// The outcome of opening a backend, once for the process.
struct Opening {
    std::once_flag once;
    Opened opened;
};

constexpr size_t kBackendCount = 2;  // odconv_device_type's values

// Indexed by odconv_device_type.
std::array<BackendSource, kBackendCount> &sources() {
    static std::array<BackendSource, kBackendCount> table{{
        {"CPU", nullptr, nullptr, nullptr},
        {"CUDA", "libodconv_cuda.so", "ODCONV_CUDA_BACKEND", "odconv_cuda_backend_open"},
    }};
    return table;
}

// The folder libodconv.so was loaded from, found through one of its own symbols.
std::string own_folder() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void *>(&odconv_version), &info) == 0 || info.dli_fname == nullptr) return ".";
    std::string path = info.dli_fname;
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

// The entry point of a backend in a library of its own, or the reason there is none.
BackendEntryPoint find_library_entry_point(const BackendSource &source, std::string &error) {
    const char *configured = std::getenv(source.library_path_variable);
    const bool is_configured = configured != nullptr && *configured != '\0';
    const std::string path = is_configured ? std::string(configured) : own_folder() + "/" + source.library_file;
    if (access(path.c_str(), F_OK) != 0) {
        error = path + " does not exist" +
                (is_configured ? std::string(" (from ") + source.library_path_variable + ")"
                               : std::string("; this build has no ") + source.device_name +
                                     " backend: build native/ with its toolkit, or point " +
                                     source.library_path_variable + " at " + source.library_file);
        return nullptr;
    }
    // Never unloaded: layers and streams may outlive any caller's interest in the backend.
    void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char *why = dlerror();
        error = "cannot load it: " + std::string(why ? why : path);
        return nullptr;
    }
    auto open = reinterpret_cast<BackendEntryPoint>(dlsym(handle, source.entry_point));
    if (open == nullptr) error = path + " does not export " + source.entry_point;
    return open;
}

Opened open_backend(const BackendSource &source) {
    Opened opened;
    BackendEntryPoint open = source.linked;
    if (open == nullptr && source.library_file != nullptr) open = find_library_entry_point(source, opened.error);
    else if (open == nullptr) opened.error = "not part of this build";
    if (open != nullptr) {
        char error[1024] = {0};
        opened.backend = open(kBackendInterfaceVersion, error, sizeof error);
        error[sizeof error - 1] = '\0';
        if (opened.backend == nullptr) opened.error = error;
    }
    if (opened.backend == nullptr) opened.error = source.device_name + std::string(" backend not available: ") + opened.error;
    return opened;
}

}  // namespace

bool register_linked_backend(odconv_device_type device_type, BackendEntryPoint open) {
    sources().at(static_cast<size_t>(device_type)).linked = open;
    return true;
}

DeviceBackend &backend_for(int32_t device_type) {
    static std::array<Opening, kBackendCount> openings;
    if (device_type < 0 || static_cast<size_t>(device_type) >= kBackendCount)
        invalid_argument("device_type = ", device_type, " is not an odconv_device_type (0 = CPU, 1 = CUDA)");
    const auto index = static_cast<size_t>(device_type);
    Opening &opening = openings[index];
    std::call_once(opening.once, [&opening, index] { opening.opened = open_backend(sources()[index]); });
    if (opening.opened.backend == nullptr) throw Error(ODCONV_STATUS_DEVICE_UNAVAILABLE, opening.opened.error);
    return *opening.opened.backend;
}

DeviceBackend &backend_for_device(int32_t device_type, int32_t device_index) {
    DeviceBackend &backend = backend_for(device_type);
    const int32_t count = backend.device_count();
    if (device_index < 0 || device_index >= count)
        invalid_argument("device_index = ", device_index, " is out of range: ",
                         device_type == ODCONV_DEVICE_CPU ? "the CPU is device 0" : "", count, " device",
                         count == 1 ? "" : "s", " of this type");
    return backend;
}

DeviceBackend &backend_for_flags(int32_t device_type, int32_t device_index, uint32_t flags) {
    DeviceBackend &backend = backend_for_device(device_type, device_index);
    if (auto reason = backend.unsupported_reason(device_index, flags)) fail(ODCONV_STATUS_UNSUPPORTED, *reason);
    return backend;
}

}  // namespace odconv
