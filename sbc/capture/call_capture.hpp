// The SIP messages of recent calls, both legs, kept for `sbcctl trace`
// (a live ladder) and `sbcctl pcap` (a call's messages as Wireshark reads
// them), and the map from each leg's Call-ID to its call that makes the
// correlation ID of the HEP export.
//
// The B2BUA claims each dialog's Call-ID for its call as it makes the
// dialog (claim()), and says when the call ended (ended()). The tap
// delivers a message before any call may have claimed its Call-ID (the
// first INVITE arrives before its call exists): such messages wait, a few
// Call-IDs and messages at most, for a claim. Calls in progress keep up to
// `messages_per_call` messages each (more are counted); of the calls that
// ended, the last `calls` are kept, with their messages; older ones are
// forgotten. With `calls` 0 no message is kept at all, and only the
// correlation of calls in progress remains.
//
// su_root thread only, like the tap.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sbc/capture/call_correlation.hpp"
#include "sbc/capture/sip_tap.hpp"

namespace sbc::capture {

struct captured_message {
    std::uint64_t seq = 0;  ///< the store's, increasing across all calls
    sip_direction direction = sip_direction::in;
    sip_transport transport = sip_transport::udp;
    dataplane::ip_endpoint local;
    dataplane::ip_endpoint remote;
    std::int64_t wall_us = 0;
    std::string call_id;
    /// "INVITE", "200 OK (INVITE)": the start line, shortened.
    std::string summary;
    std::string bytes;
};

struct captured_call {
    std::string id;           ///< the B2BUA's call ID (sbcctl calls)
    std::string correlation;  ///< the Call-ID of its first leg
    std::vector<std::string> call_ids;
    std::vector<std::string> trunks;
    std::string from;  ///< the caller's number as it arrived
    std::string to;    ///< the called number as it arrived
    std::vector<captured_message> messages;
    std::size_t dropped = 0;  ///< messages past messages_per_call
    bool ended = false;
};

/// What `sbcctl trace` and `sbcctl pcap` pick calls by: the call's ID, a
/// leg's Call-ID, a trunk's name (exact), or a part of either number.
/// Empty matches every call.
bool matches(const captured_call& c, std::string_view filter) noexcept;

class call_capture final : public sip_listener, public call_correlation {
public:
    call_capture(std::size_t calls, std::size_t messages_per_call);

    void on_sip(const sip_packet& p) noexcept override;
    std::string correlation_of(std::string_view call_id) const override;

    /// Call `id` has a dialog with `call_id` on `trunk`. The first claim
    /// makes the call; `from` and `to` are taken from it.
    void claim(std::string_view id, std::string_view call_id, std::string_view trunk,
               std::string_view from, std::string_view to);
    /// Call `id` is over: it joins the ring of recent calls.
    void ended(std::string_view id);

    /// sbcctl trace: the messages after `since` (a seq) of the calls that
    /// match `filter`, oldest first, at most `limit`; {"next": seq to ask
    /// from next, "messages": [...], "calls": {id: {...}}}.
    nlohmann::json trace(std::string_view filter, std::uint64_t since, std::size_t limit) const;
    /// sbcctl pcap: the call with this ID (or a leg's Call-ID), every
    /// message with its bytes; null when it is not (or no longer) kept.
    const captured_call* find(std::string_view id_or_call_id) const;

    nlohmann::json stats() const;

private:
    struct pending_dialog {
        std::string call_id;
        std::vector<captured_message> messages;
    };

    captured_message make_message(const sip_packet& p, std::string call_id);
    void keep(captured_call& c, captured_message m);
    void forget(const std::shared_ptr<captured_call>& c);

    std::size_t _keep_calls;
    std::size_t _messages_per_call;
    std::uint64_t _seq = 0;
    std::unordered_map<std::string, std::shared_ptr<captured_call>> _by_id;
    std::unordered_map<std::string, std::shared_ptr<captured_call>> _by_call_id;
    std::deque<std::shared_ptr<captured_call>> _ended;
    std::deque<pending_dialog> _pending;  ///< unclaimed Call-IDs, oldest first
    std::uint64_t _unclaimed_dropped = 0;
};

}  // namespace sbc::capture
