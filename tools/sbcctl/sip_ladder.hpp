// sbcctl trace's text ladder: each SIP message of a call as an arrow
// between columns, one column per address the call's messages went
// between (the caller, the SBC's address on each leg, the callee), in the
// order they first appear, like sngrep's call flow. The columns of a call
// grow as its messages name new addresses; a header line names them again
// whenever they change.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace sbc::ctl {

class sip_ladder {
public:
    /// The lines for `trace`'s answer's messages, each ending in '\n'.
    /// Bad fields are printed as they are, never an error.
    std::string render(const nlohmann::json& trace);

private:
    struct call_columns {
        std::vector<std::string> endpoints;
        bool introduced = false;
    };
    std::string render_message(const std::string& call, const nlohmann::json& calls,
                               const nlohmann::json& m);

    std::map<std::string, call_columns> _calls;
};

}  // namespace sbc::ctl
