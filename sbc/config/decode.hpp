// Internal to sbc/config: the YAML document to config structs, then the
// cross-field checks.
//
// decode_document() checks each key on its own (types, ranges, address forms,
// unknown keys) and records where every value sat. validate() then checks
// what spans several keys: unique names, references between sections,
// overlapping listeners, peers an interface cannot reach, the media port
// range. Both only add to the problem_list; load_string() throws once at the
// end with everything found.
#pragma once

#include "sbc/config/config.hpp"
#include "sbc/config/yaml_reader.hpp"

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sbc::config::detail {

/// One value that decoded well, with where it was.
template <typename T>
struct placed {
    T value;
    std::string path;
    YAML::Mark mark;
    std::size_t owner = 0;  ///< index into cfg.interfaces / cfg.trunks of its entry
    std::string got;        ///< the YAML text, as describe() shows it
};

/// The decoded structs plus what validate() needs to point at.
struct decoded {
    config cfg;
    std::vector<placed<listen_uri>> listeners;
    std::vector<placed<peer_config>> peers;
    /// Key paths ("trunks[2]") of the entries of cfg.interfaces, cfg.trunks and
    /// cfg.routes; an entry that is not even a map is left out of both.
    std::vector<std::string> interface_paths;
    std::vector<std::string> trunk_paths;
    std::vector<std::string> route_paths;
    /// False when some interface or trunk could not be read far enough to
    /// know its name: a reference to an unknown name may then be to it, so
    /// validate() does not call it undefined.
    std::string dpdk_path;  ///< "media.dpdk" when present
    bool all_interface_names = true;
    bool all_trunk_names = true;
    /// Marks of the decoded scalar values by key path ("trunks[0].interface").
    std::map<std::string, YAML::Mark> marks;
};

decoded decode_document(problem_list& problems, const located& root);

// Helpers shared by the decoders of decode.cpp and decode_policy.cpp.
inline constexpr std::string_view name_expected =
    "a name of 1..64 letters, digits, '-', '_' or '.'";
/// Records "expected WHAT (got ...)" at `at`.
void expected(problem_list& p, const located& at, std::string_view what);
/// `message` is a whole "expected ..." text from the address parsers.
void rejected(problem_list& p, const located& at, std::string_view message);
source_mark to_source_mark(const YAML::Mark& mark);
/// The number at `key` of `m`, when it has the key, into `field`; one that
/// does not fit [min, max] is reported and leaves `field` as it was.
void read_number_into(problem_list& p, const map_reader& m, std::string_view key, std::uint64_t min,
                      std::uint64_t max, std::string_view what, unsigned& field);
/// `true` or `false`; nothing (reported) for anything else.
std::optional<bool> read_flag(problem_list& p, const located& at);
/// The scalar at `at` as one of `choices` (compared case-sensitively); any
/// other text is reported as "expected WHAT" and gives nothing.
template <typename T>
std::optional<T> read_choice(problem_list& p, const located& at, std::string_view what,
                             std::initializer_list<std::pair<std::string_view, T>> choices) {
    auto text = read_string(p, at, what);
    if (!text) {
        return std::nullopt;
    }
    for (const auto& [name, value] : choices) {
        if (*text == name) {
            return value;
        }
    }
    expected(p, at, what);
    return std::nullopt;
}
/// A name (is_valid_name), its mark recorded for validate().
std::optional<std::string> read_name(decoded& d, problem_list& p, const located& at);

// decode_policy.cpp: routing and the per-trunk policy keys.
void decode_route(decoded& d, problem_list& p, const located& at, std::size_t index);
void decode_normalize(problem_list& p, const located& at, normalization& n);
// decode_headers.cpp: a trunk's header manipulation rules.
void decode_header_rules(problem_list& p, const located& at, header_rules& rules);
void decode_limits(problem_list& p, const located& at, trunk_limits& limits);
void decode_session_timer(problem_list& p, const located& at, session_timer_config& st);
// decode_auth.cpp: a trunk's auth, register, challenge and registrar keys.
void decode_trunk_auth(decoded& d, problem_list& p, const map_reader& trunk, trunk_config& tc);
void decode_flood(problem_list& p, const located& at, flood_config& flood);
/// An address block or a list of them.
std::vector<cidr> read_sources(problem_list& p, const located& at);
std::optional<cdr_config> decode_cdr(decoded& d, problem_list& p, const located& at);
// decode_names.cpp: the SBC's names and how it resolves its peers'.
void decode_fqdn(problem_list& p, const located& at, interface_config& ic);
void decode_dns(problem_list& p, const located& at, dns_config& dns);
// decode_cluster.cpp: this node's place in a redundant pair.
std::optional<cluster_config> decode_cluster(decoded& d, problem_list& p, const located& at);

// decode_metrics.cpp: the Prometheus exporter's address.
std::optional<metrics_config> decode_metrics(problem_list& p, const located& at);

void validate(const decoded& d, problem_list& problems);

/// A name for interfaces, trunks and routes: it shows up in logs, metrics
/// labels and the control API, so letters, digits, '-', '_', '.' only.
bool is_valid_name(std::string_view name) noexcept;

/// A header name as RFC 3261 25.1 defines a token.
bool is_header_token(std::string_view name) noexcept;

}  // namespace sbc::config::detail
