// Which backend serves a device type. The CPU backend is linked in; the CUDA backend is
// libodconv_cuda.so, loaded on first use.
#pragma once

#include <cstdint>

#include "device_backend.hpp"

namespace odconv {

// The backend for a device type, loading it if needed. Throws Error: INVALID_ARGUMENT for an unknown
// type, DEVICE_UNAVAILABLE (with the reason, cached) when the CUDA backend cannot be loaded or used.
DeviceBackend &backend_for(int32_t device_type);

// backend_for plus a range check of device_index.
DeviceBackend &backend_for_device(int32_t device_type, int32_t device_index);

}  // namespace odconv
