#include "sbc/sofia/runtime.hpp"

#include <stdexcept>

namespace sbc::sofia {

runtime::runtime() {
    if (su_init() != 0) {
        throw std::runtime_error("sofia-sip: su_init failed");
    }
    su_home_init(_home);
    _root = su_root_create(nullptr);
    if (_root == nullptr) {
        su_home_deinit(_home);
        su_deinit();
        throw std::runtime_error("sofia-sip: cannot create the event loop (su_root)");
    }
}

runtime::~runtime() {
    su_root_destroy(_root);
    su_home_deinit(_home);
    su_deinit();
}

void runtime::run() noexcept { su_root_run(_root); }

void runtime::stop() noexcept { su_root_break(_root); }

}  // namespace sbc::sofia
