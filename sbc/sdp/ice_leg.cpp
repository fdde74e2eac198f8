// ice_leg: the credential lifetime rules of RFC 8839 4.4 on one leg.
#include "sbc/sdp/ice_leg.hpp"

#include "dataplane/srtp/stream_crypto.hpp"

namespace sbc::sdp {

ice_leg::ice_leg(config::ice_mode mode, random_source random)
    : _mode(mode), _random(random != nullptr ? random : &dataplane::srtp::random_fill) {}

std::optional<ice_attributes> ice_leg::make_offer() {
    if (_mode == config::ice_mode::off) {
        return std::nullopt;
    }
    _proposed.reset();
    if (!_local) {
        _local = make_ice_credentials(_random);
        if (!_local) {
            return std::nullopt;
        }
    }
    _in_use = true;
    return _local;
}

void ice_leg::accept_answer(const std::optional<ice_attributes>& peer) {
    if (_mode == config::ice_mode::off || !_local) {
        return;
    }
    // RFC 8839 4.4.1.2.1 (seen from the offerer): an answer without ICE
    // attributes means the peer does not do ICE.
    _peer = peer;
    _in_use = peer.has_value();
}

void ice_leg::accept_offer(const std::optional<ice_attributes>& peer) {
    if (_mode == config::ice_mode::off) {
        return;
    }
    // RFC 8839 4.4.1.1.1: an offer that changes ice-ufrag or ice-pwd
    // restarts ICE; one that restates them does not.
    const bool restart = peer && _peer && *peer != *_peer;
    _proposed = proposal{peer, restart};
}

std::optional<ice_attributes> ice_leg::answer() {
    if (_mode == config::ice_mode::off) {
        return std::nullopt;
    }
    if (_proposed) {
        auto p = std::move(*_proposed);
        _proposed.reset();
        if (p.restart) {
            // RFC 8445 9 (and 9.1 for a lite agent): new credentials of
            // the SBC's answer the restart; checks with the old ones fail.
            _local.reset();
            ++_restarts;
        }
        if (p.peer && !_local) {
            _local = make_ice_credentials(_random);
        }
        _peer = p.peer;
        _in_use = p.peer.has_value() && _local.has_value();
    }
    if (!_in_use) {
        return std::nullopt;  // RFC 8839: the offer had no ICE, so neither has the answer
    }
    return _local;
}

void ice_leg::restore(std::optional<ice_attributes> local, std::optional<ice_attributes> peer,
                      bool in_use) {
    _proposed.reset();
    _local = std::move(local);
    _peer = std::move(peer);
    _in_use = in_use && _local.has_value();
}

std::optional<dataplane::ice_credentials> ice_leg::credentials() const {
    if (!_in_use || !_local) {
        return std::nullopt;
    }
    return dataplane::ice_credentials{_local->ufrag, _local->pwd, _peer ? _peer->ufrag : ""};
}

}  // namespace sbc::sdp
