// JSON encoding of the control API's messages, shared by sbcd and sbcctl.
//
// The field names live here and only here. Encoding follows nlohmann::json's
// ADL convention (`nlohmann::json j = status;`); decoding of replies that came
// over the socket goes through decode_*(), which return an error instead of
// throwing when a field is missing or has the wrong type.
//
//   request: {"cmd": "status"} | {"cmd": "calls"}
//   status:  {"version", "uptime_seconds", "active_calls",
//             "interfaces": [{"name", "listen": [...], "media_address"}],
//             "drain": null | {"since", "deadline", "seconds_left", "calls_left"}}
//   calls:   {"calls": [{"id", "from_trunk", "to_trunk", "state",
//             "duration_seconds", "packets_a_to_b", "packets_b_to_a"}]}
//   drain:   request {"cmd": "drain", "deadline": N, "cancel": bool, "hand_over": bool},
//            reply {"ok": true, "drain": null | {...as in status}}
//   error:   {"error": "..."}
#pragma once

#include "sbc/api/control_server.hpp"
#include "sbc/common/result.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sbc::api {

void to_json(nlohmann::json& j, const interface_status& s);
void to_json(nlohmann::json& j, const drain_status& d);
void to_json(nlohmann::json& j, const status_info& s);
void to_json(nlohmann::json& j, const call_info& c);

/// These throw nlohmann::json::exception on a missing field or a wrong type;
/// use decode_status() / decode_calls() on data from a socket.
void from_json(const nlohmann::json& j, interface_status& s);
void from_json(const nlohmann::json& j, status_info& s);
void from_json(const nlohmann::json& j, drain_status& d);
void from_json(const nlohmann::json& j, call_info& c);

/// {"calls": [...]}, the reply to "calls".
nlohmann::json encode_calls(const std::vector<call_info>& calls);

result<status_info> decode_status(const nlohmann::json& reply);
result<std::vector<call_info>> decode_calls(const nlohmann::json& reply);
/// The "drain" of a reply to "drain": nullopt when the node admits calls.
result<std::optional<drain_status>> decode_drain(const nlohmann::json& reply);

/// {"cmd": cmd}
nlohmann::json make_request(std::string_view cmd);
/// {"error": message}
nlohmann::json make_error_reply(std::string_view message);
/// The message of an {"error": "..."} reply; nullopt for any other reply.
std::optional<std::string> reply_error(const nlohmann::json& reply);

/// One line of the wire protocol, without the '\n'. Never throws on strings
/// that are not valid UTF-8 (they can come from SIP): bad bytes become U+FFFD.
std::string to_line(const nlohmann::json& j);

/// Parses one line; the error names what is wrong with it.
result<nlohmann::json> parse_line(std::string_view line);

}  // namespace sbc::api
