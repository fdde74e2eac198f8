// Where sbcctl looks for sbcd's control socket.
//
// First match wins:
//   1. --socket PATH
//   2. the SBC_SOCKET environment variable
//   3. control.socket in --config FILE, if given (an unreadable FILE is an error)
//   4. control.socket in the first readable default configuration file
//      (/etc/sbc/sbc.yaml, then conf/sbc.yaml under the current directory);
//      a file without the key means sbcd's own default
//   5. /tmp/sbcd.sock, where the demo runs sbcd when no configuration is
//      installed
#pragma once

#include "sbc/common/result.hpp"

#include <optional>
#include <string>
#include <vector>

namespace sbc::ctl {

struct socket_sources {
    std::optional<std::string> option;       ///< --socket
    std::optional<std::string> environment;  ///< $SBC_SOCKET
    std::optional<std::string> config_file;  ///< --config
    std::vector<std::string> default_config_files{"/etc/sbc/sbc.yaml", "conf/sbc.yaml"};
};

inline constexpr const char* fallback_socket = "/tmp/sbcd.sock";

/// The socket path to use; an error if a configuration file that must be read
/// cannot be, or its control.socket is not a string.
result<std::string> resolve_socket(const socket_sources& sources);

/// control.socket of one YAML file (sbcd's default when the key is absent).
result<std::string> socket_from_config(const std::string& file);

}  // namespace sbc::ctl
