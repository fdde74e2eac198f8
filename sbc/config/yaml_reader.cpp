#include "sbc/config/yaml_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstddef>

namespace sbc::config::detail {

namespace {

// Long enough for any address or regex a human would write; a pasted
// certificate or a binary blob is cut short so the message stays readable.
constexpr std::size_t max_quoted = 80;

std::string escape(std::string_view text) {
    std::string out;
    const auto shown = std::min(text.size(), max_quoted);
    for (std::size_t i = 0; i < shown; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7f) {
            out += fmt::format("\\x{:02x}", c);
        } else {
            out += static_cast<char>(c);
        }
    }
    if (shown < text.size()) {
        out += "...";
    }
    return out;
}

// Levenshtein distance, enough to suggest "listen" for "lisen".
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string unknown_key_message(std::string_view key,
                                std::initializer_list<std::string_view> allowed) {
    std::string_view best;
    std::size_t best_distance = 3;  // suggest only near misses
    if (key.size() <= 64) {
        for (auto candidate : allowed) {
            const auto d = edit_distance(key, candidate);
            if (d < best_distance) {
                best_distance = d;
                best = candidate;
            }
        }
    }
    std::string list;
    for (auto candidate : allowed) {
        list += list.empty() ? "" : ", ";
        list += candidate;
    }
    std::string message = fmt::format("unknown key {}", quote(key));
    if (!best.empty()) {
        message += fmt::format(" (did you mean '{}'?)", best);
    }
    return message + "; expected one of: " + list;
}

// The mark of a value: its key's when the value is empty (see located).
YAML::Mark value_mark(const YAML::Node& value, const YAML::Mark& fallback) {
    if (value.IsNull() || value.Mark().is_null()) {
        return fallback;
    }
    return value.Mark();
}

}  // namespace

std::string quote(std::string_view text) { return "'" + escape(text) + "'"; }

std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Scalar:
            return quote(node.Scalar());
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a map";
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            return "nothing";
    }
    return "nothing";
}

std::pair<int, int> position(const YAML::Mark& mark) noexcept {
    if (mark.is_null() || mark.line < 0 || mark.column < 0) {
        return {1, 1};
    }
    return {mark.line + 1, mark.column + 1};
}

void problem_list::add(const YAML::Mark& at, std::string_view path, std::string_view what) {
    const auto [line, column] = position(at);
    std::string text = path.empty()
                           ? fmt::format("{}:{}:{}: {}", _file, line, column, what)
                           : fmt::format("{}:{}:{}: {}: {}", _file, line, column, path, what);
    _problems.push_back(problem{line, column, std::move(text)});
}

std::vector<std::string> problem_list::messages() const {
    auto sorted = _problems;
    std::stable_sort(sorted.begin(), sorted.end(), [](const problem& a, const problem& b) {
        return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    std::vector<std::string> out;
    for (std::size_t i = 0; i < sorted.size() && i < max_reported; ++i) {
        out.push_back(std::move(sorted[i].text));
    }
    if (sorted.size() > max_reported) {
        out.push_back(
            fmt::format("{}: {} more problems not shown", _file, sorted.size() - max_reported));
    }
    return out;
}

std::string join_path(std::string_view parent, std::string_view key) {
    if (parent.empty()) {
        return std::string(key);
    }
    return fmt::format("{}.{}", parent, key);
}

std::optional<map_reader> map_reader::open(problem_list& problems, const located& at,
                                           std::initializer_list<std::string_view> allowed,
                                           std::string_view expected) {
    if (!at.node.IsMap()) {
        problems.add(at.mark, at.path,
                     fmt::format("expected {} (got {})", expected, describe(at.node)));
        return std::nullopt;
    }
    map_reader reader(problems, at);
    for (auto it = at.node.begin(); it != at.node.end(); ++it) {
        const YAML::Node key = it->first;
        const YAML::Node value = it->second;
        const YAML::Mark key_mark = key.Mark().is_null() ? at.mark : key.Mark();
        if (!key.IsScalar()) {
            problems.add(key_mark, join_path(at.path, "?"),
                         fmt::format("expected a key name (got {})", describe(key)));
            continue;
        }
        const std::string& name = key.Scalar();
        const auto path = join_path(at.path, escape(name));
        if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
            problems.add(key_mark, path, unknown_key_message(name, allowed));
            continue;
        }
        if (auto first = reader.find(name)) {
            // yaml-cpp keeps both entries of a repeated key; which one would win
            // is not obvious to a reader of the file, so neither does.
            const auto line = position(first->mark).first;
            problems.add(key_mark, path,
                         fmt::format("duplicate key; first given on line {}", line));
            continue;
        }
        reader._entries.emplace_back(name, located{value, value_mark(value, key_mark), path});
    }
    return reader;
}

std::optional<located> map_reader::find(std::string_view key) const {
    for (const auto& [name, value] : _entries) {
        if (name == key) {
            return value;
        }
    }
    return std::nullopt;
}

std::optional<located> map_reader::require(std::string_view key, std::string_view expected) const {
    auto value = find(key);
    if (!value) {
        _problems->add(_self.mark, join_path(_self.path, key),
                       fmt::format("required key missing: expected {}", expected));
    }
    return value;
}

std::optional<std::string> read_string(problem_list& problems, const located& at,
                                       std::string_view expected) {
    if (!at.node.IsScalar()) {
        problems.add(at.mark, at.path,
                     fmt::format("expected {} (got {})", expected, describe(at.node)));
        return std::nullopt;
    }
    return at.node.Scalar();
}

std::optional<std::uint64_t> read_number(problem_list& problems, const located& at,
                                         std::uint64_t min, std::uint64_t max,
                                         std::string_view expected) {
    auto fail = [&]() -> std::optional<std::uint64_t> {
        problems.add(at.mark, at.path,
                     fmt::format("expected {} (got {})", expected, describe(at.node)));
        return std::nullopt;
    };
    if (!at.node.IsScalar()) {
        return fail();
    }
    const std::string& text = at.node.Scalar();
    const bool digits_only = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return c >= '0' && c <= '9';
    });
    if (!digits_only) {
        return fail();
    }
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
        return fail();
    }
    return value;
}

std::vector<located> read_list(problem_list& problems, const located& at, std::string_view expected,
                               bool need_one) {
    if (!at.node.IsSequence()) {
        problems.add(at.mark, at.path,
                     fmt::format("expected {} (got {})", expected, describe(at.node)));
        return {};
    }
    if (need_one && at.node.size() == 0) {
        problems.add(
            at.mark, at.path,
            fmt::format("expected {}, with at least one entry (got an empty list)", expected));
        return {};
    }
    std::vector<located> entries;
    std::size_t index = 0;
    for (const auto& entry : at.node) {
        const YAML::Mark mark = entry.Mark().is_null() ? at.mark : entry.Mark();
        entries.push_back(located{entry, mark, fmt::format("{}[{}]", at.path, index)});
        ++index;
    }
    return entries;
}

}  // namespace sbc::config::detail
