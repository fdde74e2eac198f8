// For the tests of one top-level configuration section: a whole
// configuration with that section first (so that its lines are lines 1,
// 2, ... of the file, as the errors name them), and the problems loading
// it reports.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sbc/config/config.hpp"

namespace section_config {

/// `section` followed by one interface, one trunk and one route.
inline std::string with_section(const std::string& section) {
    return section +
           "interfaces:\n"
           "  - {name: a, listen: [udp://127.0.1.1:5060], media_address: 127.0.1.1}\n"
           "trunks:\n"
           "  - {name: t, interface: a, peers: [127.0.1.2]}\n"
           "routes:\n"
           "  - {to_trunk: t}\n";
}

/// The problems of loading `yaml` as t.yaml; fails the test if it loads.
inline std::vector<std::string> problems_of(const std::string& yaml) {
    try {
        sbc::config::load_string(yaml, "t.yaml");
    } catch (const sbc::config::config_error& e) {
        return e.problems();
    }
    FAIL("the configuration loaded, a config_error was expected:\n" << yaml);
    return {};
}

}  // namespace section_config
