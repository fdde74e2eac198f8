// SRTP contexts, codec chains and ICE responders that a command replaced on
// a worker (a re-key's new SDES keys, a re-INVITE's new codec plan, an ICE
// restart's new credentials), held by the control
// thread until that worker has acknowledged the command, then freed there.
// This keeps a call's memory bounded however often it is re-keyed or
// re-planned, and the worker's hot path never frees anything.
//
// Object graph: an engine keeps one retire_list per worker, beside that
// worker's command ring; a session owns its current contexts and chains
// (media_objects), and what a command replaces moves from the session to
// the list, tagged with the command's number. reclaim() frees what the
// worker's command_progress says it has let go of.
//
// Threads: control thread only.
#pragma once

#include <array>
#include <cstddef>
#include <deque>
#include <memory>
#include <utility>

#include "dataplane/core/command_progress.hpp"
#include "dataplane/core/ice_responder.hpp"
#include "dataplane/srtp/stream_crypto.hpp"
#include "transcoder/chain/media_chain.hpp"
#include "transcoder/tone/tone_source.hpp"

namespace sbc::dataplane {

/// What a session's relay_session points at, owned on the control thread:
/// per side, the SRTP contexts of its peer (unprotect what it sends,
/// protect what goes to it), the codec chain of RTP from it, and what
/// answers its connectivity checks.
struct media_objects {
    struct per_side {
        std::unique_ptr<srtp::stream_crypto> unprotect;
        std::unique_ptr<srtp::stream_crypto> protect;
        std::unique_ptr<transcoder::media_chain> chain;
        std::unique_ptr<ice_responder> ice;
        std::unique_ptr<transcoder::tone_source> tone;  ///< played to this side's peer
    };
    std::array<per_side, 2> sides;  // indexed by index(side)

    /// How many are held (for tests and status).
    std::size_t count() const noexcept {
        std::size_t n = 0;
        for (const auto& s : sides) {
            n += (s.unprotect ? 1 : 0) + (s.protect ? 1 : 0) + (s.chain ? 1 : 0) + (s.ice ? 1 : 0) +
                 (s.tone ? 1 : 0);
        }
        return n;
    }
};

class retire_list {
public:
    retire_list() = default;
    // Movable (an engine keeps a vector of them), never copied.
    retire_list(retire_list&&) = default;
    retire_list& operator=(retire_list&&) = default;
    retire_list(const retire_list&) = delete;
    retire_list& operator=(const retire_list&) = delete;

    /// `replaced` stops being used once the worker has applied command
    /// `by`; null is ignored. Commands are retired in the order posted.
    void retire(command_seq by, std::unique_ptr<srtp::stream_crypto> replaced) {
        if (replaced) {
            _waiting.push_back(entry{by, std::move(replaced), nullptr, nullptr, nullptr});
        }
    }
    void retire(command_seq by, std::unique_ptr<transcoder::media_chain> replaced) {
        if (replaced) {
            _waiting.push_back(entry{by, nullptr, std::move(replaced), nullptr, nullptr});
        }
    }
    void retire(command_seq by, std::unique_ptr<ice_responder> replaced) {
        if (replaced) {
            _waiting.push_back(entry{by, nullptr, nullptr, std::move(replaced), nullptr});
        }
    }
    void retire(command_seq by, std::unique_ptr<transcoder::tone_source> replaced) {
        if (replaced) {
            _waiting.push_back(entry{by, nullptr, nullptr, nullptr, std::move(replaced)});
        }
    }

    /// Frees everything retired by a command up to `acknowledged`
    /// (command_progress::acknowledged()). Returns how many were freed.
    std::size_t reclaim(command_seq acknowledged) noexcept {
        std::size_t freed = 0;
        while (!_waiting.empty() && _waiting.front().by <= acknowledged) {
            _waiting.pop_front();
            ++freed;
        }
        return freed;
    }

    /// Retired and not yet freed.
    std::size_t size() const noexcept { return _waiting.size(); }

private:
    struct entry {
        command_seq by = 0;
        std::unique_ptr<srtp::stream_crypto> crypto;
        std::unique_ptr<transcoder::media_chain> chain;
        std::unique_ptr<ice_responder> ice;
        std::unique_ptr<transcoder::tone_source> tone;
    };
    std::deque<entry> _waiting;  // by non-decreasing `by`
};

}  // namespace sbc::dataplane
