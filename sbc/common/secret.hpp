// Bytes that must not leak: SRTP master keys and salts on their way into a
// call's state document (b2bua/call_state.hpp), which a store encrypts
// before they leave the process.
//
// Unlike sdp::sdes_key, which guards the one copy a stream keeps, a secret
// is copyable, so that a call's state is an ordinary value a test can
// compare; every copy is wiped when it is destroyed or overwritten.
#pragma once

#include <string.h>  // explicit_bzero
#include <cstdint>

#include <vector>

namespace sbc {

class secret {
public:
    secret() = default;
    explicit secret(std::vector<std::uint8_t> bytes) : _bytes(std::move(bytes)) {}
    secret(const secret& o) : _bytes(o._bytes) {}
    secret(secret&& o) noexcept : _bytes(std::move(o._bytes)) { o.wipe(); }
    secret& operator=(const secret& o) {
        if (this != &o) {
            wipe();
            _bytes = o._bytes;
        }
        return *this;
    }
    secret& operator=(secret&& o) noexcept {
        if (this != &o) {
            wipe();
            _bytes = std::move(o._bytes);
            o.wipe();
        }
        return *this;
    }
    ~secret() { wipe(); }

    const std::vector<std::uint8_t>& bytes() const noexcept { return _bytes; }
    bool empty() const noexcept { return _bytes.empty(); }
    bool operator==(const secret& o) const noexcept { return _bytes == o._bytes; }

private:
    void wipe() noexcept {
        if (!_bytes.empty()) {
            explicit_bzero(_bytes.data(), _bytes.size());
        }
        _bytes.clear();
    }
    std::vector<std::uint8_t> _bytes;
};

}  // namespace sbc
