// A file descriptor the su_root loop waits on, as RAII: registered on
// construction, deregistered on destruction. For descriptors that other
// parts of sbcd own and whose readiness needs the control thread at once
// (the media engine's wake_fd()), where a timer would make them wait.
//
// Control thread only (the su_root's). The descriptor must stay open while
// the watch lives; `on_readable` must consume what made it readable, as the
// loop waits level-triggered and would call it again at once.
#pragma once

#include <functional>

struct su_root_s;
typedef struct su_root_s su_root_t;

namespace sbc::sofia {

class fd_watch {
public:
    /// Throws std::system_error when sofia refuses the registration.
    fd_watch(su_root_t* root, int fd, std::function<void()> on_readable);
    ~fd_watch();
    fd_watch(const fd_watch&) = delete;
    fd_watch& operator=(const fd_watch&) = delete;

    /// Called by the loop's trampoline; not for other callers.
    void readable() noexcept;

private:
    su_root_t* _root;
    std::function<void()> _on_readable;
    int _index = -1;  ///< su_root's registration
};

}  // namespace sbc::sofia
