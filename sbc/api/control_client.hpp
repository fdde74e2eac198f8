// The client side of the control API, used by sbcctl and the tests.
//
// Blocking from the caller's point of view but bounded by a deadline: it
// polls a non-blocking socket, so a hung sbcd cannot hang sbcctl.
#pragma once

#include "sbc/common/result.hpp"
#include "sbc/common/unique_fd.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace sbc::api {

using deadline = std::chrono::steady_clock::time_point;

/// Connects to the control socket at `path`.
/// @return the connected socket, or an error whose message is the bare reason
///         (strerror text such as "No such file or directory"), for the caller
///         to put into its own sentence.
result<unique_fd> connect_control(const std::string& path, deadline until);

/// Sends `request` followed by '\n' and reads the reply line.
/// @param max_reply  longest reply accepted (a list of calls can be long)
/// @return the reply without its '\n' (a reply ended by EOF is accepted), or
///         an error if the deadline passes, the connection fails or the server
///         closes without replying.
result<std::string> exchange(const unique_fd& fd, std::string_view request, deadline until,
                             std::size_t max_reply = 64 * 1024 * 1024);

}  // namespace sbc::api
