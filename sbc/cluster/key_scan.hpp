// One walk over the keys that match a pattern, a batch at a time: SCAN for
// the next batch, then MGET it (read), DEL it (remove) or keep only the
// names (list). What a node does with another node's keys when it takes
// them over, and with its own when it starts again or resyncs.
//
// SCAN walks the keyspace without blocking the server, but a key may come
// twice and a key may go between the SCAN and the MGET: MGET and DEL do not
// mind the first, and the second reads as nil, which is skipped.
//
// The owner drives it: step() sends the next command when none is out,
// and the answer calls the owner back; the owner then steps again (or ends
// the walk once done()). Control thread only, like the redis_link. The
// owner keeps the scan alive until the link has answered every command it
// sent (a link destroyed first answers them with nullptr).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "sbc/cluster/redis_link.hpp"

namespace sbc::cluster {

class key_scan {
public:
    enum class action { read, remove, list };

    key_scan(std::string pattern, action what);

    /// Sends the next command on `link`, unless one is out or the walk is
    /// done; `answered` runs when its answer has been taken in. False when
    /// nothing was sent because the link has no room (step again when it
    /// has).
    bool step(redis_link& link, std::function<void()> answered);

    bool busy() const noexcept { return _busy; }
    /// Every key was walked (error() ""), or a command failed.
    bool done() const noexcept { return _done; }
    /// Why the walk failed ("SCAN: ERR ...", "the store connection was
    /// lost"); "" while it has not.
    const std::string& error() const noexcept { return _error; }
    /// The walk failed because the link went (worth starting again when it
    /// is back), not on an error reply.
    bool lost() const noexcept { return _lost; }
    /// Forgets the walk so far (values, keys, count) and starts it again.
    void restart();
    /// remove: deletes `key` as well once every key of the pattern is gone
    /// (an index of those keys, say); not counted in removed().
    void remove_too(std::string key) { _also.push_back(std::move(key)); }

    /// read: each key found with its value, in the order read.
    std::vector<std::pair<std::string, std::string>>& values() noexcept { return _values; }
    /// list: each key found (a key may be there twice).
    const std::vector<std::string>& keys() const noexcept { return _keys; }
    /// remove: keys the server deleted.
    std::size_t removed() const noexcept { return _removed; }

private:
    void scanned(const reply* r);
    void batch_done(const reply* r);
    void also_done(const reply* r);
    void fail(std::string why, bool lost);

    std::string _pattern;
    action _what;
    std::string _cursor = "0";
    bool _scanned_once = false;
    bool _busy = false;
    bool _done = false;
    bool _lost = false;
    std::string _error;
    std::vector<std::string> _batch;  ///< keys to MGET or DEL next
    std::vector<std::string> _also;   ///< see remove_too
    bool _also_removed = false;
    std::vector<std::pair<std::string, std::string>> _values;
    std::vector<std::string> _keys;
    std::size_t _removed = 0;
};

}  // namespace sbc::cluster
