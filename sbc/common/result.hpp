// result<T>: a value or the reason there is none.
//
// Run-time control code returns these instead of throwing (STYLE.md, Errors):
// untrusted input produces an error value that the caller turns into a SIP
// response or a log line. C++23's std::expected would do; g++ 12 lacks it.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace sbc {

struct error {
    std::string message;
};

template <typename T>
class [[nodiscard]] result {
public:
    result(T value) : _v(std::in_place_index<0>, std::move(value)) {}
    result(error e) : _v(std::in_place_index<1>, std::move(e)) {}

    bool ok() const noexcept { return _v.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & { return std::get<0>(_v); }
    const T& value() const& { return std::get<0>(_v); }
    T&& value() && { return std::get<0>(std::move(_v)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const std::string& error_message() const { return std::get<1>(_v).message; }

private:
    std::variant<T, error> _v;
};

inline error make_error(std::string message) { return error{std::move(message)}; }

}  // namespace sbc
