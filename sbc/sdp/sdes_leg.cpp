#include "sbc/sdp/sdes_leg.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "dataplane/srtp/stream_crypto.hpp"

namespace sbc::sdp {

namespace {

sdes_key copy_of(const sdes_key& k) { return sdes_key(k.bytes()); }

bool same_keys(const std::optional<srtp_keys>& x, const std::optional<srtp_keys>& y) {
    if (x.has_value() != y.has_value()) {
        return false;
    }
    return !x || (x->suite == y->suite && x->peer.bytes() == y->peer.bytes() &&
                  x->local.bytes() == y->local.bytes());
}

}  // namespace

sdes_leg::sdes_leg(config::srtp_mode mode, std::vector<srtp_suite> suites, key_source keys)
    : _mode(mode),
      _suites(std::move(suites)),
      _source(keys != nullptr ? keys : &dataplane::srtp::random_fill) {}

sdes_leg::~sdes_leg() = default;

bool sdes_leg::allowed(srtp_suite s) const noexcept {
    return std::find(_suites.begin(), _suites.end(), s) != _suites.end();
}

const sdes_key* sdes_leg::local_key(srtp_suite s) {
    for (const auto& [suite, key] : _local_keys) {
        if (suite == s) {
            return &key;
        }
    }
    // RFC 4568 6.1 / RFC 3711 9.2: a fresh random master key and salt.
    std::vector<std::uint8_t> bytes(key_salt_length(s));
    if (!_source(bytes)) {
        return nullptr;
    }
    _local_keys.emplace_back(s, sdes_key(std::move(bytes)));
    return &_local_keys.back().second;
}

void sdes_leg::drop_proposal() {
    _proposed.reset();
    _has_proposal = false;
}

void sdes_leg::set_keys(std::optional<srtp_keys> k) {
    if (!same_keys(_keys, k)) {
        _keys = std::move(k);
        ++_generation;
    }
}

result<local_crypto> sdes_leg::make_offer() {
    drop_proposal();
    local_crypto out;
    _offered.clear();
    _offered_secure_profile = _mode == config::srtp_mode::required;
    out.secure_profile = _offered_secure_profile;
    if (_mode == config::srtp_mode::off) {
        return out;
    }
    unsigned tag = 1;
    for (auto s : _suites) {
        const sdes_key* key = local_key(s);
        if (key == nullptr) {
            return make_error("the random generator failed: no SRTP key");
        }
        sdes_crypto line{tag, s, copy_of(*key)};
        out.crypto.push_back(format_crypto(line));
        _offered.push_back({tag, s});
        ++tag;
    }
    return out;
}

result<bool> sdes_leg::accept_answer(bool secure_profile, const std::vector<std::string>& crypto) {
    if (secure_profile && !_offered_secure_profile && _offered.empty()) {
        return make_error("RTP/SAVP in the answer to an RTP/AVP offer without keys");
    }
    if (_mode == config::srtp_mode::off || crypto.empty()) {
        if (_mode == config::srtp_mode::required) {
            return make_error("the trunk requires SRTP and the answer has no a=crypto line");
        }
        set_keys(std::nullopt);
        return false;
    }
    // RFC 4568 7.1.3: exactly one line, answering one of ours by its tag.
    auto parsed = parse_crypto(crypto.front());
    if (!parsed) {
        return make_error(parsed.error_message());
    }
    auto line = std::find_if(_offered.begin(), _offered.end(),
                             [&](const offered_line& o) { return o.tag == parsed->tag; });
    if (line == _offered.end() || line->suite != parsed->suite) {
        return make_error(
            fmt::format("a=crypto answer with tag {} and suite {} answers no offered line",
                        parsed->tag, config::to_string(parsed->suite)));
    }
    const sdes_key* local = local_key(line->suite);
    if (local == nullptr) {
        return make_error("the random generator failed: no SRTP key");
    }
    set_keys(srtp_keys{line->suite, std::move(parsed->key), copy_of(*local)});
    return true;
}

result<bool> sdes_leg::accept_offer(bool secure_profile, const std::vector<std::string>& crypto) {
    drop_proposal();
    _answer_secure_profile = secure_profile;
    _answer_line.reset();
    if (_mode == config::srtp_mode::off) {
        if (secure_profile) {
            return make_error("RTP/SAVP offered on a trunk with srtp: off");
        }
        propose(std::nullopt);  // RFC 4568 7.1.2: a=crypto on RTP/AVP may be ignored
        return false;
    }
    std::string first_problem;
    for (const auto& value : crypto) {
        auto parsed = parse_crypto(value);
        if (!parsed) {
            if (first_problem.empty()) {
                first_problem = parsed.error_message();
            }
            continue;
        }
        if (!allowed(parsed->suite)) {
            if (first_problem.empty()) {
                first_problem = fmt::format("a=crypto: suite {} is not allowed on the trunk",
                                            config::to_string(parsed->suite));
            }
            continue;
        }
        const sdes_key* local = local_key(parsed->suite);
        if (local == nullptr) {
            return make_error("the random generator failed: no SRTP key");
        }
        _answer_line = offered_line{parsed->tag, parsed->suite};
        propose(srtp_keys{parsed->suite, std::move(parsed->key), copy_of(*local)});
        return true;
    }
    if (_mode == config::srtp_mode::required || secure_profile) {
        return make_error(
            first_problem.empty()
                ? std::string("the trunk requires SRTP and the offer has no a=crypto line")
                : "no usable a=crypto line; the first: " + first_problem);
    }
    propose(std::nullopt);
    return false;
}

void sdes_leg::restore(srtp_keys keys) {
    drop_proposal();
    _local_keys.clear();
    _local_keys.emplace_back(keys.suite, copy_of(keys.local));
    // What the SBC stated last on the leg is gone with the other node; an
    // answer can only come to an offer this node makes (make_offer).
    _offered.clear();
    _answer_line.reset();
    set_keys(std::move(keys));
}

void sdes_leg::propose(std::optional<srtp_keys> k) {
    _proposed = std::move(k);
    _has_proposal = true;
}

local_crypto sdes_leg::answer() {
    if (_has_proposal) {
        set_keys(std::move(_proposed));
        _proposed.reset();
        _has_proposal = false;
    }
    local_crypto out;
    out.secure_profile = _answer_secure_profile;
    _offered.clear();
    _offered_secure_profile = _answer_secure_profile;
    if (_answer_line && _keys) {
        sdes_crypto line{_answer_line->tag, _answer_line->suite, copy_of(_keys->local)};
        out.crypto.push_back(format_crypto(line));
        _offered.push_back(*_answer_line);
    }
    return out;
}

}  // namespace sbc::sdp
