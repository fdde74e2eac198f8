#include "sbc/cluster/key_scan.hpp"

#include <algorithm>

namespace sbc::cluster {

namespace {

// Keys per SCAN step, and so per MGET or DEL: a few MB of documents at most
// in one reply, well inside a command's timeout.
constexpr const char* scan_count = "500";

}  // namespace

key_scan::key_scan(std::string pattern, action what) : _pattern(std::move(pattern)), _what(what) {}

void key_scan::restart() {
    _cursor.assign(1, '0');  // not = "0": g++ 12 warns falsely (-Wrestrict)
    _scanned_once = false;
    _done = false;
    _lost = false;
    _error.clear();
    _batch.clear();
    _values.clear();
    _keys.clear();
    _removed = 0;
    _also_removed = false;
}

bool key_scan::step(redis_link& link, std::function<void()> answered) {
    if (_busy || _done) {
        return true;
    }
    std::vector<std::string> argv;
    bool scan = false;
    bool also = false;
    if (!_batch.empty()) {
        argv = {_what == action::read ? "MGET" : "DEL"};
        argv.insert(argv.end(), _batch.begin(), _batch.end());
    } else if (_scanned_once && _cursor == "0") {
        // The cursor came back to 0: every key was walked.
        if (_what != action::remove || _also.empty() || _also_removed) {
            _done = true;
            return true;
        }
        argv = {"DEL"};
        argv.insert(argv.end(), _also.begin(), _also.end());
        also = true;
    } else {
        argv = {"SCAN", _cursor, "MATCH", _pattern, "COUNT", scan_count};
        scan = true;
    }
    // The answer may lead the owner to destroy this scan: `answered` runs
    // last, and nothing here is touched after it.
    _busy = link.command(std::move(argv), [this, scan, also, answered](const reply* r) {
        _busy = false;
        if (scan) {
            scanned(r);
        } else if (also) {
            also_done(r);
        } else {
            batch_done(r);
        }
        answered();
    });
    return _busy;
}

void key_scan::fail(std::string why, bool lost) {
    _done = true;
    _lost = lost;
    _error = std::move(why);
}

void key_scan::scanned(const reply* r) {
    if (r == nullptr) {
        fail("the store connection was lost", true);
        return;
    }
    if (r->type != reply::kind::array || r->elements.size() != 2 ||
        r->elements[1].type != reply::kind::array) {
        fail("SCAN: " + (r->type == reply::kind::error ? r->str : "an unexpected reply"), false);
        return;
    }
    _cursor = r->elements[0].str;
    _scanned_once = true;
    for (const auto& k : r->elements[1].elements) {
        (_what == action::list ? _keys : _batch).push_back(k.str);
    }
}

void key_scan::also_done(const reply* r) {
    if (r == nullptr) {
        fail("the store connection was lost", true);
    } else if (r->type == reply::kind::error) {
        fail("DEL: " + r->str, false);
    } else {
        _also_removed = true;
    }
}

void key_scan::batch_done(const reply* r) {
    if (r == nullptr) {
        fail("the store connection was lost", true);
        return;
    }
    if (r->type == reply::kind::error) {
        fail((_what == action::read ? "MGET: " : "DEL: ") + r->str, false);
        return;
    }
    if (_what == action::remove) {
        _removed += static_cast<std::size_t>(std::max<long long>(r->integer, 0));
    } else {
        for (std::size_t i = 0; i < _batch.size() && i < r->elements.size(); ++i) {
            if (r->elements[i].type == reply::kind::string) {  // nil: gone since the SCAN
                _values.emplace_back(std::move(_batch[i]), r->elements[i].str);
            }
        }
    }
    _batch.clear();
}

}  // namespace sbc::cluster
