// The call state document: a call_state (call_state.hpp) as JSON and back.
//
// The format, version 1, is documented in conf/README.md ("Call state
// document"). Reading checks everything: a document that is not JSON, has a
// key missing or of the wrong type, an unknown enum name, or another
// version gives an error naming the key ("legs[1].media.srtp.peer: expected
// a secret"), never an exception or a call half made.
//
// Secrets (SRTP master keys and salts) are written as {"$secret": BASE64}.
// A store that must not hold them in the clear (issue: state in Redis)
// replaces each such object with its own sealed form before writing and
// restores it after reading, finding them with for_each_secret(); nothing
// else in the document holds key material.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sbc/b2bua/call_state.hpp"
#include "sbc/common/result.hpp"

namespace sbc::b2bua {

/// `s` as a JSON document (compact, one line).
std::string to_json(const call_state& s);
/// `s` as a JSON value, for a store that edits it (for_each_secret).
nlohmann::json to_json_value(const call_state& s);

/// The call state in `text`, or why it is not one.
result<call_state> call_state_from_json(std::string_view text);
result<call_state> call_state_from_json_value(const nlohmann::json& doc);

/// Calls `f` with every object of `doc` that marks a secret (its one key
/// "$secret"), wherever it is, so a store can seal or unseal it in place.
void for_each_secret(nlohmann::json& doc, const std::function<void(nlohmann::json&)>& f);

}  // namespace sbc::b2bua
