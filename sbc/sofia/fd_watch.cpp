#include "sbc/sofia/fd_watch.hpp"

#include <cerrno>
#include <exception>
#include <system_error>
#include <utility>

#include "sbc/common/log.hpp"

#include <sofia-sip/su_wait.h>

namespace sbc::sofia {

namespace {

constexpr sbc::log::logger loop_log{"sofia"};

// C trampoline: no logic, and nothing may escape into sofia's C frames.
// The argument stays void* (no typed SU_WAKEUP_ARG_T): other files of this
// library include su_wait.h, and a unity build puts them first.
int on_readable(su_root_magic_t*, su_wait_t*, su_wakeup_arg_t* arg) {
    static_cast<fd_watch*>(arg)->readable();
    return 0;
}

}  // namespace

fd_watch::fd_watch(su_root_t* root, int fd, std::function<void()> on_readable_fn)
    : _root(root), _on_readable(std::move(on_readable_fn)) {
    su_wait_t wait{};
    if (su_wait_create(&wait, fd, SU_WAIT_IN) != 0) {
        throw std::system_error(errno, std::generic_category(), "su_wait_create");
    }
    _index = su_root_register(root, &wait, on_readable, this, 0);
    if (_index < 0) {
        const int error = errno;
        su_wait_destroy(&wait);
        throw std::system_error(error, std::generic_category(), "su_root_register");
    }
}

fd_watch::~fd_watch() {
    if (_index >= 0) {
        su_root_deregister(_root, _index);
    }
}

void fd_watch::readable() noexcept {
    try {
        _on_readable();
    } catch (const std::exception& e) {
        loop_log.error("handling a readable descriptor: {}", e.what());
    }
}

}  // namespace sbc::sofia
