// Which backend serves a device type. Every backend is reached the same way: through a BackendEntryPoint
// (device_backend.hpp), opened once. A backend linked into libodconv.so (the CPU's) registers its entry
// point while the library loads; one in a library of its own (CUDA: libodconv_cuda.so) is found in that
// library, loaded on first use.
#pragma once

#include <cstdint>

#include "device_backend.hpp"

namespace odconv {

// Called by a backend linked into libodconv.so from a static initializer; returns true.
bool register_linked_backend(odconv_device_type device_type, BackendEntryPoint open);

// The backend for a device type, opening it if needed. Throws Error: INVALID_ARGUMENT for an unknown type,
// DEVICE_UNAVAILABLE (with the reason, which is kept) when the backend cannot be opened or used.
DeviceBackend &backend_for(int32_t device_type);

// backend_for plus a range check of device_index.
DeviceBackend &backend_for_device(int32_t device_type, int32_t device_index);

// backend_for_device, once it is known to run layers with these (valid) flags: ODCONV_STATUS_UNSUPPORTED
// with the backend's reason otherwise.
DeviceBackend &backend_for_flags(int32_t device_type, int32_t device_index, uint32_t flags);

}  // namespace odconv
