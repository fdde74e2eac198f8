// Trunk profiles: what a trunk to a cloud platform starts from.
//
// Microsoft (Teams Direct Routing, Azure Communication Services direct
// routing) and Zoom (BYOC) publish the SIP rules an SBC must follow towards
// them. A trunk that says `profile: microsoft` or `profile: zoom` takes
// those rules as the defaults of its keys; every key the trunk gives itself
// still wins, so a profile is a starting point, not a code path: the B2BUA
// reads only the resulting trunk_config and never asks which profile it came
// from. `generic` (the default) is the plain defaults of config.hpp.
//
// conf/README.md lists each profile's defaults; keep it in step.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sbc/config/config.hpp"

namespace sbc::config {

/// A trunk configuration holding the profile's defaults (name, interface
/// and peers empty).
trunk_config profile_defaults(trunk_profile profile);

/// A peer as the configuration would give it: `{uri: ..., priority: ...}`.
struct profile_peer {
    std::string uri;
    unsigned priority = 10;
};

/// The peers a trunk of this profile reaches when it names none
/// (Microsoft's three SIP proxies); empty when the profile has none, so the
/// trunk must list its own.
std::vector<profile_peer> profile_peers(trunk_profile profile);

/// "generic", "microsoft", "zoom".
const char* to_string(trunk_profile profile) noexcept;
std::optional<trunk_profile> profile_from_string(std::string_view name) noexcept;

}  // namespace sbc::config
