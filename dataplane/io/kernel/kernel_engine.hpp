// The kernel backend's media_engine: opens and binds the sockets of each
// session on the control thread, shards sessions over its workers by id and
// programs them through their command rings.
//
// Object graph: kernel_engine owns its workers and every kernel_session (open
// ones in _open, closed ones in _closing until their worker acknowledges),
// and per worker the SRTP contexts and chains commands replaced until the
// worker acknowledges those commands (retire_list.hpp).
// Workers borrow sessions; see kernel_session.hpp.
//
// Threads: every public method runs on the control thread (media_engine.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dataplane/api/media_engine.hpp"
#include "dataplane/core/command_backlog.hpp"
#include "dataplane/core/port_pool.hpp"
#include "dataplane/core/retire_list.hpp"
#include "dataplane/io/kernel/kernel_session.hpp"
#include "dataplane/io/kernel/worker.hpp"

namespace sbc::dataplane::kernel {

class kernel_engine final : public media_engine {
public:
    /// Starts config.workers workers (at least one). Throws std::system_error
    /// if a worker cannot be created.
    explicit kernel_engine(const engine_config& config);
    /// Stops and joins the workers first, then closes every socket.
    ~kernel_engine() override;
    kernel_engine(const kernel_engine&) = delete;
    kernel_engine& operator=(const kernel_engine&) = delete;

    open_result open_session(session_id id, const std::string& local_a,
                             const std::string& local_b) override;
    open_result open_session_at(session_id id, const std::string& local_a, std::uint16_t rtp_a,
                                const std::string& local_b, std::uint16_t rtp_b) override;
    void set_remote(session_id id, side s, const ip_endpoint& rtp,
                    const ip_endpoint& rtcp) override;
    void set_rtcp_mux(session_id id, side s, bool muxed) override;
    void set_srtp(session_id id, side s, std::unique_ptr<srtp::stream_crypto> from_peer,
                  std::unique_ptr<srtp::stream_crypto> to_peer) override;
    void set_chain(session_id id, side from,
                   std::unique_ptr<transcoder::media_chain> chain) override;
    void set_payload_types(session_id id, side to, const payload_type_map& map) override;
    void start_tone(session_id id, side to, std::unique_ptr<transcoder::tone_source> tone) override;
    bool set_ice_credentials(session_id id, side s,
                             const std::optional<ice_credentials>& credentials) override;
    void send_dtmf(session_id id, side from, char digit, std::uint32_t duration_ms) override;
    void set_media_timeout(session_id id, std::chrono::nanoseconds after) override;
    open_result prepare_side_move(session_id id, side s, const std::string& local) override;
    void commit_side_move(session_id id, side s) override;
    void cancel_side_move(session_id id, side s) override;
    void close_session(session_id id) override;
    std::optional<session_stats> stats(session_id id) const override;
    void poll() override;
    std::size_t open_sessions() const override { return _open.size(); }
    std::size_t free_port_pairs() const override { return _pool.free_pairs(); }
    std::vector<media_event> take_events() override { return std::exchange(_events, {}); }
    std::vector<worker_stats> worker_counters() override;

    /// Sessions closed whose worker has not acknowledged yet (for tests).
    std::size_t closing_sessions() const noexcept { return _closing.size(); }
    /// SRTP contexts, codec chains and ICE responders a re-key, re-INVITE
    /// or ICE restart replaced that wait for their worker's acknowledgement,
    /// freed by the next poll() after it (for tests).
    std::size_t retired_objects() const noexcept;
    /// Every SRTP context, codec chain and ICE responder the engine holds:
    /// the sessions' current ones and the retired ones (for tests).
    std::size_t owned_objects() const noexcept;

private:
    /// Binds a pair per side on `locals` (the RTP port `rtp` gives, or one
    /// from the pool where it is 0) and hands the session to its worker.
    open_result open(const std::array<const std::string*, 2>& locals, session_id id,
                     const std::array<std::uint16_t, 2>& rtp);
    /// Sends `c` to worker `w` in order: straight into its ring when nothing
    /// is waiting, else behind the commands already waiting in _backlog.
    /// Returns its number, which the worker acknowledges once applied.
    command_seq post(unsigned w, const command& c);
    void flush_backlog(unsigned w);
    /// Closes the sockets of a session no worker uses any more, then returns
    /// its ports to the pool (in that order, so a port is never bound twice).
    void destroy(std::unique_ptr<kernel_session> s);
    /// Closes a pair and returns its ports to the pool.
    void release(kernel_session::parked_pair pair);

    port_pool _pool;
    std::vector<std::unique_ptr<worker>> _workers;
    // Per worker: commands its ring had no room for. The control thread never
    // waits for a worker; poll() retries them.
    std::vector<command_backlog<command>> _backlog;
    // Per worker: the number of the last command posted, and what commands
    // replaced, freed once the worker has acknowledged them (poll()).
    std::vector<command_seq> _posted;
    std::vector<retire_list> _retired;
    std::unordered_map<session_id, std::unique_ptr<kernel_session>> _open;
    std::unordered_map<const kernel_session*, std::unique_ptr<kernel_session>> _closing;
    std::vector<media_event> _events;  // from poll() until take_events()
    struct load_reading {
        std::uint64_t busy = 0;
        std::uint64_t total = 0;
    };
    std::vector<load_reading> _last_load;  // per worker: at the previous worker_counters()
};

}  // namespace sbc::dataplane::kernel
