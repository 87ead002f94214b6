// The C entry points of odconv.h: argument checks that do not depend on the backend, exception-to-status
// translation and the thread-local error message. Backends are reached through backends.hpp only.
#include <algorithm>
#include <cstring>
#include <new>
#include <string>

#include "arguments.hpp"
#include "backends.hpp"
#include "config.hpp"
#include "errors.hpp"
#include "layer.hpp"
#include "parameters.hpp"

namespace odconv {
namespace {

thread_local std::string last_error;

void require_allocation_size(int64_t bytes) {
    constexpr int64_t kMaxBytes = kMaxElements * int64_t(sizeof(float));
    if (bytes < 1 || bytes > kMaxBytes) invalid_argument("bytes = ", bytes, " is out of range [1, ", kMaxBytes, "]");
}

// The output size of a valid configuration for an input size; both outputs are written on success only.
void write_output_shape(const odconv_config_t &c, int64_t height, int64_t width, int64_t *out_height,
                        int64_t *out_width) {
    require_non_null(out_height, "out_height");
    require_non_null(out_width, "out_width");
    const int64_t h = output_extent(c, height, "height");
    const int64_t w = output_extent(c, width, "width");
    *out_height = h;
    *out_width = w;
}

void require_copy_kind(int32_t kind) {
    if (kind != ODCONV_COPY_HOST_TO_DEVICE && kind != ODCONV_COPY_DEVICE_TO_HOST && kind != ODCONV_COPY_DEVICE_TO_DEVICE)
        invalid_argument("kind = ", kind,
                         " is not an odconv_copy_kind (0 = host to device, 1 = device to host, 2 = device to device)");
}

}  // namespace

void set_last_error(const std::string &message) noexcept {
    try {
        last_error = message;
    } catch (...) {
        last_error.clear();  // Out of memory while reporting: an empty message beats none.
    }
}

odconv_status status_from_current_exception() noexcept {
    try {
        throw;
    } catch (const Error &e) {
        set_last_error(e.what());
        return e.status();
    } catch (const std::bad_alloc &) {
        set_last_error("out of memory");
        return ODCONV_STATUS_OUT_OF_MEMORY;
    } catch (const std::exception &e) {
        set_last_error(std::string("internal error: ") + e.what());
        return ODCONV_STATUS_INTERNAL_ERROR;
    } catch (...) {
        set_last_error("internal error: unknown exception");
        return ODCONV_STATUS_INTERNAL_ERROR;
    }
}

}  // namespace odconv

using odconv::guard;
using odconv::invalid_argument;
using odconv::require_non_null;

struct odconv_stream {
    int32_t device_type;
    int32_t device_index;
    std::unique_ptr<odconv::Stream> impl;
};

extern "C" {

uint32_t odconv_version(void) {
    return ODCONV_VERSION_MAJOR * 10000 + ODCONV_VERSION_MINOR * 100 + ODCONV_VERSION_PATCH;
}

const char *odconv_status_string(odconv_status status) {
    switch (status) {
        case ODCONV_STATUS_SUCCESS: return "success";
        case ODCONV_STATUS_INVALID_ARGUMENT: return "invalid argument";
        case ODCONV_STATUS_OUT_OF_MEMORY: return "out of memory";
        case ODCONV_STATUS_UNSUPPORTED: return "unsupported";
        case ODCONV_STATUS_BACKEND_ERROR: return "backend error";
        case ODCONV_STATUS_INTERNAL_ERROR: return "internal error";
        case ODCONV_STATUS_DEVICE_UNAVAILABLE: return "device unavailable";
    }
    return "unknown status";
}

const char *odconv_last_error_message(void) { return odconv::last_error.c_str(); }

odconv_status odconv_config_validate(const odconv_config_t *config) {
    return guard([&] {
        require_non_null(config, "config");
        odconv::validate_config(*config);
    });
}

odconv_status odconv_config_attention_channels(const odconv_config_t *config, int32_t *attention_channels) {
    return guard([&] {
        require_non_null(config, "config");
        require_non_null(attention_channels, "attention_channels");
        odconv::validate_config(*config);
        *attention_channels = odconv::attention_channels(*config);
    });
}

odconv_status odconv_config_output_shape(const odconv_config_t *config, int64_t height, int64_t width,
                                         int64_t *out_height, int64_t *out_width) {
    return guard([&] {
        require_non_null(config, "config");
        odconv::validate_config(*config);
        odconv::write_output_shape(*config, height, width, out_height, out_width);
    });
}

int32_t odconv_parameter_count(void) { return odconv::kParameterCount; }

const char *odconv_parameter_name(int32_t index) {
    return index >= 0 && index < odconv::kParameterCount ? odconv::kParameters[index].name : nullptr;
}

odconv_status odconv_config_parameter_shape(const odconv_config_t *config, int32_t index, int32_t *rank,
                                            int64_t *dims) {
    return guard([&] {
        require_non_null(config, "config");
        require_non_null(rank, "rank");
        require_non_null(dims, "dims");
        if (index < 0 || index >= odconv::kParameterCount)
            invalid_argument("index = ", index, " is out of range [0, ", odconv::kParameterCount - 1, "]");
        odconv::validate_config(*config);
        const odconv::ParameterShape shape = odconv::kParameters[index].shape(*config);
        std::copy(shape.dims, shape.dims + shape.rank, dims);
        *rank = shape.rank;
    });
}

odconv_status odconv_layer_create(odconv_layer_t *layer, const odconv_config_t *config,
                                  const odconv_weights_t *weights, odconv_device_type device_type,
                                  int32_t device_index, uint32_t flags) {
    if (layer != nullptr) *layer = nullptr;
    return guard([&] {
        require_non_null(layer, "layer");
        require_non_null(config, "config");
        require_non_null(weights, "weights");
        odconv::require_flags(flags);
        odconv::validate_config(*config);
        odconv::validate_weights(*config, *weights);
        auto &backend = odconv::backend_for_flags(device_type, device_index, flags);
        auto created = std::make_unique<odconv_layer>();
        created->config = *config;
        created->device_type = device_type;
        created->device_index = device_index;
        created->impl = backend.create_layer(*config, *weights, device_index, flags);
        *layer = created.release();
    });
}

odconv_status odconv_device_supports_flags(odconv_device_type device_type, int32_t device_index, uint32_t flags) {
    return guard([&] {
        odconv::require_flags(flags);
        odconv::backend_for_flags(device_type, device_index, flags);
    });
}

odconv_status odconv_layer_device(odconv_layer_t layer, odconv_device_type *device_type, int32_t *device_index) {
    return guard([&] {
        require_non_null(layer, "layer");
        require_non_null(device_type, "device_type");
        require_non_null(device_index, "device_index");
        *device_type = static_cast<odconv_device_type>(layer->device_type);
        *device_index = layer->device_index;
    });
}

odconv_status odconv_layer_destroy(odconv_layer_t layer) {
    return guard([&] { delete layer; });
}

odconv_status odconv_layer_set_num_threads(odconv_layer_t layer, int32_t num_threads) {
    return guard([&] {
        require_non_null(layer, "layer");
        odconv::check_thread_count(num_threads);
        layer->impl->set_num_threads(num_threads);
    });
}

odconv_status odconv_layer_output_shape(odconv_layer_t layer, int64_t height, int64_t width, int64_t *out_height,
                                        int64_t *out_width) {
    return guard([&] {
        require_non_null(layer, "layer");
        odconv::write_output_shape(layer->config, height, width, out_height, out_width);
    });
}

odconv_status odconv_layer_forward(odconv_layer_t layer, int64_t batch, int64_t height, int64_t width,
                                   odconv_layout layout, const float *input, float *output) {
    return guard([&] {
        require_non_null(layer, "layer");
        odconv::validate_forward(layer->config, batch, height, width, layout, input, output);
        layer->impl->forward(batch, height, width, layout, input, output);
    });
}

odconv_status odconv_layer_forward_on_pool(odconv_layer_t layer, const odconv_thread_pool_t *pool, int64_t batch,
                                          int64_t height, int64_t width, odconv_layout layout, const float *input,
                                          float *output) {
    return guard([&] {
        require_non_null(layer, "layer");
        require_non_null(pool, "pool");
        if (pool->parallel_for == nullptr) invalid_argument("pool->parallel_for is NULL");
        if (pool->threads < 1) invalid_argument("pool->threads = ", pool->threads, " must be >= 1");
        odconv::check_thread_count(pool->threads);
        odconv::validate_forward(layer->config, batch, height, width, layout, input, output);
        layer->impl->forward_on_pool(*pool, batch, height, width, layout, input, output);
    });
}

odconv_status odconv_layer_forward_async(odconv_layer_t layer, odconv_stream_t stream, int64_t batch, int64_t height,
                                         int64_t width, odconv_layout layout, const float *input, float *output) {
    return guard([&] {
        require_non_null(layer, "layer");
        require_non_null(stream, "stream");
        if (stream->device_type != layer->device_type || stream->device_index != layer->device_index)
            invalid_argument("the stream belongs to device (type ", stream->device_type, ", index ",
                             stream->device_index, "), the layer to device (type ", layer->device_type, ", index ",
                             layer->device_index, ")");
        odconv::validate_forward(layer->config, batch, height, width, layout, input, output);
        layer->impl->forward_async(*stream->impl, batch, height, width, layout, input, output);
    });
}

odconv_status odconv_device_count(odconv_device_type device_type, int32_t *count) {
    return guard([&] {
        require_non_null(count, "count");
        *count = odconv::backend_for(device_type).device_count();
    });
}

odconv_status odconv_device_describe(odconv_device_type device_type, int32_t device_index, char *buffer,
                                     int64_t capacity) {
    return guard([&] {
        require_non_null(buffer, "buffer");
        if (capacity < 1) invalid_argument("capacity = ", capacity, " must be >= 1");
        const std::string text = odconv::backend_for_device(device_type, device_index).describe(device_index);
        const size_t length = std::min(text.size(), static_cast<size_t>(capacity - 1));
        std::memcpy(buffer, text.data(), length);
        buffer[length] = '\0';
    });
}

odconv_status odconv_device_alloc(odconv_device_type device_type, int32_t device_index, int64_t bytes, void **pointer) {
    if (pointer != nullptr) *pointer = nullptr;
    return guard([&] {
        require_non_null(pointer, "pointer");
        odconv::require_allocation_size(bytes);
        *pointer = odconv::backend_for_device(device_type, device_index).allocate(device_index, bytes);
    });
}

odconv_status odconv_device_free(odconv_device_type device_type, int32_t device_index, void *pointer) {
    return guard([&] {
        if (pointer == nullptr) return;
        odconv::backend_for_device(device_type, device_index).release(device_index, pointer);
    });
}

odconv_status odconv_host_alloc_pinned(int64_t bytes, void **pointer) {
    if (pointer != nullptr) *pointer = nullptr;
    return guard([&] {
        require_non_null(pointer, "pointer");
        odconv::require_allocation_size(bytes);
        *pointer = odconv::backend_for(ODCONV_DEVICE_CUDA).allocate_pinned(bytes);
    });
}

odconv_status odconv_host_free_pinned(void *pointer) {
    return guard([&] {
        if (pointer == nullptr) return;
        odconv::backend_for(ODCONV_DEVICE_CUDA).release_pinned(pointer);
    });
}

odconv_status odconv_stream_create(odconv_stream_t *stream, odconv_device_type device_type, int32_t device_index) {
    if (stream != nullptr) *stream = nullptr;
    return guard([&] {
        require_non_null(stream, "stream");
        auto &backend = odconv::backend_for_device(device_type, device_index);
        auto created = std::make_unique<odconv_stream>();
        created->device_type = device_type;
        created->device_index = device_index;
        created->impl = backend.create_stream(device_index);
        *stream = created.release();
    });
}

odconv_status odconv_stream_destroy(odconv_stream_t stream) {
    return guard([&] {
        // Deleted even when the wait reports an error from the stream's work; the error is still returned.
        std::unique_ptr<odconv_stream> owned(stream);
        if (owned) owned->impl->synchronize();
    });
}

odconv_status odconv_stream_synchronize(odconv_stream_t stream) {
    return guard([&] {
        require_non_null(stream, "stream");
        stream->impl->synchronize();
    });
}

odconv_status odconv_copy(void *dst, const void *src, int64_t bytes, odconv_copy_kind kind, odconv_stream_t stream) {
    return guard([&] {
        require_non_null(dst, "dst");
        require_non_null(src, "src");
        odconv::require_copy_kind(kind);
        if (bytes < 0) invalid_argument("bytes = ", bytes, " must be >= 0");
        const auto *src_begin = static_cast<const char *>(src);
        const auto *dst_begin = static_cast<const char *>(dst);
        if (kind == ODCONV_COPY_DEVICE_TO_DEVICE && src_begin < dst_begin + bytes && dst_begin < src_begin + bytes)
            invalid_argument("src and dst overlap");
        auto &backend = odconv::backend_for(stream != nullptr ? stream->device_type : int32_t(ODCONV_DEVICE_CUDA));
        if (bytes == 0) return;
        backend.copy(dst, src, bytes, kind, stream != nullptr ? stream->impl.get() : nullptr);
    });
}

}  // extern "C"

