// Where sbcctl looks for sbcd's control socket; see socket_path.hpp.
#include "tools/sbcctl/socket_path.hpp"

#include "sbc/config/config.hpp"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

namespace sbc::ctl {

result<std::string> socket_from_config(const std::string& file) {
    // Only this one key is read, and leniently: the full schema is sbcd's
    // business, and sbcctl must still work with a file sbcd would reject.
    try {
        YAML::Node root = YAML::LoadFile(file);
        if (!root.IsMap() || !root["control"]) {
            return sbc::config::control_config{}.socket;
        }
        YAML::Node control = root["control"];
        if (!control.IsMap() || !control["socket"]) {
            return sbc::config::control_config{}.socket;
        }
        YAML::Node socket = control["socket"];
        if (!socket.IsScalar() || socket.Scalar().empty()) {
            return make_error(fmt::format("{}:{}:{}: control.socket must be a path", file,
                                          socket.Mark().line + 1, socket.Mark().column + 1));
        }
        return socket.Scalar();
    } catch (const YAML::Exception& e) {
        return make_error(fmt::format("cannot read {}: {}", file, e.what()));
    }
}

result<std::string> resolve_socket(const socket_sources& sources) {
    if (sources.option) {
        return *sources.option;
    }
    if (sources.environment && !sources.environment->empty()) {
        return *sources.environment;
    }
    if (sources.config_file) {
        return socket_from_config(*sources.config_file);
    }
    for (const auto& file : sources.default_config_files) {
        if (::access(file.c_str(), R_OK) == 0) {
            return socket_from_config(file);
        }
    }
    return std::string{fallback_socket};
}

}  // namespace sbc::ctl
