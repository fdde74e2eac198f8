// A SIP peer for the in-process B2BUA tests, scripted the way the protocol
// reads:
//
//     auto& call = carrier.invite(sbc.carrier_uri("2000"), offer);
//     auto& inv = pbx.expect("INVITE");
//     inv.reply(180).reply(200, answer);
//     call.expect(180); call.expect(200); call.ack();
//     pbx.expect("ACK");
//     call.bye().expect(200);  pbx.expect("BYE").reply(200);
//
// It is a real user agent at the transaction layer, on its own nta agent
// (loopback, ephemeral port) on the test's su_root: nta legs for its
// dialogs, its own tags and Call-IDs, ACK for 2xx, CANCEL through nta.
// Every message it receives is kept as text (transcript(), saw()) for
// topology-hiding checks, and a request the script did not expect fails the
// test with the message in full.
//
// Object graph: the peer owns its agent, the dialogs it made or accepted and
// every request it sent or received; the references it hands out live as
// long as the peer. Control thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sbc/sofia/client_transaction.hpp"
#include "sbc/sofia/leg.hpp"
#include "sbc/sofia/server_transaction.hpp"
#include "tests/support/loopback_agent.hpp"
#include "tests/support/sip_loop.hpp"

namespace sbc::test {

class scripted_peer;
class peer_dialog;

/// A request the peer sent, with the responses it got.
class outgoing_request {
public:
    outgoing_request(scripted_peer& peer, std::string what) : _peer(peer), _what(std::move(what)) {}
    /// Runs the loop until the next response has arrived; it must have
    /// `status`, or the test fails. Returns it (valid as long as the peer).
    const sip_t* expect(int status);
    /// CANCEL of this INVITE (RFC 3261 9.1).
    bool cancel() { return _tx.cancel(); }
    const sofia::client_transaction& transaction() const noexcept { return _tx; }
    std::size_t responses() const noexcept { return _responses.size(); }

private:
    friend class scripted_peer;
    friend class peer_dialog;
    sofia::client_transaction::response_callback recorder();

    scripted_peer& _peer;
    std::string _what;
    sofia::client_transaction _tx;
    std::vector<sofia::msg_ref> _responses;
    std::size_t _next = 0;
    std::function<void(const sip_t*)> _on_response;  ///< the dialog's bookkeeping
};

/// A request the peer received. ACK and CANCEL of its INVITEs are recorded
/// as requests of their own, with nothing to answer.
class incoming_request {
public:
    incoming_request(scripted_peer& peer, std::string method, sofia::server_transaction tx,
                     sofia::msg_ref msg, peer_dialog* dialog);
    const std::string& method() const noexcept { return _method; }
    const sip_t* sip() const noexcept { return _msg.sip(); }
    std::string body() const;
    /// Answers with `status` and, when given, an SDP body and header lines
    /// ("Name: value\r\n" each). For an INVITE outside a dialog, the first
    /// reply that is not 100 makes the peer's dialog (its To tag, RFC 3261
    /// 12.1.1). Fails the test when nta refuses.
    incoming_request& reply(int status, const std::string& sdp = {},
                            const std::string& headers = {});
    /// A reliable provisional response to an INVITE (RFC 3262: nta adds
    /// Require: 100rel and RSeq and retransmits it until its PRACK). The
    /// PRACK goes to the peer's inbox, for the script to answer. Fails the
    /// test when nta refuses (the INVITE did not support 100rel).
    incoming_request& reply_reliable(int status, const std::string& sdp = {});
    /// The request as received, in full.
    std::string text() const;
    /// The dialog the request came in, or the one its reply made.
    peer_dialog& dialog();

private:
    friend class scripted_peer;
    /// Makes the peer's dialog from an INVITE outside any (RFC 3261 12.1.1).
    void make_dialog();
    /// nta's PRACK callback (nta_prack_f): the PRACK becomes a request of
    /// the inbox; returning 0 leaves its answer to the script.
    static int on_prack(nta_reliable_magic_t* magic, nta_reliable_t* rel, nta_incoming_t* prack,
                        const sip_t* sip);

    scripted_peer& _peer;
    std::string _method;
    sofia::server_transaction _tx;
    sofia::msg_ref _msg;
    peer_dialog* _dialog;
};

/// One dialog of the peer: made by its INVITE (uac) or by its reply to one
/// (uas). In-dialog requests to it go to the peer's inbox.
class peer_dialog final : public sofia::dialog_handler {
public:
    explicit peer_dialog(scripted_peer& peer) : _peer(peer) {}
    /// The INVITE that made the dialog (uac); fails on a uas dialog.
    outgoing_request& invite();
    /// invite().expect(status).
    const sip_t* expect(int status) { return invite().expect(status); }
    bool cancel() { return invite().cancel(); }
    /// ACK of the INVITE's 2xx, with an answer when the INVITE had no offer.
    void ack(const std::string& sdp = {});
    outgoing_request& bye() { return send(SIP_METHOD_BYE); }
    /// A re-INVITE with `sdp`; its 2xx is ACKed with ack_reinvite().
    outgoing_request& reinvite(const std::string& sdp);
    void ack_reinvite();
    /// A request in the dialog, with a body of `content_type` and header
    /// lines ("Name: value\r\n" each) when given.
    outgoing_request& send(sip_method_t method, const char* name, const std::string& body = {},
                           const char* content_type = nullptr, const std::string& headers = {});
    /// PRACK (RFC 3262 7.2) of `provisional`, a reliable 1xx to the
    /// dialog's INVITE as invite().expect() returned it.
    outgoing_request& prack(const sip_t* provisional);
    const std::string& call_id() const noexcept { return _call_id; }
    std::string local_tag() const { return _leg.tag(); }
    std::string remote_tag() const { return _leg.remote_tag(); }
    nta_leg_t* leg() const noexcept { return _leg.get(); }

    int on_request(sofia::server_transaction& request, const sip_t* sip) override;

private:
    friend class scripted_peer;
    friend class incoming_request;
    void learn(const sip_t* response);

    scripted_peer& _peer;
    sofia::leg _leg;
    std::string _call_id;
    outgoing_request* _invite = nullptr;    ///< uac: the INVITE that made the dialog
    outgoing_request* _reinvite = nullptr;  ///< the latest re-INVITE
    bool _routed = false;                   ///< the 2xx set the remote target (uac)
};

class scripted_peer final : public sofia::dialog_handler {
public:
    /// `name` goes into Call-IDs, users and failure messages ("carrier");
    /// `host` is its loopback address, `transport` "udp" or "tcp".
    scripted_peer(sip_loop& loop, std::string name, std::string host = "127.0.0.1",
                  std::string transport = "udp");
    ~scripted_peer();

    const std::string& name() const noexcept { return _name; }
    std::uint16_t port() const noexcept { return _agent.port(); }
    std::string host_port() const { return _agent.host_port(); }
    /// "<sip:HOST:PORT>" (";transport=tcp" on TCP), the Contact of every
    /// request and 2xx.
    std::string contact() const;

    /// Sends an INVITE to `request_uri` (with `sdp` as its offer; none for
    /// a delayed offer, and `headers`, "Name: value\r\n" lines, when given)
    /// and returns the dialog it is making.
    peer_dialog& invite(const std::string& request_uri, const std::string& sdp,
                        const std::string& from_user = "caller", const std::string& headers = {});
    /// A request outside any dialog (OPTIONS, MESSAGE) to `request_uri`.
    outgoing_request& send(sip_method_t method, const char* name, const std::string& request_uri);
    /// Runs the loop until the next request the script has not taken yet;
    /// it must be a `method` (fails the test, printing it, otherwise).
    incoming_request& expect(const std::string& method);
    /// Fails the test when requests arrived that the script never took
    /// (after handling whatever is ready now).
    void expect_nothing_more();

    /// Every message received, as text, oldest first.
    const std::vector<std::string>& transcript() const noexcept { return _transcript; }
    /// Whether any received message holds `text`.
    bool saw(std::string_view text) const;
    sip_loop& loop() noexcept { return _loop; }

    /// Requests outside any dialog (the default leg).
    int on_request(sofia::server_transaction& request, const sip_t* sip) override;

private:
    friend class outgoing_request;
    friend class incoming_request;
    friend class peer_dialog;
    void record(msg_t* msg);
    void receive(sofia::server_transaction& request, const sip_t* sip, peer_dialog* dialog);
    outgoing_request& new_outgoing(std::string what);
    peer_dialog& new_dialog();

    sip_loop& _loop;
    std::string _name;
    loopback_agent _agent;
    std::vector<std::unique_ptr<peer_dialog>> _dialogs;
    std::vector<std::unique_ptr<outgoing_request>> _sent;
    std::vector<std::unique_ptr<incoming_request>> _received;
    std::size_t _taken = 0;  ///< _received[0, _taken) went to the script
    std::vector<std::string> _transcript;
    unsigned _calls = 0;
    sofia::leg _default;  ///< last: destroyed first
};

}  // namespace sbc::test
