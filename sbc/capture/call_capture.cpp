#include "sbc/capture/call_capture.hpp"

#include <algorithm>
#include <cctype>

namespace sbc::capture {
namespace {

// Messages whose Call-ID no call has claimed yet: enough for a call's
// first INVITE and what answers it before the B2BUA makes the call; the
// rest (OPTIONS, REGISTER, strays) pass through and are forgotten.
constexpr std::size_t max_pending_dialogs = 64;
constexpr std::size_t max_pending_messages = 16;

std::string summary_of(const sip_packet& p) {
    const sip_t* sip = p.sip;
    if (sip != nullptr && sip->sip_request != nullptr && sip->sip_request->rq_method_name) {
        return sip->sip_request->rq_method_name;
    }
    if (sip != nullptr && sip->sip_status != nullptr) {
        std::string s = std::to_string(sip->sip_status->st_status);
        if (sip->sip_status->st_phrase != nullptr) {
            s += ' ';
            s += sip->sip_status->st_phrase;
        }
        if (sip->sip_cseq != nullptr && sip->sip_cseq->cs_method_name != nullptr) {
            s += " (";
            s += sip->sip_cseq->cs_method_name;
            s += ')';
        }
        return s;
    }
    // Not SIP sofia understood: its first line, bounded.
    auto line = p.bytes.substr(0, std::min<std::size_t>(p.bytes.find('\n'), 60));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
        line.remove_suffix(1);
    }
    return std::string(line);
}

bool contains(std::string_view haystack, std::string_view needle) noexcept {
    return !needle.empty() && haystack.find(needle) != std::string_view::npos;
}

}  // namespace

bool matches(const captured_call& c, std::string_view filter) noexcept {
    if (filter.empty() || c.id == filter || contains(c.from, filter) || contains(c.to, filter)) {
        return true;
    }
    return std::find(c.call_ids.begin(), c.call_ids.end(), filter) != c.call_ids.end() ||
           std::find(c.trunks.begin(), c.trunks.end(), filter) != c.trunks.end();
}

call_capture::call_capture(std::size_t calls, std::size_t messages_per_call)
    : _keep_calls(calls), _messages_per_call(calls == 0 ? 0 : messages_per_call) {}

captured_message call_capture::make_message(const sip_packet& p, std::string call_id) {
    captured_message m;
    m.seq = ++_seq;
    m.direction = p.direction;
    m.transport = p.transport;
    m.local = p.local;
    m.remote = p.remote;
    m.wall_us = p.wall_us;
    m.call_id = std::move(call_id);
    m.summary = summary_of(p);
    m.bytes.assign(p.bytes);
    return m;
}

void call_capture::keep(captured_call& c, captured_message m) {
    if (c.messages.size() >= _messages_per_call) {
        ++c.dropped;
        return;
    }
    c.messages.push_back(std::move(m));
}

void call_capture::on_sip(const sip_packet& p) noexcept {
    if (_messages_per_call == 0) {
        return;
    }
    try {
        std::string call_id(call_id_of(p));
        if (call_id.empty()) {
            return;
        }
        if (auto it = _by_call_id.find(call_id); it != _by_call_id.end()) {
            keep(*it->second, make_message(p, std::move(call_id)));
            return;
        }
        auto pending = std::find_if(_pending.begin(), _pending.end(),
                                    [&](const pending_dialog& d) { return d.call_id == call_id; });
        if (pending == _pending.end()) {
            if (_pending.size() >= max_pending_dialogs) {
                _pending.pop_front();
            }
            _pending.push_back({call_id, {}});
            pending = std::prev(_pending.end());
        }
        if (pending->messages.size() >= max_pending_messages) {
            ++_unclaimed_dropped;
            return;
        }
        pending->messages.push_back(make_message(p, std::move(call_id)));
    } catch (...) {
        // Out of memory: this message goes uncaptured; the call goes on.
    }
}

std::string call_capture::correlation_of(std::string_view call_id) const {
    auto it = _by_call_id.find(std::string(call_id));
    return it != _by_call_id.end() ? it->second->correlation : std::string(call_id);
}

void call_capture::claim(std::string_view id, std::string_view call_id, std::string_view trunk,
                         std::string_view from, std::string_view to) {
    if (call_id.empty()) {
        return;
    }
    auto& c = _by_id[std::string(id)];
    if (!c) {
        c = std::make_shared<captured_call>();
        c->id = id;
        c->correlation = call_id;
        c->from = from;
        c->to = to;
    }
    if (std::find(c->call_ids.begin(), c->call_ids.end(), call_id) == c->call_ids.end()) {
        c->call_ids.emplace_back(call_id);
    }
    if (!trunk.empty() && std::find(c->trunks.begin(), c->trunks.end(), trunk) == c->trunks.end()) {
        c->trunks.emplace_back(trunk);
    }
    _by_call_id[std::string(call_id)] = c;
    auto pending = std::find_if(_pending.begin(), _pending.end(),
                                [&](const pending_dialog& d) { return d.call_id == call_id; });
    if (pending != _pending.end()) {
        for (auto& m : pending->messages) {
            keep(*c, std::move(m));
        }
        _pending.erase(pending);
        // Another dialog's messages may now sit before this one's.
        std::sort(
            c->messages.begin(), c->messages.end(),
            [](const captured_message& a, const captured_message& b) { return a.seq < b.seq; });
    }
}

void call_capture::ended(std::string_view id) {
    auto it = _by_id.find(std::string(id));
    if (it == _by_id.end() || it->second->ended) {
        return;
    }
    auto c = it->second;
    c->ended = true;
    if (_keep_calls == 0) {
        forget(c);
        return;
    }
    _ended.push_back(c);
    while (_ended.size() > _keep_calls) {
        auto oldest = _ended.front();
        _ended.pop_front();
        forget(oldest);
    }
}

void call_capture::forget(const std::shared_ptr<captured_call>& c) {
    for (const auto& cid : c->call_ids) {
        auto it = _by_call_id.find(cid);
        if (it != _by_call_id.end() && it->second == c) {
            _by_call_id.erase(it);
        }
    }
    auto it = _by_id.find(c->id);
    if (it != _by_id.end() && it->second == c) {
        _by_id.erase(it);
    }
}

nlohmann::json call_capture::trace(std::string_view filter, std::uint64_t since,
                                   std::size_t limit) const {
    std::vector<std::pair<const captured_message*, const captured_call*>> picked;
    for (const auto& [id, c] : _by_id) {
        if (c->messages.empty() || c->messages.back().seq <= since || !matches(*c, filter)) {
            continue;
        }
        auto first =
            std::upper_bound(c->messages.begin(), c->messages.end(), since,
                             [](std::uint64_t s, const captured_message& m) { return s < m.seq; });
        for (auto m = first; m != c->messages.end(); ++m) {
            picked.emplace_back(&*m, c.get());
        }
    }
    std::sort(picked.begin(), picked.end(),
              [](const auto& a, const auto& b) { return a.first->seq < b.first->seq; });
    std::uint64_t next = _seq;
    if (picked.size() > limit) {
        picked.resize(limit);
        next = picked.back().first->seq;
    }
    auto messages = nlohmann::json::array();
    auto calls = nlohmann::json::object();
    for (const auto& [m, c] : picked) {
        messages.push_back({{"seq", m->seq},
                            {"call", c->id},
                            {"t_us", m->wall_us},
                            {"dir", to_string(m->direction)},
                            {"transport", to_string(m->transport)},
                            {"local", m->local.to_string()},
                            {"remote", m->remote.to_string()},
                            {"call_id", m->call_id},
                            {"summary", m->summary}});
        if (!calls.contains(c->id)) {
            calls[c->id] = {{"from", c->from},     {"to", c->to},
                            {"trunks", c->trunks}, {"call_ids", c->call_ids},
                            {"ended", c->ended},   {"dropped", c->dropped}};
        }
    }
    return {{"next", next}, {"messages", messages}, {"calls", calls}};
}

const captured_call* call_capture::find(std::string_view id_or_call_id) const {
    const std::string key(id_or_call_id);
    if (auto it = _by_id.find(key); it != _by_id.end()) {
        return it->second.get();
    }
    if (auto it = _by_call_id.find(key); it != _by_call_id.end()) {
        return it->second.get();
    }
    return nullptr;
}

nlohmann::json call_capture::stats() const {
    std::size_t kept = 0;
    std::size_t dropped = 0;
    for (const auto& [id, c] : _by_id) {
        kept += c->messages.size();
        dropped += c->dropped;
    }
    return {{"calls", _by_id.size()},
            {"ended_kept", _ended.size()},
            {"messages", kept},
            {"messages_dropped", dropped},
            {"unclaimed_dropped", _unclaimed_dropped}};
}

}  // namespace sbc::capture
