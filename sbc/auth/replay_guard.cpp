#include "sbc/auth/replay_guard.hpp"

namespace sbc::auth {

replay_guard::replay_guard(std::chrono::seconds lifetime, std::size_t capacity)
    : _lifetime(lifetime), _capacity(capacity) {}

void replay_guard::forget_expired(clock::time_point now) {
    std::erase_if(_seen, [&](const auto& kv) { return now - kv.second.last_use >= _lifetime; });
}

bool replay_guard::accept(std::string_view nonce, std::uint32_t nc, clock::time_point now) {
    auto it = _seen.find(std::string(nonce));
    if (it == _seen.end()) {
        if (_seen.size() >= _capacity) {
            forget_expired(now);
            if (_seen.size() >= _capacity) {
                return false;
            }
        }
        it = _seen.emplace(std::string(nonce), entry{}).first;
    } else if (nc == 0 ? it->second.used_without_count : nc <= it->second.nc) {
        return false;
    }
    if (nc == 0) {
        it->second.used_without_count = true;
    } else {
        it->second.nc = nc;
    }
    it->second.last_use = now;
    return true;
}

}  // namespace sbc::auth
