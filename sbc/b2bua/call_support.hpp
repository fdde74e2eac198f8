// Small pieces the files of a call (call.cpp and its operations,
// initial_invite.cpp, reinvite_relay.cpp, ...) share. For those files only.
#pragma once

#include <random>
#include <string>
#include <string_view>

#include "sbc/b2bua/dialog.hpp"
#include "sbc/common/log.hpp"
#include "sbc/config/config.hpp"
#include "sbc/sofia/leg.hpp"
#include "sbc/sofia/nta.hpp"

namespace sbc::b2bua::support {

/// The ACK of a 2xx to `invite` on `leg`: RFC 3261 13.2.2.4 gives it the
/// INVITE's CSeq number. nta sends it and needs nothing more from us.
/// `via`: the dialog's own_via().
void ack_2xx(nta_leg_t* leg, nta_outgoing_t* invite, const std::string& contact = {},
             const std::string* sdp_body = nullptr, const std::string& via = {});
/// A BYE on `leg`; the transaction completes inside nta, nobody waits for it.
void bye(nta_leg_t* leg, const std::string& via = {});
std::mt19937_64& rng();
/// A fresh Call-ID for a leg the SBC originates: random, with nothing of
/// the other leg's in it (RFC 5853 3.1; RFC 3261 8.1.1.4).
std::string new_call_id();
const char* phrase_for(int status);
/// 488 to an offer the SBC cannot take, with a Warning saying why (RFC
/// 3261 20.43: code 399, miscellaneous). `why` may quote what the peer sent.
void refuse_offer(nta_incoming_t* irq, const std::string& why);
/// An offer while another is under way (offer_answer::refusal_for): 491,
/// or 500 with a random Retry-After of 0 to 10 s (RFC 3311 5.2).
void refuse_second_offer(nta_incoming_t* irq, int status);
std::string_view body_of(const sip_t* sip);
/// "Name: value\r\n" of `trunk`'s sbc_header (X-MS-SBC), or "" without one.
std::string sbc_header_line(const config::trunk_config& trunk);
/// Keeps in `d` what identifies a dialog the SBC made with these Call-ID,
/// From (the SBC's) and To header values, which nta does not give back.
void remember_identity(dialog& d, const std::string& call_id, const std::string& from,
                       const std::string& to);
/// The handler of a dialog the call no longer uses (one a transfer replaced
/// or gave up, or a dialog taken over before it takes its leg's place): a
/// BYE closes it (200, crossing ours), an ACK is taken, anything else gets
/// 481; nothing reaches the call.
sofia::dialog_handler& closed_dialog();
/// RFC 3262 3: nta answers a PRACK for our reliable response with this status.
int accept_prack(nta_reliable_magic_t*, nta_reliable_t*, nta_incoming_t*, const sip_t*);

}  // namespace sbc::b2bua::support
