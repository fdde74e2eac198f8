// Ends the dialogs of finished calls towards trunks that may challenge the
// BYE: RFC 3261 22.1 lets a UAS challenge any request, and carriers that
// want credentials often ask for them on BYE too. A BYE sent and forgotten
// would then leave the carrier's side of the call up until its own timers
// ran out (and bill it).
//
// Object graph: the b2bua owns the closer; the closer owns each dialog handed
// to it (its nta leg, rebound here so that nothing reaches the call it came
// from) until the BYE has its final response. Runs on the su_root thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sbc/auth/digest.hpp"
#include "sbc/sofia/nta.hpp"

namespace sbc::b2bua {

class dialog_closer {
public:
    dialog_closer();
    ~dialog_closer();
    dialog_closer(const dialog_closer&) = delete;
    dialog_closer& operator=(const dialog_closer&) = delete;

    /// Sends a BYE on `leg`, which the closer now owns, answering up to one
    /// digest challenge (two with a stale nonce) with `who`; `trunk` names
    /// it in the log.
    /// `via`: the dialog's own_via().
    void close(nta_leg_t* leg, auth::credentials who, std::string trunk, std::string via = {});
    /// Frees the dialogs whose BYE is over. Call it now and then.
    void reap();
    /// Dialogs whose BYE has no final response yet.
    std::size_t pending() const noexcept;
    /// Frees every dialog, answered or not: at shutdown, while the nta
    /// agents that own their legs and transactions still exist.
    void abandon();

private:
    class closing;
    std::vector<std::unique_ptr<closing>> _closing;
};

}  // namespace sbc::b2bua
