// How a hold crosses the SBC: the direction attribute of an offer relayed to
// a trunk, given how the trunks on either side state holds (trunk key
// `hold`), and of the answer relayed back, which must fit the offer its
// receiver made (RFC 3264 6.1).
//
// The SBC relays one offer as two: the offer it received on one leg and the
// offer it sends on the other may differ in direction (a=inactive from
// Microsoft leaves as a=sendonly towards a PBX, a PBX's a=sendonly reaches
// Microsoft as a=inactive). The answer then answers the SBC's offer, not the
// original one, and is mapped back here. Pure functions; no state, no I/O.
#pragma once

#include "sbc/config/config.hpp"
#include "sbc/sdp/session_description.hpp"

namespace sbc::sdp {

/// Whether a peer stating `d` sends media, and whether it takes media
/// (RFC 3264 5.1: the direction is from the point of view of its sender).
bool sends(direction d) noexcept;
bool receives(direction d) noexcept;

/// The direction a relayed offer states towards a trunk whose hold style is
/// `to`, from the direction `offered` the offerer stated (after
/// stated_direction) on a trunk whose hold style is `from`. A held stream
/// (sendonly or inactive) becomes a=inactive towards an `inactive` trunk and
/// a=sendonly towards a `sendonly` one; an a=inactive hold from an
/// `inactive` trunk becomes a=sendonly towards a `pass` trunk, the
/// conventional hold. Anything else passes as it is.
direction relayed_offer_direction(direction offered, config::hold_style from,
                                  config::hold_style to) noexcept;

/// The direction of the answer the SBC relays to an offerer that stated
/// `received` in its offer, when the SBC offered `sent` to the answerer and
/// the answerer stated `answer`. RFC 3264 6.1: the answer may send only if
/// the offer receives, and receive only if the offer sends. Where the SBC's
/// own offer forced the answerer's choice (it could not send because the
/// SBC's offer did not take media, or not receive because the SBC's offer
/// did not send), that choice says nothing of the answerer's will and the
/// offerer's own offer decides: a PBX's a=sendonly, offered to Microsoft as
/// a=inactive and answered a=inactive (the only answer allowed), is
/// answered a=recvonly, the answer RFC 3264 8.4 gives a hold. Where nothing
/// was converted this is the clamp alone, and a fitting answer passes.
direction relayed_answer_direction(direction answer, direction sent, direction received) noexcept;

}  // namespace sbc::sdp
