#include "sbc/sofia/runtime.hpp"

#include <sofia-sip/su_log.h>

#include <cstdlib>
#include <stdexcept>

// Exported by libsofia-sip-ua but not declared in its public headers.
extern "C" su_log_t tport_log[];

namespace sbc::sofia {

runtime::runtime() {
    if (su_init() != 0) {
        throw std::runtime_error("sofia-sip: su_init failed");
    }
    if (std::getenv("TPORT_DEBUG") == nullptr) {
        // The transport layer writes one unprefixed line per failed TLS
        // handshake, which a peer could use to flood the log; sbc/tls logs
        // those itself, rate-limited. TPORT_DEBUG=N brings them back.
        su_log_set_level(tport_log, 0);
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
