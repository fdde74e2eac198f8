// The one place sofia-sip's nta is included, with typed callback contexts.
//
// nta hands every callback a "magic" context pointer. Instead of void*, each
// context is one of the handler interfaces below (drachtio-server's typed
// *_MAGIC_T idea); thin extern "C" trampolines turn the callback into a
// virtual call and hold no logic. Include this header, never <sofia-sip/nta.h>
// directly, so every translation unit sees the same magic types.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sbc::sofia {
class leg_handler;
class response_handler;
class transaction_handler;
class agent_handler;
}  // namespace sbc::sofia

#define NTA_AGENT_MAGIC_T ::sbc::sofia::agent_handler
#define NTA_LEG_MAGIC_T ::sbc::sofia::leg_handler
#define NTA_OUTGOING_MAGIC_T ::sbc::sofia::response_handler
#define NTA_INCOMING_MAGIC_T ::sbc::sofia::transaction_handler

#include <sofia-sip/nta.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_wait.h>

/// The tags that make nta send `via` (sbc::b2bua::sip_interface::via) as the request's
/// top Via, with its own branch and rport, instead of the Via it makes from
/// the transport: none when `via` is empty.
#define SBC_OWN_VIA(via)                                   \
    TAG_IF(!(via).empty(), SIPTAG_VIA_STR((via).c_str())), \
        TAG_IF(!(via).empty(), NTATAG_USER_VIA(1))

namespace sbc::sofia {

/// Requests arriving on a leg (a dialog of ours).
/// Return a status >= 100 for nta to answer with it, or 0 when the handler
/// answered (or will answer) itself. Called on the su_root thread.
class leg_handler {
public:
    virtual int on_request(nta_leg_t* leg, nta_incoming_t* irq, const sip_t* sip) = 0;

protected:
    ~leg_handler() = default;
};

/// Responses to a request we sent. `sip` is null when nta synthesised the
/// response (timeout, transport error); the status is then nta_outgoing_status().
class response_handler {
public:
    virtual int on_response(nta_outgoing_t* orq, const sip_t* sip) = 0;

protected:
    ~response_handler() = default;
};

/// ACK and CANCEL for a server transaction we bound with nta_incoming_bind().
class transaction_handler {
public:
    virtual int on_ack_or_cancel(nta_incoming_t* irq, const sip_t* sip) = 0;

protected:
    ~transaction_handler() = default;
};

/// Messages nta could not match to any transaction or leg: requests
/// outside our dialogs (before nta keeps any state for them) and stray
/// responses. The handler owns `msg`: it discards it, answers it with
/// nta_msg_treply() or makes a transaction of it with nta_incoming_create().
class agent_handler {
public:
    virtual int on_stray_message(nta_agent_t* agent, msg_t* msg, sip_t* sip) = 0;

protected:
    ~agent_handler() = default;
};

/// The remote target of the dialog `leg` (RFC 3261 12.2.1.1): the URI its
/// requests are sent to, which a digest-uri must repeat (RFC 7616 3.4.6);
/// "" when the dialog has none yet.
std::string remote_target(nta_leg_t* leg);

/// `url` as text ("sip:2000@192.0.2.1;transport=tcp"); "" for null.
std::string uri_text(const url_t* url);

/// What nta keeps of a dialog and lets be read back (RFC 3261 12.2): the
/// tags, the sequence numbers each way, the route set ("<uri>" entries) and
/// the remote target. The Call-ID and the URIs are the creator's to keep.
struct leg_values {
    std::string local_tag;
    std::string remote_tag;
    std::uint32_t local_cseq = 0;
    std::uint32_t remote_cseq = 0;
    std::vector<std::string> route_set;
    std::string remote_target;
};
leg_values read_leg(nta_leg_t* leg);

extern "C" {
int leg_trampoline(nta_leg_magic_t* h, nta_leg_t* leg, nta_incoming_t* irq, const sip_t* sip);
int response_trampoline(nta_outgoing_magic_t* h, nta_outgoing_t* orq, const sip_t* sip);
int transaction_trampoline(nta_incoming_magic_t* h, nta_incoming_t* irq, const sip_t* sip);
int agent_trampoline(nta_agent_magic_t* h, nta_agent_t* agent, msg_t* msg, sip_t* sip);
}

}  // namespace sbc::sofia
