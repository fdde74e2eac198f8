// The topology-hiding header allow-list (RFC 5853 section 3.1).
//
// A B2BUA builds each outgoing request from scratch; headers of the incoming
// leg reach the other leg only when the receiving trunk's forward_headers
// names them. Headers that carry one side's addresses or dialog identity can
// never be forwarded, whatever the configuration says.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <sofia-sip/sip.h>

#include "sbc/config/config.hpp"
#include "sbc/policy/header_rules.hpp"

namespace sbc::policy {

/// True for the headers a B2BUA always builds itself (Via, Route, Contact, Call-ID, ...).
bool is_never_forwarded(std::string_view header_name) noexcept;

/// True when `header_name` may be carried across: listed in `allow` (case-
/// insensitively) and not one of the never-forwarded headers.
bool may_forward(std::string_view header_name, const std::vector<std::string>& allow) noexcept;

/// Rewrites the numbers in a forwarded P-Asserted-Identity or Diversion
/// value (number normalization); returns the new value.
using number_rewrite = std::function<std::string(config::number_field, std::string_view)>;

/// Every header of `sip` in wire order (long names for the headers sofia
/// knows, the name as written for the others), without the start line and
/// the body.
std::vector<header_field> request_headers(const sip_t* sip);

/// The fields of `all` that `allow` lets through (may_forward), with the
/// numbers of P-Asserted-Identity and Diversion through `rewrite`.
std::vector<header_field> allowed_fields(const std::vector<header_field>& all,
                                         const std::vector<std::string>& allow,
                                         const number_rewrite& rewrite = {});

/// "Name: value\r\n" lines, ready for SIPTAG_HEADER_STR().
std::string header_lines(const std::vector<header_field>& fields);

/// The allowed headers of `sip`, as "Name: value\r\n" lines ready for
/// SIPTAG_HEADER_STR(); empty when none is allowed. P-Asserted-Identity and
/// Diversion values go through `rewrite` when it is given.
std::string forwarded_headers(const sip_t* sip, const std::vector<std::string>& allow,
                              const number_rewrite& rewrite = {});

}  // namespace sbc::policy
