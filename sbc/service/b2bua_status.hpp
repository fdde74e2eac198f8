// What sbcd's STATUS= line (status_line.hpp) says, read from the b2bua:
// its calls, its trunks' peers, its cluster role and drain. On the loop.
#pragma once

#include "sbc/service/status_line.hpp"

namespace sbc::b2bua {
class b2bua;
}

namespace sbc::service {

/// The summary of `b` now; `clustered`: the node has a cluster: section
/// (its role is then b2bua::active()).
summary summarize(b2bua::b2bua& b, bool clustered);

}  // namespace sbc::service
