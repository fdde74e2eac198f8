// Internal to sbc/config: reading a yaml-cpp node tree while collecting problems.
//
// The decoder (decode.cpp) walks the document with these helpers. Each helper
// checks one node against what the schema expects; when it does not fit, it
// records "file:line:column: key.path: expected ... (got '...')" in the
// problem_list and returns nothing, so the walk goes on and every problem of
// the file is reported at once. Nothing here throws on odd input: type tests
// come before every access, and numbers are parsed from the scalar text.
//
// Why not YAML::convert<T> (STYLE.md's default): its decode() returns a bool,
// so it can neither say which key was wrong and why nor go on to find the next
// problem. The structs keep their in-class defaults; these helpers replace
// convert<T> only as the way to fill them.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sbc::config::detail {

/// "'text'" for a scalar (shortened, control characters escaped), "a list",
/// "a map" or "nothing" for a null node: the X of "(got X)".
std::string describe(const YAML::Node& node);

/// "'text'" quoted the way describe() quotes scalars.
std::string quote(std::string_view text);

/// The problems found in one file, in the order of their position.
class problem_list {
public:
    /// More than this and the rest are summarised in one line.
    static constexpr std::size_t max_reported = 200;

    explicit problem_list(std::string file) : _file(std::move(file)) {}

    /// Records "file:line:column: path: what". A null mark counts as 1:1.
    void add(const YAML::Mark& at, std::string_view path, std::string_view what);

    bool empty() const noexcept { return _problems.empty(); }
    const std::string& file() const noexcept { return _file; }

    /// The messages, sorted by line and column, capped at max_reported.
    std::vector<std::string> messages() const;

private:
    struct problem {
        int line;
        int column;
        std::string text;
    };
    std::string _file;
    std::vector<problem> _problems;
};

/// A node and where it sits: its key path ("trunks[1].peers[0]") and the mark
/// to point at. For an empty value ("key:" and nothing) yaml-cpp marks the next
/// token, often on the next line, so the key's own mark stands in for it.
struct located {
    YAML::Node node;
    YAML::Mark mark;
    std::string path;
};

/// "a.b", or "b" at the top level.
std::string join_path(std::string_view parent, std::string_view key);

/// The keys of one YAML map, checked against the keys the schema allows.
class map_reader {
public:
    /// Nothing (and a problem) when `at` is not a map. Unknown, duplicate and
    /// non-scalar keys are reported; the allowed ones can then be found.
    static std::optional<map_reader> open(problem_list& problems, const located& at,
                                          std::initializer_list<std::string_view> allowed,
                                          std::string_view expected);

    /// The value of `key`, if the map has it.
    std::optional<located> find(std::string_view key) const;

    /// The value of `key`; reports "required key missing: expected ..." if absent.
    std::optional<located> require(std::string_view key, std::string_view expected) const;

    const located& self() const noexcept { return _self; }

private:
    map_reader(problem_list& problems, located self)
        : _problems(&problems), _self(std::move(self)) {}

    problem_list* _problems;  // outlives the reader: both live in one load call
    located _self;
    std::vector<std::pair<std::string, located>> _entries;
};

/// A scalar's text; nothing (and a problem) for a list, a map or an empty value.
std::optional<std::string> read_string(problem_list& problems, const located& at,
                                       std::string_view expected);

/// A decimal number in [min, max]; signs, fractions, hex and overflow are all
/// "expected ... (got '...')".
std::optional<std::uint64_t> read_number(problem_list& problems, const located& at,
                                         std::uint64_t min, std::uint64_t max,
                                         std::string_view expected);

/// The entries of a list, each with its path ("peers[0]") and mark. None (and
/// a problem) when `at` is not a list, or is empty and `need_one`.
std::vector<located> read_list(problem_list& problems, const located& at, std::string_view expected,
                               bool need_one);

/// 1-based line and column of a mark; 1:1 for a null mark.
std::pair<int, int> position(const YAML::Mark& mark) noexcept;

}  // namespace sbc::config::detail
