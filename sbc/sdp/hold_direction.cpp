#include "sbc/sdp/hold_direction.hpp"

namespace sbc::sdp {

namespace {

direction from_flags(bool send, bool receive) noexcept {
    if (send) {
        return receive ? direction::sendrecv : direction::sendonly;
    }
    return receive ? direction::recvonly : direction::inactive;
}

bool held(direction d) noexcept { return d == direction::sendonly || d == direction::inactive; }

}  // namespace

bool sends(direction d) noexcept { return d == direction::sendrecv || d == direction::sendonly; }

bool receives(direction d) noexcept { return d == direction::sendrecv || d == direction::recvonly; }

direction relayed_offer_direction(direction offered, config::hold_style from,
                                  config::hold_style to) noexcept {
    switch (to) {
        case config::hold_style::inactive:
            return held(offered) ? direction::inactive : offered;
        case config::hold_style::sendonly:
            return held(offered) ? direction::sendonly : offered;
        case config::hold_style::pass:
            break;
    }
    // An inactive trunk's a=inactive is its hold; peers that pass holds know
    // a hold as a=sendonly (RFC 3264 8.4) and answer it a=recvonly.
    if (from == config::hold_style::inactive && offered == direction::inactive) {
        return direction::sendonly;
    }
    return offered;
}

direction relayed_answer_direction(direction answer, direction sent, direction received) noexcept {
    const bool send = receives(received) && (!receives(sent) || sends(answer));
    const bool receive = sends(received) && (!sends(sent) || receives(answer));
    return from_flags(send, receive);
}

}  // namespace sbc::sdp
