// A call through the SBC: two legs, each a SIP dialog of its own, and the
// media session that anchors their audio.
//
// Object graph: b2bua owns calls (unique_ptr); a call owns its two call_legs
// (each holding its dialog's nta leg), its media session, and the
// operations under way, each a class of its own that owns its transactions
// and holds the call's offer/answer state while it runs: the INVITE relay
// (invite_relay.hpp; the initial one with its outbound_attempt), request
// relays, session timers, a transfer (transfer.hpp), an UPDATE relay and
// the SBC's own re-INVITE (reoffer.hpp). Their back-pointers to the call,
// and a call_leg's, are raw: the call outlives them. Side a is the leg the
// INVITE came in on, side b the one the SBC originated. Everything here
// runs on the su_root thread.
//
// Nothing crosses from one leg to the other except what this class copies on
// purpose: SDP (rewritten to the SBC's media addresses), status codes, bodies
// of relayed in-dialog requests, and the headers the receiving trunk's
// forward_headers allows (RFC 5853 topology hiding).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/api/media_engine.hpp"
#include "sbc/b2bua/call_state.hpp"
#include "sbc/b2bua/dialog.hpp"
#include "sbc/b2bua/digest_client.hpp"
#include "sbc/b2bua/invite_relay.hpp"
#include "sbc/b2bua/offer_answer.hpp"
#include "sbc/b2bua/reoffer.hpp"
#include "sbc/b2bua/replaces.hpp"
#include "sbc/b2bua/request_relay.hpp"
#include "sbc/b2bua/session_timers.hpp"
#include "sbc/b2bua/transfer.hpp"
#include "sbc/b2bua/update_relay.hpp"
#include "sbc/cdr/record.hpp"
#include "sbc/common/log.hpp"
#include "sbc/config/config.hpp"
#include "sbc/media_ctl/media_session.hpp"
#include "sbc/policy/number_rewriter.hpp"
#include "sbc/registrar/location_service.hpp"
#include "sbc/sdp/codec_plan.hpp"
#include "sbc/sdp/sdes_leg.hpp"
#include "sbc/sdp/session_description.hpp"
#include "sbc/sofia/auth_headers.hpp"
#include "sbc/sofia/nta.hpp"

namespace sbc::b2bua {

class b2bua;
class sip_interface;
class call;

using dataplane::side;

/// One side of a call: its dialog, and the handler its nta leg delivers
/// in-dialog requests to (which side of which call they are for).
class call_leg final : public sofia::dialog_handler, public dialog {
public:
    call_leg(call& owner, side s) : _call(owner), _side(s) {}
    int on_request(sofia::server_transaction& request, const sip_t* sip) override;

    /// The dialog part alone, to move it in or out (a transfer).
    dialog& the_dialog() noexcept { return *this; }

    call& _call;  ///< owner; outlives the leg
    side _side;
};

using media_ctl::sdp_role;

class call final {
    /// The operations act on the call's legs and media on its behalf.
    friend class request_relay;
    friend class session_timers;
    friend class call_transfer;
    friend class outbound_attempt;
    friend class reoffer;
    friend class update_relay;

public:
    enum class state { trying, early, answered, established, cancelling, terminated };

    call(b2bua& owner, std::uint64_t id, const config::trunk_config& from_trunk,
         const config::trunk_config& to_trunk);
    ~call();
    call(const call&) = delete;
    call& operator=(const call&) = delete;

    /// How the call was routed: the rule, the trunks to try after the
    /// current one (in order), and the caller's numbers after its trunk's
    /// inbound normalization. Before start().
    /// `record`: the CDR as far as routing knows it (start, source, trunk,
    /// numbers received and normalized, route); the call completes it.
    void set_route(const config::route_config* route,
                   std::vector<const config::trunk_config*> next_trunks,
                   policy::call_numbers numbers, cdr::record record,
                   const dataplane::ip_endpoint& source);
    /// The callee is a contact registered with the SBC (the target trunk
    /// is a registrar): the INVITE goes to where it registered from, with
    /// its Contact as the Request-URI (RFC 3261 10.3, 16.5). Before start().
    void set_registered_target(registrar::binding target) { _registered = std::move(target); }
    /// The INVITE towards the callee replaces one of its dialogs (RFC 3891):
    /// it carries this Replaces value. Before start().
    void set_replaces(std::string value) { _replaces = std::move(value); }

    /// Where an INVITE that replaces this call's dialog on leg `s` (RFC 3891)
    /// must go instead: the far end of the call, at its dialog's remote
    /// target, with the Replaces that names its dialog with the SBC.
    struct replacement {
        const config::trunk_config* trunk = nullptr;
        registrar::binding target;  ///< contact: the remote target; source: where to send
        std::string replaces;
    };
    /// The replacement for an INVITE naming leg `s`'s dialog; nullopt when
    /// the call is not established or the far end's address is unknown.
    std::optional<replacement> replacement_for(side s);

    /// The call holds an admission slot of its source trunk (inbound) and
    /// of its target trunk (outbound); the destructor gives them back.
    void hold_admission(bool inbound, bool outbound) {
        if (inbound) {
            _slots.push_back({_legs[0].trunk, true});
        }
        if (outbound) {
            _slots.push_back({_legs[1].trunk, false});
        }
    }

    /// Takes over the initial INVITE `irq` and sends the outbound INVITE.
    /// Returns 0 when the call is under way; otherwise the call is to be
    /// dropped, and the result is the status to answer with, or -1 when
    /// start() has answered itself.
    int start(nta_incoming_t* irq, const sip_t* sip);

private:
    /// What the caller's INVITE says of leg a: its transport, and what it
    /// supports of RFC 3262 and RFC 4028 (negotiated per leg).
    void learn_caller(const sip_t* sip);

public:
    /// Tears the call down from the SBC's side (media timeout, shutdown):
    /// BYE to confirmed legs, CANCEL or an error status to pending ones.
    void hang_up(const char* why);

    std::uint64_t id() const noexcept { return _id; }
    std::string display_id() const;
    /// Leg `s` has its Call-ID: the capture (sbcctl trace, HEP) files its
    /// messages under this call from now on.
    void capture_leg(side s) { capture_dialog(leg(s)); }
    /// The same for a dialog that is not yet one of the call's legs (a
    /// transfer's new dialog).
    void capture_dialog(const dialog& d);
    /// Leg `s`'s media quality at the call's end, to the HEP capture
    /// server (if any) as a QoS report under the call's correlation ID.
    void report_quality(side s, const cdr::leg_media& m, const dataplane::side_counters& c);
    state current_state() const noexcept { return _state; }
    const char* state_name() const noexcept;
    bool finished() const noexcept { return _state == state::terminated; }
    const config::trunk_config& from_trunk() const noexcept { return *_legs[0].trunk; }
    const config::trunk_config& to_trunk() const noexcept { return *_legs[1].trunk; }
    /// The target the SBC called on leg b: its trunk's name and its index
    /// in that trunk's peer table; nothing for a registered callee.
    std::optional<std::pair<std::string, std::size_t>> called_target() const;
    /// The log context (log.hpp: the journal's CALL, TRUNK and PEER) of
    /// what comes in on side `s`: this call, that leg's trunk and peer.
    log::context log_scope(side s) const;
    std::chrono::steady_clock::time_point created() const noexcept { return _created; }
    std::chrono::steady_clock::time_point state_since() const noexcept { return _state_since; }
    /// The SBC's RTP port on leg `s` (RTCP is the next one); 0 before media.
    std::uint16_t local_rtp_port(side s) const noexcept { return _media.rtp_port(s); }
    /// The SBC's media address on leg `s`.
    const std::string& media_address(side s) const noexcept { return _media.media_address(s); }
    /// The SRTP suite in force on leg `s`, nullopt while it is plain RTP.
    std::optional<config::srtp_suite> srtp_suite(side s) const noexcept {
        return _media.srtp_suite(s);
    }
    /// Whether the media is transcoded (a codec chain each way) or relayed.
    bool transcoded() const noexcept { return _media.transcoded(); }
    /// The SBC's ICE ufrag on leg `s` while it answers ICE checks there;
    /// "" when ICE is not used on the leg.
    std::string ice_ufrag(side s) const {
        return _media.ice_in_use(s) ? _media.ice_ufrag(s) : std::string();
    }
    /// The caller hears the SBC's local ringback tone now.
    bool local_ringback() const noexcept { return _media.ringback_playing(side::a); }
    /// A digit the data plane heard from side `from`'s peer (events or
    /// tones) for the other leg, whose trunk takes digits as SIP INFO.
    void on_media_dtmf(side from, char digit, std::uint32_t duration_ms);
    /// The audio codec ("PCMA/8000") and ptime negotiated on leg `s`; ""
    /// until an answer settled it.
    const std::string& codec(side s) const noexcept { return _media.codec(s); }
    unsigned ptime(side s) const noexcept { return _media.ptime(s); }
    /// True when neither peer has put the media on hold (timeouts apply).
    bool media_expected() const noexcept { return _media.media_expected(); }
    /// The media timeout armed in the data plane for this call (0: none);
    /// the b2bua keeps it in step with state and media_expected().
    std::chrono::nanoseconds armed_media_timeout() const noexcept { return _armed_media_timeout; }
    void set_armed_media_timeout(std::chrono::nanoseconds t) noexcept { _armed_media_timeout = t; }
    /// Moves the call to the trunk's next peer when the current one has
    /// not responded within the trunk's failover_timeout.
    void check_failover(std::chrono::steady_clock::time_point now);
    /// A dialog handed from one call to another: an attended transfer joins
    /// the far ends of two calls, so one call takes the other's leg over.
    struct handed_dialog {
        dialog d;
        /// The direction of the admission slot that moves with it, if any.
        std::optional<bool> slot_inbound;
    };
    /// Whether an INVITE that replaces leg `s`'s dialog (RFC 3891) is the
    /// SBC's to accept: the other leg's trunk has `replaces: terminate`.
    bool terminates_replaces(side s) const noexcept;
    /// An INVITE with Replaces from `trunk` (the inbound slot taken for it
    /// goes to the call) naming leg `s`'s dialog, accepted by the SBC
    /// (replacing_invite.cpp): its dialog takes leg `s`'s place and its
    /// offer goes to the other leg as a re-INVITE; the 2xx ends the
    /// replaced dialog, a failure puts it back. 0 when under way, else the
    /// status the INVITE was (or is to be) answered with; the slot is then
    /// not the call's.
    int take_replacing_invite(side s, const config::trunk_config& trunk, nta_incoming_t* irq,
                              const sip_t* sip);

    /// Whether leg `s`'s dialog can be handed over now: the call is
    /// established with nothing under way on it (its keys, if SRTP, stay
    /// with this call's media session: the taker re-keys it).
    bool can_hand_over(side s) const noexcept;
    /// Gives leg `s`'s dialog (and its trunk's admission slot) away; the leg
    /// is left without a dialog, and the call is to be ended at once.
    handed_dialog hand_over(side s);

    /// The call as data (call_state.hpp): its dialogs, media, what it holds
    /// and its CDR so far, for a store or another node.
    call_state snapshot() const;
    /// The call another node held, whose state `s` this node read from the
    /// store when it took that node's addresses over (call_restore.cpp):
    /// its two dialogs made again in nta on the interfaces they were on,
    /// its media session on the same ports, its timers, admission slots and
    /// CDR so far. Only an established call can be taken over; an error says
    /// why this one cannot (the caller then destroys the call, half made).
    result<bool> restore(const call_state& s);
    /// What changes when the call's state does (its state, the operation
    /// under way, each dialog's sequence numbers, SDP version and nta leg,
    /// and the changes noted): a store writes the call again when it moves.
    std::uint64_t state_mark() const noexcept;
    /// Something the state document holds changed that state_mark() does
    /// not see (media latched to a peer's real address).
    void note_change() noexcept { ++_changes; }
    /// An SRTP stream of leg `s` rolled over (media_event::kind::
    /// srtp_rollover): the state document is to carry its new counter.
    void on_srtp_rollover(const dataplane::media_event& ev) {
        if (_media.note_srtp_rollover(ev)) {
            note_change();
        }
    }
    /// The operation in progress, if any.
    operation under_way() const noexcept;

    /// RFC 4028: sends the refreshes due on legs the SBC refreshes, and
    /// ends the call (BYE on both legs) when a leg's peer let its session
    /// expire.
    void check_session_timers(std::chrono::steady_clock::time_point now);

    // nta callbacks (through call_leg and the trampolines).
    int on_leg_request(call_leg& leg, sofia::server_transaction& request, const sip_t* sip);

private:
    /// Drops the request relays that are over (called before a new one is
    /// added, so they stay few however many a call relays).
    void forget_finished_relays();

    call_leg& leg(side s) noexcept { return _legs[dataplane::index(s)]; }

    void set_state(state s) noexcept;
    /// Leg `s`'s dialog from its recorded state (restore()).
    result<bool> restore_dialog(side s, const dialog_state& st);
    /// The dialog with the caller, from its INVITE (RFC 3261 12.1.1).
    bool create_inbound_leg(nta_incoming_t* irq, const sip_t* sip);
    /// The response callback of the next INVITE sent for the relay; sets
    /// the serial that adopt_invite() gives the relay.
    sofia::client_transaction::response_callback invite_callback();
    /// `orq` is now the relay's INVITE on the other leg.
    void adopt_invite(sofia::client_transaction orq);
    /// The INVITE relay's ACK, CANCEL or Timer H.
    void on_invite_ack_or_cancel(const sip_t* sip);
    void on_invite_provisional(const sip_t* sip, int status);
    void on_invite_success(const sip_t* sip, int status);
    /// The session timers a 2xx to the INVITE relay settles or refreshes;
    /// returns the Session-Expires and Require lines of the 2xx sent back.
    std::string timers_after_2xx(const sip_t* sip);
    int on_reinvite(call_leg& from, sofia::server_transaction& request, const sip_t* sip);
    int on_bye(call_leg& from);
    int relay_request(call_leg& from, sofia::server_transaction& request, const sip_t* sip);
    /// A re-INVITE on leg `to` (relayed: its offer and headers), with an
    /// Authorization or Proxy-Authorization header when given.
    sofia::client_transaction send_reinvite(call_leg& to, const std::optional<std::string>& offer,
                                            const std::string& headers,
                                            const sofia::authorization& auth = {});
    /// A 401/407 to a relayed re-INVITE from a trunk with credentials:
    /// answered on the same dialog; false when it cannot be.
    bool answer_reinvite_challenge(const sip_t* sip, int status);
    /// The credentials answering the 401/407 `sip` to an in-dialog `method`
    /// on leg `l` (digest-uri: the dialog's remote target), counting the
    /// answer in `answers`; empty when the trunk has no credentials, the
    /// challenge cannot be answered, or an answer was refused already.
    /// `uri`: the digest-uri when it is not the dialog's remote target (a
    /// dialog not made yet).
    sofia::authorization in_dialog_credentials(const dialog& l, const sip_t* sip, int status,
                                               std::string_view method, std::string_view body,
                                               unsigned& answers, std::string uri = {});
    /// The headers an in-dialog request `sip` from leg `from` carries on to
    /// leg `to`: `from`'s trunk's inbound rules, `to`'s trunk's allow-list
    /// (with number normalization of P-Asserted-Identity and Diversion), then
    /// its outbound rules, each rule only where its methods hold the
    /// request's. "Name: value\r\n" lines.
    std::string relayed_headers(const sip_t* sip, const call_leg& from, const call_leg& to);
    void on_invite_response(const sip_t* sip, int status);
    void on_initial_final_failure(int status, const sip_t* sip);
    /// The SBC's 183 answer for an 18x of status `status` without SDP, with
    /// its ringback tone started, when the caller's trunk plays local
    /// ringback and the caller's offer allows it; nullopt (logged why) when not.
    std::optional<std::string> local_ringback(int status);
    void on_ack(const sip_t* sip);
    void on_cancel();
    /// ACK for the 2xx of the current INVITE relay, on leg `to`.
    void send_ack(side to, const std::string* sdp_body);
    void send_bye(side to);
    void reply(nta_incoming_t* irq, call_leg& on, int status, const char* phrase,
               const sip_t* relayed, const std::string* sdp_body,
               const std::string& extra_headers = {}, bool reliable = false);
    void finish();
    /// Who ended the call and why, for the CDR; the first cause stands.
    void note_end(cdr::party who, std::string why);
    /// Completes the CDR and hands it to the b2bua, once.
    void write_cdr();
    void release_transactions();

    /// The roles of SDP in responses to the current INVITE relay.
    sdp_role response_role_in() const noexcept;
    sdp_role response_role_out() const noexcept;
    /// The ACK of a converted INVITE: checks its answer and completes the
    /// media path, or ends the call when the answer does not fit.
    void on_converted_ack(const sip_t* sip);
    /// The ACK of the current INVITE relay went through: the relay is done,
    /// and an initial INVITE's call is established.
    void complete_invite();
    /// SDP from leg `from`'s peer, taken by the media session; the SDP for
    /// the other leg, written with that leg's identity (media_session::translate).
    result<std::string> translate_sdp(side from, const sip_t* sip, sdp_role in, sdp_role out);
    result<std::string> translate_sdp(side from, const sip_t* sip, sdp_role role) {
        return translate_sdp(from, sip, role, role);
    }

    b2bua& _owner;
    std::uint64_t _id;
    call_leg _legs[2];
    state _state = state::trying;
    std::chrono::steady_clock::time_point _created;
    std::chrono::steady_clock::time_point _state_since;
    media_ctl::media_session _media;
    /// Declared before the operations whose holds point at it.
    offer_answer _oa;
    /// The INVITE under way, initial or re-INVITE (invite_relay.hpp).
    std::optional<invite_relay> _invite;
    std::uint64_t _invite_serial = 0;  ///< of the last INVITE sent for a relay
    std::vector<std::unique_ptr<request_relay>> _relays;
    /// RFC 4028 on both legs: the refreshes in flight, what the caller asked.
    session_timers _timers{*this};
    /// An UPDATE carrying an offer, relayed (update_relay.hpp).
    std::unique_ptr<update_relay> _update;
    /// A transfer in progress (transfer.hpp).
    std::unique_ptr<call_transfer> _transfer;
    /// The replacing INVITE's 2xx went: the dialog it replaced gets its BYE
    /// (RFC 3891 3) and leaves the call.
    void end_replaced();
    /// The replacing INVITE on leg `s` failed: `replaced` takes its place
    /// again, as if it had never come.
    void put_back(side s, dialog replaced);
    /// The transfer ends without replacing the referrer (call_transfer::close).
    void drop_transfer(bool dialog_up);
    /// Dialogs a transfer replaced or dropped, kept (answering only a BYE,
    /// support::closed_dialog()) until the call ends.
    std::vector<sofia::leg> _retired;
    /// The SBC's own re-INVITE on one leg (reoffer.hpp).
    std::unique_ptr<reoffer> _reoffer;
    const config::route_config* _route = nullptr;
    policy::call_numbers _numbers_sent;  ///< as the last INVITE to leg b carried them
    std::string _source_ip;              ///< the caller's address, for header rules
    dataplane::ip_endpoint _source;      ///< where the caller's INVITE came from
    std::string _replaces;               ///< the Replaces the INVITE to leg b carries (RFC 3891)
    std::optional<registrar::binding> _registered;  ///< the callee, when registered with us
    cdr::record _cdr;
    bool _cdr_written = false;
    /// Admission slots this call holds (released by the destructor): the
    /// trunks they were taken on, which a failover or a transfer may change.
    struct slot {
        const config::trunk_config* trunk;
        bool inbound;
    };
    std::vector<slot> _slots;
    /// Gives back the slot held on `trunk` in that direction, if any.
    void release_slot(const config::trunk_config* trunk, bool inbound);
    std::vector<const config::trunk_config*> _next_trunks;  ///< the route's trunks still to try
    policy::call_numbers _numbers;  ///< the caller's, after inbound normalization
    /// Digest towards the trunks: the nonce in use and its count (RFC 7616
    /// 3.4), shared by the initial INVITE and the requests in the dialogs.
    digest_client _digest;
    std::chrono::nanoseconds _armed_media_timeout{};
    std::uint64_t _changes = 0;  ///< note_change()
};

/// True when the message carries an application/sdp body.
bool has_sdp(const sip_t* sip) noexcept;

/// Answers a delayed-offer INVITE bound for a trunk with early_offer: reject.
void refuse_delayed_offer(nta_incoming_t* irq, const config::trunk_config& to);

}  // namespace sbc::b2bua
