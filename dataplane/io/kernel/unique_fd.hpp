// An owning file descriptor for the kernel backend's sockets, epoll sets and
// eventfds: closed exactly once, by whoever holds it last. (The data plane
// stands alone, so it does not borrow the control plane's wrapper.)
#pragma once

#include <unistd.h>

#include <utility>

namespace sbc::dataplane::kernel {

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

    int release() noexcept { return std::exchange(_fd, -1); }

    /// close()'s error is ignored: on Linux the descriptor is gone either way.
    void reset(int fd = -1) noexcept {
        if (_fd >= 0) {
            ::close(_fd);
        }
        _fd = fd;
    }

private:
    int _fd = -1;
};

}  // namespace sbc::dataplane::kernel
