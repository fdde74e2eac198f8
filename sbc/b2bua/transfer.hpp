// A transfer by REFER (RFC 3515) that the SBC carries out itself: blind, to
// a target routed like a call from the referrer's trunk, or attended (RFC
// 3891 Replaces in the Refer-To), taking over the far end of another call.
// Either way the SBC sends an INVITE on a dialog towards the target and,
// when the target answers, puts that dialog in the referrer's place; the
// party that stays learns of it from a re-INVITE of the SBC's, never from
// the REFER (RFC 5853 topology hiding).
//
// Object graph: the call owns at most one call_transfer while it runs (from
// the REFER's acceptance to the target's final answer or the call's end).
// The transfer owns the dialog towards the target until it takes the
// referrer's place, that dialog's INVITE transaction, its SRTP keying and
// the call's offer/answer exchange (the hold). The back-pointer to the call
// is raw: the call outlives it. Retired dialogs and admission slots stay
// the call's. su_root thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/api/media_engine.hpp"
#include "sbc/b2bua/dialog.hpp"
#include "sbc/b2bua/offer_answer.hpp"
#include "sbc/b2bua/replaces.hpp"
#include "sbc/sdp/sdes_leg.hpp"
#include "sbc/sofia/auth_headers.hpp"
#include "sbc/sofia/client_transaction.hpp"

namespace sbc::b2bua {

class call;
class call_leg;

class call_transfer {
public:
    /// A REFER from leg `from`: refused (405) unless its trunk has refer:
    /// handle; otherwise a transfer starts, left in the call. Returns 0 when
    /// the REFER was answered here, else the status that refuses it.
    static int on_refer(call& c, call_leg& from, nta_incoming_t* irq, const sip_t* sip);

    call_transfer(call& owner, dataplane::side referrer, bool attended)
        : _call(owner), _referrer(referrer), _attended(attended) {}
    call_transfer(const call_transfer&) = delete;
    call_transfer& operator=(const call_transfer&) = delete;

    dataplane::side referrer() const noexcept { return _referrer; }
    /// The dialog towards the target (call_snapshot.cpp writes it out).
    const dialog& target() const noexcept { return _target; }
    bool attended() const noexcept { return _attended; }
    std::uint16_t media_port() const noexcept { return _media_port; }
    std::optional<bool> slot_inbound() const noexcept { return _slot_inbound; }

    /// The transfer ends without replacing the referrer: a ringing target
    /// is cancelled, the target's dialog closed (`dialog_up`: with a BYE)
    /// and retired, its slot given back. The call then drops it.
    void close(bool dialog_up);

private:
    /// A REFER whose Refer-To has no user part and names one of the
    /// referrer's own trunk's peers (Microsoft's proxies: `sip:PROXY;x-m=
    /// TARGET;x-t=TENANT`): the new call goes back to that trunk with the
    /// Refer-To URI as its Request-URI and the REFER's Referred-By.
    static int on_trunk_refer(call& c, call_leg& from, nta_incoming_t* irq, const sip_t* sip);
    /// The blind transfer's target, the way start_blind() dials it.
    struct blind_target {
        const config::trunk_config* trunk = nullptr;
        std::string user;         ///< after normalization; empty with `uri`
        std::string uri;          ///< the Request-URI as given (a trunk refer)
        std::string referred_by;  ///< the REFER's Referred-By, carried (a trunk refer)
    };
    /// Admits and starts a blind transfer to `target` (the first of its
    /// trunk's peers `peer_index`); answers the REFER 202 and NOTIFYs 100.
    /// 0 when started or answered, else the status that refuses the REFER.
    static int start_admitted(call& c, call_leg& from, nta_incoming_t* irq,
                              const blind_target& target, std::size_t peer_index);
    /// The transfer's dialog and INVITE towards `peer_index` of the target's
    /// trunk; 0 when sent (the transfer is then the call's), else the
    /// status that refuses the REFER.
    static int start_blind(call& c, call_leg& from, const blind_target& target,
                           std::size_t peer_index, const std::string& referee_user);
    /// A new dialog towards target `peer_index` of the blind target's trunk
    /// and the INVITE on it; false when it could not be sent or failed at
    /// once.
    bool dial(std::size_t peer_index);
    /// dial() to the trunk's next peers not tried yet, until one takes the
    /// INVITE; false when none is left.
    bool dial_next();
    /// A REFER whose Refer-To names a dialog to replace (RFC 3891) that is
    /// another call's leg: this call takes that leg's dialog over, ends the
    /// other call, and re-INVITEs the dialog towards its own media.
    static int on_attended_refer(call& c, call_leg& from, nta_incoming_t* irq,
                                 const dialog_ref& replaces);
    /// The attended transfer takes leg `target` of call `other` over: its
    /// dialog becomes the transfer's, re-INVITEd with `origin` (its offer)
    /// and `sdes`; false when the re-INVITE could not be sent (the
    /// transfer is then in place, to be dropped).
    static bool join_far_end(call& c, call_leg& from, call& other, dataplane::side target,
                             std::unique_ptr<sdp::sdes_leg> sdes, media_ctl::sdp_origin origin,
                             std::uint16_t media_port);

    /// The transfer's INVITE (blind: to its Request-URI, outside the dialog
    /// still being made; attended: a re-INVITE of the taken dialog,
    /// restating its session timer, RFC 4028 8.1), with an Authorization or
    /// Proxy-Authorization header when given.
    sofia::client_transaction send_invite(const sofia::authorization& auth = {});
    /// The target's answer to the transfer's INVITE.
    void on_response(const sip_t* sip, int status);
    /// A 401/407 from a trunk with credentials: the INVITE again with them;
    /// false when it cannot be.
    bool answer_challenge(const sip_t* sip, int status);
    /// The transfer failed with `status`: the referrer hears it, the
    /// target's dialog is closed (`dialog_up`: with a BYE). Ends the
    /// transfer (this object).
    void fail(int status, bool dialog_up);
    /// The target answered `answer` (a 2xx with SDP): its dialog takes the
    /// referrer's place. Ends the transfer (this object).
    void complete(const sip_t* answer);

    call& _call;  ///< owner; outlives the transfer
    dataplane::side _referrer;
    /// The dialog towards the target, with the offer sent on it; it takes
    /// the referrer's place when the target answers. Its iface is the
    /// interface the target is reached through: when it is not the
    /// referrer's, the referrer's side of the media session has a pair
    /// prepared on it, committed then.
    dialog _target;
    sofia::client_transaction _invite;
    /// The SRTP keying of the target's dialog (its trunk's mode), which
    /// takes the referrer's place with it.
    std::unique_ptr<sdp::sdes_leg> _sdes;
    /// The direction of the admission slot taken for the target's trunk,
    /// if one was.
    std::optional<bool> _slot_inbound;
    /// The target's dialog was another call's (attended): a dialog that is up.
    bool _attended = false;
    std::uint16_t _media_port = 0;  ///< the RTP port the target was offered
    offer_answer::hold _oa;         ///< the offer to the target, until it answers
    /// Blind: the target's Request-URI (the dialog has no remote target
    /// before it answers); a challenge's answer is sent there again.
    std::string _ruri;
    /// Where a blind transfer's INVITE goes when _ruri names a peer by
    /// name: the target it resolved to (peer_route.hpp); empty otherwise.
    std::string _next_hop;
    unsigned _auth_answers = 0;  ///< challenges to the INVITE answered (RFC 3261 22.2)
    /// Blind: whom the INVITE names (the target user, or the Refer-To URI
    /// of a trunk refer), the From it carries, and the peers tried, the
    /// current one last (408 and 5xx fail over as a new call's do).
    blind_target _blind;
    std::string _from;
    std::vector<std::size_t> _tried;
    /// dial() is sending: an answer nta gives before send() returns is
    /// read from the transaction there, not taken here.
    bool _dialing = false;
};

}  // namespace sbc::b2bua
