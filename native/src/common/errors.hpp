// Status and error plumbing shared by every backend: C++ code throws odconv::Error (or lets a library
// exception escape), and guard() turns whatever was thrown into a status plus the thread-local message,
// so that no exception crosses the C boundary.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "odconv.h"

namespace odconv {

// Visible so that a backend library's throw is caught by type in api.cpp.
class __attribute__((visibility("default"))) Error : public std::runtime_error {
public:
    Error(odconv_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
    odconv_status status() const noexcept { return status_; }

private:
    odconv_status status_;
};

// Builds a message from streamable parts: fail(ODCONV_STATUS_INVALID_ARGUMENT, "groups ", g, " must ...").
template <typename... Parts>
[[noreturn]] void fail(odconv_status status, Parts &&...parts) {
    std::ostringstream message;
    (message << ... << std::forward<Parts>(parts));
    throw Error(status, message.str());
}

template <typename... Parts>
[[noreturn]] void invalid_argument(Parts &&...parts) {
    fail(ODCONV_STATUS_INVALID_ARGUMENT, std::forward<Parts>(parts)...);
}

void set_last_error(const std::string &message) noexcept;

// Translates a thrown exception into a status; defined in api.cpp beside the backend's exception types.
odconv_status status_from_current_exception() noexcept;

// Runs body, mapping any exception to a status and the thread's last-error message.
template <typename Body>
odconv_status guard(Body &&body) noexcept {
    try {
        body();
        return ODCONV_STATUS_SUCCESS;
    } catch (...) {
        return status_from_current_exception();
    }
}

}  // namespace odconv
