#include "sbc/admission/flood_guard.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace sbc::admission {

namespace {

double effective_burst(const flood_settings& s) {
    // Twice the rate by default: SIP arrives in bunches (an INVITE, its ACK,
    // a re-INVITE, retransmissions over UDP) that a steady peer must not be
    // blocked for.
    return s.burst > 0 ? static_cast<double>(s.burst) : std::max(1.0, std::ceil(2 * s.rate));
}

}  // namespace

flood_guard::flood_guard(flood_settings s) : _settings(s), _burst(effective_burst(s)) {}

// A table of zero entries could not tell a flooder from anyone else.
std::size_t flood_guard::capacity() const noexcept {
    return std::max<std::size_t>(1, _settings.max_sources);
}

flood_guard::verdict flood_guard::on_request(std::string_view source, clock::time_point now) {
    expire_blocks(now);
    if (auto found = _index.find(source); found != _index.end()) {
        auto it = found->second;
        if (it->blocked) {
            ++it->dropped;
            ++_dropped;
            return verdict::blocked;
        }
        _recent.splice(_recent.begin(), _recent, it);
        if (it->bucket.try_take(now)) {
            return verdict::pass;
        }
        start_block(it, now);
        return verdict::blocked_now;
    }
    if (!enabled()) {
        return verdict::pass;
    }
    if (_index.size() >= capacity()) {
        make_room(now);
    }
    _recent.push_front({.address = std::string(source),
                        .bucket = token_bucket(_settings.rate, _burst, now),
                        .blocked = false,
                        .since = {},
                        .until = {},
                        .dropped = 0});
    _index.emplace(_recent.front().address, _recent.begin());
    // burst >= 1, so a source's first request always passes.
    _recent.front().bucket.try_take(now);
    return verdict::pass;
}

std::vector<flood_guard::blocked_source> flood_guard::blocked(clock::time_point now) const {
    std::vector<blocked_source> out;
    for (const auto& s : _blocked) {
        if (s.until > now) {
            out.push_back(
                {.address = s.address, .since = s.since, .until = s.until, .dropped = s.dropped});
        }
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.address < b.address; });
    return out;
}

bool flood_guard::unblock(std::string_view source) {
    auto found = _index.find(source);
    if (found == _index.end() || !found->second->blocked) {
        return false;
    }
    sip_log.info("flood guard: {} unblocked after {} dropped requests", found->second->address,
                 found->second->dropped);
    forget(_blocked, found->second);
    return true;
}

void flood_guard::reconfigure(flood_settings s) {
    const double burst = effective_burst(s);
    const bool same_buckets = s.rate == _settings.rate && burst == _burst;
    _settings = s;
    _burst = burst;
    // Buckets filled at the old rate would judge the new one wrongly; a
    // forgotten source starts full, as if it had been idle.
    if (!same_buckets || !enabled()) {
        while (!_recent.empty()) {
            forget(_recent, std::prev(_recent.end()));
        }
    }
    while (_index.size() > capacity()) {
        if (!_recent.empty()) {
            forget(_recent, std::prev(_recent.end()));
        } else {
            forget(_blocked, _blocked.begin());
        }
    }
    _sweep_countdown = 0;
}

void flood_guard::expire_blocks(clock::time_point now) {
    // _blocked is ordered by `until`, so this stops at the first live block:
    // O(1) per call plus one step per block that ever ends.
    while (!_blocked.empty() && _blocked.front().until <= now) {
        forget(_blocked, _blocked.begin());
    }
}

void flood_guard::start_block(source_list::iterator it, clock::time_point now) {
    it->blocked = true;
    it->since = now;
    it->until = now + _settings.block_for;
    it->dropped = 1;
    ++_blocks;
    ++_dropped;
    // Every block lasts block_for, so a new one nearly always ends last and
    // this walk stops at once; it walks further only after a reload has
    // shortened block_for.
    auto pos = _blocked.end();
    while (pos != _blocked.begin() && std::prev(pos)->until > it->until) {
        --pos;
    }
    _blocked.splice(pos, _recent, it);
    if (_block_log.allow()) {
        const auto suppressed = _block_log.take_suppressed();
        sip_log.warn("flood guard: {} over {}/s (burst {}), blocked for {}s{}", it->address,
                     _settings.rate, _burst, _settings.block_for.count(),
                     suppressed > 0 ? fmt::format(" ({} more blocks not logged)", suppressed)
                                    : std::string());
    }
}

void flood_guard::make_room(clock::time_point now) {
    if (_recent.empty()) {
        forget(_blocked, _blocked.begin());
        return;
    }
    // The least recently seen source is the likeliest to be idle.
    if (_recent.back().bucket.full(now)) {
        forget(_recent, std::prev(_recent.end()));
        return;
    }
    // Idle sources can hide behind a busy least recently seen one. Looking
    // for them walks the whole table, so it is done at most once per quarter
    // table of new sources: O(1) amortized even when the table holds only
    // fresh spoofed addresses and the walk finds nothing.
    if (_sweep_countdown == 0) {
        _sweep_countdown = capacity() / 4;
        forget_idle(now);
        if (_index.size() < capacity()) {
            return;
        }
    } else {
        --_sweep_countdown;
    }
    forget(_recent, std::prev(_recent.end()));
}

void flood_guard::forget_idle(clock::time_point now) {
    for (auto it = _recent.begin(); it != _recent.end();) {
        auto next = std::next(it);
        if (it->bucket.full(now)) {
            forget(_recent, it);
        }
        it = next;
    }
}

void flood_guard::forget(source_list& list, source_list::iterator it) {
    // The key views it->address: erase it before the string goes.
    _index.erase(it->address);
    list.erase(it);
}

}  // namespace sbc::admission
