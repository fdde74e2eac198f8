#include "sbc/b2bua/call_support.hpp"

#include <fmt/format.h>
#include <sofia-sip/sip_status.h>

#include "sbc/b2bua/offer_answer.hpp"
#include "sbc/b2bua/sip_interface.hpp"
#include "sbc/common/c_handle.hpp"
#include "sbc/sofia/reply.hpp"

namespace sbc::b2bua::support {

// The ACK of a 2xx to `invite` on `leg`: RFC 3261 13.2.2.4 gives it the
// INVITE's CSeq number. nta sends it and needs nothing more from us.
void ack_2xx(nta_leg_t* leg, nta_outgoing_t* invite, const std::string& contact,
             const std::string* sdp_body, const std::string& via) {
    const auto cseq = fmt::format("{} ACK", nta_outgoing_cseq(invite));
    nta_outgoing_t* ack = nta_outgoing_tcreate(
        leg, nullptr, nullptr, nullptr, SIP_METHOD_ACK, nullptr, SIPTAG_CSEQ_STR(cseq.c_str()),
        TAG_IF(!contact.empty(), SIPTAG_CONTACT_STR(contact.c_str())),
        TAG_IF(sdp_body, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
        TAG_IF(sdp_body, SIPTAG_PAYLOAD_STR(sdp_body ? sdp_body->c_str() : "")), SBC_OWN_VIA(via),
        TAG_END());
    nta_outgoing_destroy(ack);
}

// A BYE on `leg`; the transaction completes inside nta, nobody waits for it.
void bye(nta_leg_t* leg, const std::string& via) {
    nta_outgoing_t* orq = nta_outgoing_tcreate(leg, nullptr, nullptr, nullptr, SIP_METHOD_BYE,
                                               nullptr, SBC_OWN_VIA(via), TAG_END());
    nta_outgoing_destroy(orq);
}

std::mt19937_64& rng() {
    static std::mt19937_64 engine{std::random_device{}()};
    return engine;
}

// A fresh Call-ID for the outbound leg: random, with nothing of the inbound
// one in it (RFC 5853 3.1; RFC 3261 8.1.1.4 asks for global uniqueness).
std::string new_call_id() { return fmt::format("{:016x}{:016x}", rng()(), rng()()); }

const char* phrase_for(int status) {
    const char* p = sip_status_phrase(status);
    return p != nullptr ? p : "Unknown";
}

// 488 to an offer the SBC cannot take, with a Warning saying why (RFC 3261
// 20.43: code 399, miscellaneous). `why` may quote what the peer sent.
void refuse_offer(nta_incoming_t* irq, const std::string& why) {
    const auto warning = sofia::warning_value("sbc", why);
    sofia::treply(irq, SIP_488_NOT_ACCEPTABLE, SIPTAG_WARNING_STR(warning.c_str()));
}

// An offer while another is under way (offer_answer::refusal_for): 491,
// or 500 with a random Retry-After of 0 to 10 s (RFC 3311 5.2).
void refuse_second_offer(nta_incoming_t* irq, int status) {
    if (status == 491) {
        sofia::treply(irq, SIP_491_REQUEST_PENDING);
        return;
    }
    const auto retry = std::to_string(offer_retry_after());
    sofia::treply(irq, SIP_500_INTERNAL_SERVER_ERROR, SIPTAG_RETRY_AFTER_STR(retry.c_str()));
}

std::string sbc_header_line(const config::trunk_config& trunk) {
    return trunk.sbc_header
               ? fmt::format("{}: {}\r\n", trunk.sbc_header->name, trunk.sbc_header->value)
               : std::string();
}

std::string_view body_of(const sip_t* sip) {
    if (sip == nullptr || sip->sip_payload == nullptr) {
        return {};
    }
    return {sip->sip_payload->pl_data, sip->sip_payload->pl_len};
}

// RFC 3262 3: nta answers a PRACK for our reliable response with this status.
int accept_prack(nta_reliable_magic_t*, nta_reliable_t*, nta_incoming_t*, const sip_t*) {
    return 200;
}

void remember_identity(dialog& d, const std::string& call_id, const std::string& from,
                       const std::string& to) {
    c_handle<su_home_t, su_home_unref> home(
        static_cast<su_home_t*>(su_home_new(sizeof(su_home_t))));
    if (!home) {
        return;
    }
    const sip_from_t* f = sip_from_make(home.get(), from.c_str());
    const sip_to_t* t = sip_to_make(home.get(), to.c_str());
    d.call_id = call_id;
    d.local_uri = f != nullptr ? sofia::uri_text(f->a_url) : "";
    d.remote_uri = t != nullptr ? sofia::uri_text(t->a_url) : "";
}

namespace {

class closed_dialog_handler final : public sofia::dialog_handler {
public:
    int on_request(sofia::server_transaction&, const sip_t* sip) override {
        switch (sip->sip_request->rq_method) {
            case sip_method_bye:
                return 200;
            case sip_method_ack:
                return 0;
            default:
                return 481;  // RFC 3261 12.2.2: no dialog of ours to act on
        }
    }
};

}  // namespace

sofia::dialog_handler& closed_dialog() {
    static closed_dialog_handler handler;
    return handler;
}

}  // namespace sbc::b2bua::support
