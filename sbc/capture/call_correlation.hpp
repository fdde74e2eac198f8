// Which call a SIP message belongs to, for those that export messages one
// by one (HEP): a B2BUA's call has two dialogs, each with its own Call-ID,
// and a capture server shows them as one call only when both carry the
// same correlation ID. sbc's is the Call-ID of the call's first inbound
// leg (Homer's convention: a leg's correlation ID names the leg it came
// from); a Call-ID no call has claimed is its own correlation ID.
#pragma once

#include <string>
#include <string_view>

namespace sbc::capture {

class call_correlation {
public:
    /// su_root thread. The correlation ID of the call whose leg has
    /// `call_id`, or `call_id` itself when no call has claimed it.
    virtual std::string correlation_of(std::string_view call_id) const = 0;

protected:
    ~call_correlation() = default;
};

}  // namespace sbc::capture
