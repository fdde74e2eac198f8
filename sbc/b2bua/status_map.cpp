#include "sbc/b2bua/status_map.hpp"

namespace sbc::b2bua {

mapped_status map_final_status(int s) noexcept {
    if (s < 300) {
        return {s, true};
    }
    if (s < 400) {
        // A redirect's Contact names the other network's hosts (RFC 5853 3.1);
        // the SBC does not recurse on it, so the caller learns only that the
        // callee is not reachable now.
        return {480, false};
    }
    switch (s) {
        case 401:
        case 407:
            // Credentials belong to the SBC's own leg (RFC 3261 22); the
            // caller could never answer the challenge.
            return {403, false};
        case 420:
        case 421:
        case 422:
        case 423:
        case 481:
        case 482:
        case 483:
        case 494:
            // Extension, dialog and loop problems are per-hop facts of the
            // outbound leg, not something the caller can act on.
            return {500, false};
        case 503:
            // RFC 3261 16.7 step 6 (for proxies, and as sound for a B2BUA):
            // a 503 from beyond must not make the caller think the SBC itself
            // is overloaded.
            return {500, false};
        default:
            break;
    }
    if (s >= 700) {
        return {500, false};
    }
    return {s, true};
}

}  // namespace sbc::b2bua
