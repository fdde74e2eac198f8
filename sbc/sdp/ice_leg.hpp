// The ICE-lite side of one call leg's offer/answer (RFC 8445 2.5, RFC 8839):
// which credentials the SBC states in its SDP on that leg, which of the
// peer's it takes, and the credentials the data plane checks with.
//
// The rules it keeps (RFC 8839 4.4):
// - a leg of an `ice: off` trunk never has ICE;
// - the SBC's credentials are made once per leg and stated again in every
//   later offer and answer (the 183 and the 200 answer with the same ones,
//   and so does a re-INVITE that is no restart);
// - an offer from the peer whose ufrag or pwd differ from those it stated
//   before is an ICE restart (RFC 8445 9, RFC 8839 4.4.1.1.1): the answer
//   carries new credentials of the SBC's;
// - an offer or answer from the peer without ICE attributes means ICE is
//   not used (RFC 8839 4.4.1.2.1): the answer carries none, and the data
//   plane is given none.
// What an offer from the peer proposes comes into force with the SBC's
// answer, as sdes_leg's keys do, so an offer that fails on the other leg
// (RFC 3264 8: the old session stays) changes nothing.
#pragma once

#include <optional>

#include "dataplane/api/ice_credentials.hpp"
#include "sbc/config/config.hpp"
#include "sbc/sdp/ice.hpp"

namespace sbc::sdp {

class ice_leg {
public:
    /// `random` defaults to dataplane::srtp::random_fill (OpenSSL's CSPRNG).
    explicit ice_leg(config::ice_mode mode, random_source random = nullptr);

    config::ice_mode mode() const noexcept { return _mode; }

    /// The SBC offers on this leg: its credentials (made on first use), or
    /// nullopt on an `off` trunk (or when no random bytes could be had).
    /// Checks may come before the answer does (RFC 8445 7.3), so from now
    /// on credentials() has them, with the peer's ufrag as it last was.
    std::optional<ice_attributes> make_offer();

    /// The peer answered make_offer(); `peer` is its a=ice-ufrag/ice-pwd,
    /// nullopt when its SDP had none (ICE not used).
    void accept_answer(const std::optional<ice_attributes>& peer);

    /// The peer offers, with `peer` as above. Only proposed until answer().
    void accept_offer(const std::optional<ice_attributes>& peer);

    /// The SBC's answer to the offer accept_offer() took: its credentials
    /// when the offer had ICE (new ones if it restarted), else nullopt.
    /// What the offer proposed comes into force.
    std::optional<ice_attributes> answer();

    /// The leg as another node had it (a call rebuilt from its state
    /// document): the SBC's credentials `local`, the peer's `peer` and
    /// whether checks are answered. Nothing proposed, no restart counted.
    void restore(std::optional<ice_attributes> local, std::optional<ice_attributes> peer,
                 bool in_use);

    /// What the data plane checks with: nullopt when ICE is not in use.
    std::optional<dataplane::ice_credentials> credentials() const;

    /// The SBC's credentials on the leg (stated or about to be), and the
    /// peer's last ones in force.
    const std::optional<ice_attributes>& local() const noexcept { return _local; }
    const std::optional<ice_attributes>& peer() const noexcept { return _peer; }
    /// Whether the SBC answers checks on the leg (credentials() is set).
    bool in_use() const noexcept { return _in_use; }
    /// ICE restarts the peer made so far.
    unsigned restarts() const noexcept { return _restarts; }

private:
    config::ice_mode _mode;
    random_source _random;
    std::optional<ice_attributes> _local;
    std::optional<ice_attributes> _peer;
    bool _in_use = false;
    unsigned _restarts = 0;
    /// accept_offer()'s outcome, until answer() puts it in force.
    struct proposal {
        std::optional<ice_attributes> peer;
        bool restart = false;
    };
    std::optional<proposal> _proposed;
};

}  // namespace sbc::sdp
