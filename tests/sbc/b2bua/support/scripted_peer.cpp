#include "tests/sbc/b2bua/support/scripted_peer.hpp"

#include <fmt/format.h>
#include <sofia-sip/sip_status.h>
#include <catch2/catch.hpp>

#include <cstdlib>

namespace sbc::test {

namespace {

const char* phrase(int status) {
    const char* p = sip_status_phrase(status);
    return p != nullptr ? p : "Scripted";
}

std::string text_of(msg_t* msg) {
    if (msg == nullptr) {
        return {};
    }
    size_t len = 0;
    char* s = msg_as_string(nullptr, msg, nullptr, 0, &len);
    std::string out = s != nullptr ? std::string(s, len) : std::string();
    std::free(s);  // su_alloc without a home is malloc
    return out;
}

std::string body_of(const sip_t* sip) {
    return sip != nullptr && sip->sip_payload != nullptr
               ? std::string(sip->sip_payload->pl_data, sip->sip_payload->pl_len)
               : std::string();
}

}  // namespace

// ---- outgoing_request

sofia::client_transaction::response_callback outgoing_request::recorder() {
    return [this](const sofia::response& r) {
        auto msg = _tx ? _tx.latest_response() : sofia::msg_ref();
        if (r.from_peer()) {
            _peer.record(msg.get());
        }
        if (_on_response) {
            _on_response(r.sip);
        }
        _responses.push_back(std::move(msg));
    };
}

const sip_t* outgoing_request::expect(int status) {
    if (!_peer._loop.run_until([&] { return _responses.size() > _next; })) {
        FAIL(fmt::format("{}: {} expected a {}, got no response", _peer._name, _what, status));
    }
    const auto& msg = _responses[_next++];
    const sip_t* sip = msg.sip();
    const int got = sip != nullptr && sip->sip_status ? sip->sip_status->st_status : _tx.status();
    if (got != status) {
        FAIL(fmt::format("{}: {} expected a {}, got {}:\n{}", _peer._name, _what, status, got,
                         text_of(msg.get())));
    }
    return sip;
}

// ---- incoming_request

incoming_request::incoming_request(scripted_peer& peer, std::string method,
                                   sofia::server_transaction tx, sofia::msg_ref msg,
                                   peer_dialog* dialog)
    : _peer(peer),
      _method(std::move(method)),
      _tx(std::move(tx)),
      _msg(std::move(msg)),
      _dialog(dialog) {}

std::string incoming_request::body() const { return body_of(sip()); }

void incoming_request::make_dialog() {
    // RFC 3261 12.1.1: the dialog takes the INVITE's Call-ID and tags,
    // our new tag, and the caller's Contact as its remote target.
    auto& d = _peer.new_dialog();
    const sip_t* req = sip();
    d._call_id = req->sip_call_id->i_id;
    d._leg = sofia::leg::create(_peer._agent.get(), d, SIPTAG_CALL_ID(req->sip_call_id),
                                SIPTAG_FROM(req->sip_to), SIPTAG_TO(req->sip_from),
                                SIPTAG_CSEQ(req->sip_cseq));
    REQUIRE(d._leg);
    REQUIRE(d._leg.set_tag());
    d._leg.route_from_request(req);
    nta_incoming_tag(_tx.get(), d._leg.tag().c_str());
    _dialog = &d;
}

incoming_request& incoming_request::reply(int status, const std::string& sdp,
                                          const std::string& headers) {
    REQUIRE(_tx);
    const bool invite = _tx.method() == sip_method_invite;
    if (invite && _dialog == nullptr && status > 100 && status < 300) {
        make_dialog();
    }
    const auto contact = _peer.contact();
    const bool with_contact = invite && status > 100 && status < 300;
    const bool with_body = !sdp.empty();
    INFO(_peer._name << " replying " << status << " to " << _method);
    REQUIRE(_tx.reply(status, phrase(status),
                      TAG_IF(with_contact, SIPTAG_CONTACT_STR(contact.c_str())),
                      TAG_IF(with_body, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
                      TAG_IF(with_body, SIPTAG_PAYLOAD_STR(sdp.c_str())),
                      TAG_IF(!headers.empty(), SIPTAG_HEADER_STR(headers.c_str()))));
    return *this;
}

incoming_request& incoming_request::reply_reliable(int status, const std::string& sdp) {
    REQUIRE(_tx);
    REQUIRE(_tx.method() == sip_method_invite);
    REQUIRE((status > 100 && status < 200));
    if (_dialog == nullptr) {
        make_dialog();  // RFC 3262 3: a reliable 1xx carries a To tag
    }
    const auto contact = _peer.contact();
    const bool with_body = !sdp.empty();
    INFO(_peer._name << " replying " << status << " reliably to " << _method);
    // nta's magic for reliable responses is an opaque struct the SBC's
    // headers leave undefined; the request lives as long as the peer.
    auto* magic = reinterpret_cast<nta_reliable_magic_t*>(this);
    REQUIRE(nta_reliable_treply(_tx.get(), on_prack, magic, status, phrase(status),
                                SIPTAG_CONTACT_STR(contact.c_str()),
                                TAG_IF(with_body, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
                                TAG_IF(with_body, SIPTAG_PAYLOAD_STR(sdp.c_str())),
                                TAG_END()) != nullptr);
    return *this;
}

int incoming_request::on_prack(nta_reliable_magic_t* magic, nta_reliable_t*, nta_incoming_t* prack,
                               const sip_t* sip) {
    auto* invite = reinterpret_cast<incoming_request*>(magic);
    sofia::server_transaction tx(prack);
    invite->_peer.receive(tx, sip, invite->_dialog);
    return 0;  // RFC 3262 3: the script answers the PRACK
}

std::string incoming_request::text() const { return text_of(_msg.get()); }

peer_dialog& incoming_request::dialog() {
    if (_dialog == nullptr) {
        FAIL(fmt::format("{}: the {} belongs to no dialog", _peer._name, _method));
    }
    return *_dialog;
}

// ---- peer_dialog

outgoing_request& peer_dialog::invite() {
    if (_invite == nullptr) {
        FAIL(fmt::format("{}: dialog {} was not made by an INVITE of ours", _peer._name, _call_id));
    }
    return *_invite;
}

void peer_dialog::learn(const sip_t* response) {
    // RFC 3261 12.1.2: the dialog's remote tag, route set and target come
    // from the 2xx.
    if (response == nullptr || response->sip_status == nullptr ||
        response->sip_status->st_status < 200 || response->sip_status->st_status >= 300) {
        return;
    }
    if (_routed) {
        return;  // a retransmission
    }
    if (_leg.remote_tag().empty() && response->sip_to->a_tag != nullptr) {
        _leg.set_remote_tag(response->sip_to->a_tag);  // not already from a PRACKed 1xx
    }
    _leg.route_from_response(response);
    _routed = true;
}

void peer_dialog::ack(const std::string& sdp) {
    const auto contact = _peer.contact();
    const bool with_body = !sdp.empty();
    REQUIRE(sofia::send_ack_2xx(_leg.get(), invite().transaction(),
                                SIPTAG_CONTACT_STR(contact.c_str()),
                                TAG_IF(with_body, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
                                TAG_IF(with_body, SIPTAG_PAYLOAD_STR(sdp.c_str()))));
}

outgoing_request& peer_dialog::reinvite(const std::string& sdp) {
    _reinvite = &send(SIP_METHOD_INVITE, sdp, "application/sdp");
    return *_reinvite;
}

void peer_dialog::ack_reinvite() {
    REQUIRE(_reinvite != nullptr);
    const auto contact = _peer.contact();
    REQUIRE(sofia::send_ack_2xx(_leg.get(), _reinvite->transaction(),
                                SIPTAG_CONTACT_STR(contact.c_str())));
}

outgoing_request& peer_dialog::send(sip_method_t method, const char* name, const std::string& body,
                                    const char* content_type, const std::string& headers) {
    auto& out = _peer.new_outgoing(fmt::format("{} in dialog {}", name, _call_id));
    const auto contact = _peer.contact();
    const bool with_body = !body.empty();
    out._tx = sofia::client_transaction::send(
        _leg.get(), out.recorder(), nullptr, method, name, nullptr,
        SIPTAG_CONTACT_STR(contact.c_str()),
        TAG_IF(with_body && content_type != nullptr, SIPTAG_CONTENT_TYPE_STR(content_type)),
        TAG_IF(with_body, SIPTAG_PAYLOAD_STR(body.c_str())),
        TAG_IF(!headers.empty(), SIPTAG_HEADER_STR(headers.c_str())));
    REQUIRE(out._tx);
    return out;
}

outgoing_request& peer_dialog::prack(const sip_t* provisional) {
    auto& inv = invite();
    REQUIRE(provisional != nullptr);
    REQUIRE(provisional->sip_rseq != nullptr);
    REQUIRE(provisional->sip_to->a_tag != nullptr);
    // RFC 3262 4: the PRACK is a request of the early dialog the 1xx made,
    // sent to its Contact; nta wants the INVITE tied to that dialog first.
    if (_leg.remote_tag().empty()) {
        _leg.set_remote_tag(provisional->sip_to->a_tag);
    }
    nta_leg_client_reroute(_leg.get(), provisional->sip_record_route, provisional->sip_contact, 1);
    if (nta_outgoing_rseq(inv._tx.get()) == 0) {
        REQUIRE(inv._tx.tag(provisional->sip_to->a_tag, provisional->sip_rseq));
    }
    auto& out = _peer.new_outgoing(fmt::format("PRACK in dialog {}", _call_id));
    out._tx = inv._tx.prack(_leg.get(), out.recorder(), provisional);
    REQUIRE(out._tx);
    return out;
}

int peer_dialog::on_request(sofia::server_transaction& request, const sip_t* sip) {
    _peer.receive(request, sip, this);
    return 0;
}

// ---- scripted_peer

scripted_peer::scripted_peer(sip_loop& loop, std::string name, std::string host,
                             std::string transport)
    : _loop(loop),
      _name(std::move(name)),
      _agent(loop.root(), /*cancel_487=*/false, std::move(host), std::move(transport)),
      _default(sofia::leg::create(_agent.get(), *this, NTATAG_NO_DIALOG(1))) {
    if (!_default) {
        throw std::runtime_error("cannot make the peer's default leg");
    }
    _agent.on_stray([this](msg_t* msg, sip_t*) {
        // Retransmitted 2xx of INVITEs whose transaction is gone, and the like.
        record(msg);
        msg_destroy(msg);
    });
}

scripted_peer::~scripted_peer() = default;

std::string scripted_peer::contact() const { return fmt::format("<{}>", _agent.uri()); }

outgoing_request& scripted_peer::new_outgoing(std::string what) {
    _sent.push_back(std::make_unique<outgoing_request>(*this, std::move(what)));
    return *_sent.back();
}

peer_dialog& scripted_peer::new_dialog() {
    _dialogs.push_back(std::make_unique<peer_dialog>(*this));
    return *_dialogs.back();
}

peer_dialog& scripted_peer::invite(const std::string& request_uri, const std::string& sdp,
                                   const std::string& from_user, const std::string& headers) {
    auto& d = new_dialog();
    d._call_id = fmt::format("{}-{}-{}@{}", _name, ++_calls, port(), _agent.host());
    const auto from = fmt::format("<sip:{}@{}>", from_user, host_port());
    const auto to = fmt::format("<{}>", request_uri);
    d._leg = sofia::leg::create(_agent.get(), d, SIPTAG_FROM_STR(from.c_str()),
                                SIPTAG_TO_STR(to.c_str()), SIPTAG_CALL_ID_STR(d._call_id.c_str()));
    REQUIRE(d._leg);
    REQUIRE(d._leg.set_tag());
    auto& out = new_outgoing(fmt::format("INVITE {}", d._call_id));
    out._on_response = [&d](const sip_t* sip) { d.learn(sip); };
    const auto contact = this->contact();
    const bool with_body = !sdp.empty();
    out._tx = sofia::client_transaction::send(
        d._leg.get(), out.recorder(), nullptr, SIP_METHOD_INVITE,
        URL_STRING_MAKE(request_uri.c_str()), SIPTAG_CONTACT_STR(contact.c_str()),
        TAG_IF(with_body, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
        TAG_IF(with_body, SIPTAG_PAYLOAD_STR(sdp.c_str())),
        TAG_IF(!headers.empty(), SIPTAG_HEADER_STR(headers.c_str())));
    REQUIRE(out._tx);
    d._invite = &out;
    return d;
}

outgoing_request& scripted_peer::send(sip_method_t method, const char* name,
                                      const std::string& request_uri) {
    auto& out = new_outgoing(fmt::format("{} to {}", name, request_uri));
    const auto from = fmt::format("<sip:{}@{}>", _name, host_port());
    const auto to = fmt::format("<{}>", request_uri);
    const auto contact = this->contact();
    out._tx = sofia::client_transaction::send(
        _default.get(), out.recorder(), nullptr, method, name, URL_STRING_MAKE(request_uri.c_str()),
        SIPTAG_FROM_STR(from.c_str()), SIPTAG_TO_STR(to.c_str()),
        SIPTAG_CONTACT_STR(contact.c_str()));
    REQUIRE(out._tx);
    return out;
}

void scripted_peer::record(msg_t* msg) { _transcript.push_back(text_of(msg)); }

void scripted_peer::receive(sofia::server_transaction& request, const sip_t* sip,
                            peer_dialog* dialog) {
    auto msg = request.request();
    record(msg.get());
    const std::string method = sip->sip_request->rq_method_name;
    const bool invite = request.method() == sip_method_invite;
    auto r = std::make_unique<incoming_request>(*this, method, std::move(request), std::move(msg),
                                                dialog);
    if (invite) {
        // ACK of our 2xx and CANCEL reach the INVITE's transaction
        // (NTATAG_UA); the script sees them as requests of their own.
        incoming_request* inv = r.get();
        inv->_tx.on_ack_or_cancel([this, inv](const sip_t* ack_or_cancel) {
            if (ack_or_cancel == nullptr) {
                return;  // Timer H, or a reliable provisional's PRACK timed out
            }
            auto m = sofia::msg_ref::adopt(nta_incoming_getrequest_ackcancel(inv->_tx.get()));
            record(m.get());
            if (ack_or_cancel->sip_request->rq_method == sip_method_ack &&
                inv->_tx.status() >= 300) {
                return;  // RFC 3261 17.2.1: part of the transaction, not the script's
            }
            _received.push_back(std::make_unique<incoming_request>(
                *this, ack_or_cancel->sip_request->rq_method_name, sofia::server_transaction(),
                std::move(m), inv->_dialog));
        });
    }
    _received.push_back(std::move(r));
}

int scripted_peer::on_request(sofia::server_transaction& request, const sip_t* sip) {
    receive(request, sip, nullptr);
    return 0;
}

incoming_request& scripted_peer::expect(const std::string& method) {
    if (!_loop.run_until([&] { return _received.size() > _taken; })) {
        FAIL(fmt::format("{} expected a {}, got nothing", _name, method));
    }
    auto& r = *_received[_taken++];
    if (r.method() != method) {
        FAIL(fmt::format("{} expected a {}, got a {}:\n{}", _name, method, r.method(),
                         text_of(r._msg.get())));
    }
    return r;
}

void scripted_peer::expect_nothing_more() {
    _loop.drain();
    if (_received.size() > _taken) {
        const auto& r = *_received[_taken];
        FAIL(fmt::format("{} got a {} the script did not expect:\n{}", _name, r.method(),
                         text_of(r._msg.get())));
    }
}

bool scripted_peer::saw(std::string_view text) const {
    for (const auto& m : _transcript) {
        if (m.find(text) != std::string::npos) {
            return true;
        }
    }
    return false;
}

}  // namespace sbc::test
