// An owning file descriptor: closed exactly once, when its owner goes away.
//
// Sockets, epoll sets and eventfds of the control API, sbcctl and the kernel
// data plane all live in one, so no error path can leak a descriptor.
// Header-only, so the data plane can use it without linking sbc code.
#pragma once

#include <unistd.h>

#include <utility>

namespace sbc {

class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : _fd(fd) {}
    ~unique_fd() { reset(); }

    unique_fd(unique_fd&& other) noexcept : _fd(other.release()) {}
    unique_fd& operator=(unique_fd&& other) noexcept {
        if (this != &other) {
            reset(other.release());
        }
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;

    int get() const noexcept { return _fd; }
    explicit operator bool() const noexcept { return _fd >= 0; }

    /// Gives the descriptor up without closing it.
    int release() noexcept { return std::exchange(_fd, -1); }

    /// Closes the descriptor held (if any) and takes `fd` instead. close()'s
    /// error is ignored: on Linux the descriptor is gone either way.
    void reset(int fd = -1) noexcept {
        if (_fd >= 0) {
            ::close(_fd);
        }
        _fd = fd;
    }

private:
    int _fd = -1;
};

}  // namespace sbc
