// Which final status the caller sees when the callee's leg fails.
//
// A B2BUA answers its own leg; some statuses only make sense on the hop that
// produced them and would mislead, or leak the other network, if copied.
#pragma once

namespace sbc::b2bua {

struct mapped_status {
    int code;
    bool same_as_received;  ///< true: keep the callee's reason phrase
};

/// Maps a final (>= 200) status received on the outbound leg to the one sent
/// on the inbound leg.
mapped_status map_final_status(int received) noexcept;

}  // namespace sbc::b2bua
