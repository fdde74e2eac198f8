// Owning handles for C library objects.
//
// Every C handle (sofia, OpenSSL, libsrtp, opus, bcg729, ...) lives in one of
// these at the edge of the module that owns it; the rest of the code sees a
// C++ type with a destructor.
#pragma once

#include <memory>

namespace sbc {

template <auto Fn>
struct c_deleter {
    template <typename T>
    void operator()(T* p) const noexcept {
        if (p != nullptr) {
            Fn(p);
        }
    }
};

template <typename T, auto Fn>
using c_handle = std::unique_ptr<T, c_deleter<Fn>>;

}  // namespace sbc
