// Header manipulation ("SIP normalization"): a trunk's add, set, remove,
// set_param and remove_param rules applied to the headers of a request.
//
// The B2BUA builds every outgoing request itself (RFC 5853 3.1, topology
// hiding). A trunk's inbound rules run on the headers of a request received
// from it, before the receiving trunk's forward_headers allow-list
// (header_filter.hpp) picks what is carried across; its outbound rules run on
// the headers the SBC is about to send to it, after the allow-list, From and
// To included. The configuration (sbc/config/decode_headers.cpp) refuses
// rules on the headers the SBC builds for the dialog, and apply_header_rules()
// skips such rules as well, so that a rule made in code cannot reopen a leak
// either.
//
// Everything here works on plain strings and runs on whichever thread calls
// it. Values come from the network: nothing is asserted about them, a
// parameter list that does not parse leaves its header as it was, and no
// expanded value can carry CR, LF or NUL into a header line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sbc/config/config.hpp"

namespace sbc::policy {

/// One header line: its name as written and its value.
struct header_field {
    std::string name;
    std::string value;
};

/// What ${...} in a rule's value stands for.
struct rule_context {
    std::string_view ruri_user;
    std::string_view from_user;
    std::string_view to_user;
    std::string_view from_trunk;
    std::string_view to_trunk;
    std::string_view source_ip;
    /// The incoming request's headers, for ${header:Name}; may be null. It may
    /// be the very vector the rules change: each value is expanded before the
    /// rule that uses it changes anything.
    const std::vector<header_field>* request_headers = nullptr;
    /// The method of the request the rules run on: only rules that list it
    /// in their `methods` apply.
    std::string_view method = "INVITE";
};

/// `value` with each ${...} replaced; never contains CR, LF or NUL.
///
/// ${ruri_user}, ${from_user}, ${to_user}, ${from_trunk}, ${to_trunk} and
/// ${source_ip} come from `ctx`; ${header:Name} is the value of the first line
/// of that header in ctx.request_headers (compact forms match their long
/// names), empty when there is none. "$$" is a literal "$"; any other "$" not
/// followed by "{" stands for itself. The configuration refuses unknown
/// references and an unterminated "${", so here they expand to nothing (an
/// unterminated one together with the rest of the value). ${header:Name} of a
/// header the SBC builds for the dialog (config::is_never_forwarded_header)
/// is empty too: copying another leg's Via or Contact would undo topology
/// hiding.
std::string expand(std::string_view value, const rule_context& ctx);

/// Applies `rules` in order to `headers`; each rule sees what the rules
/// before it left. Names are compared case-insensitively, a compact form
/// (RFC 3261 7.3.3, "f") as its long name ("From").
///
/// - add: appends "header: value", even when the header is there already.
/// - set: the first line of the header takes the value (and the rule's
///   spelling of the name), later lines of it are removed; appended if none.
/// - remove: removes every line of the header.
/// - set_param / remove_param: on every line of the header, and on each
///   element of a comma-separated list (commas inside quotes or <...> do not
///   split), sets or removes the header parameter `param`, compared
///   case-insensitively. Header parameters follow the ">" of a name-addr;
///   without "<...>" they follow the URI (RFC 3261 20.10: such a URI has no
///   parameters of its own). set_param replaces the first parameter of that
///   name in place and drops later ones, or appends ";param=value"; an empty
///   rule value makes a flag ";param". An expanded value that is not a token,
///   an IPv6 reference or a quoted string is sent as a quoted string.
///   Free-text headers (Subject, Date, Organization, User-Agent, Server,
///   Retry-After) are never split at commas.
///
/// Rules that would change a header the SBC builds for the dialog are
/// skipped: any on config::is_never_forwarded_header() names, except
/// set_param and remove_param on From and To with a parameter other than tag.
/// So are rules whose header or parameter name is not a token, and rules
/// whose `methods` do not hold ctx.method.
void apply_header_rules(const std::vector<config::header_rule>& rules,
                        std::vector<header_field>& headers, const rule_context& ctx);

/// True when `a` and `b` name the same header: ASCII case-insensitive, a
/// compact form ("f", "i", "x", ...) as its long name.
bool same_header(std::string_view a, std::string_view b) noexcept;

}  // namespace sbc::policy
