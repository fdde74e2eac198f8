// The HEP export (issue 23, conf/README.md "capture"): every SIP message the
// tap reports (sip_tap.hpp), TLS legs in the clear, goes to a capture
// server (Homer's heplify-server, or any HEP3 receiver) as one HEP3 packet,
// with the call's correlation ID so that the server shows a call's two
// legs as one call; and, at a call's end, the SBC's per-leg media quality
// report, as a JSON report (hep_proto_type::qos_report).
//
// Over UDP each packet is one sendto(). Over TCP the exporter connects
// asynchronously and keeps a bounded queue while the connection is down or
// slow: a packet that does not fit is dropped and counted, never waited
// for, and the link connects again with a doubling backoff after a close,
// a refusal or a connect that takes too long. A capture server that is
// down costs captures, never calls.
//
// Control thread only (the su_root's): on_sip() is called by the tap on
// that thread, and the socket is watched by that loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "dataplane/api/ip_endpoint.hpp"
#include "sbc/capture/call_correlation.hpp"
#include "sbc/capture/sip_tap.hpp"
#include "sbc/config/config.hpp"

struct su_root_s;
typedef struct su_root_s su_root_t;

namespace sbc::capture {

/// What the configuration does not set; the defaults suit a server on the
/// same network. Tests shorten them.
struct hep_exporter_limits {
    /// TCP: bytes of packets waiting for the connection; more are dropped.
    /// 4 MiB is a few thousand SIP messages: a capture server's restart.
    std::size_t queue_bytes = 4 * 1024 * 1024;
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds backoff_min{250};
    std::chrono::milliseconds backoff_max{10000};
};

class hep_exporter final : public sip_listener {
public:
    /// Starts at once (a TCP connect goes out on the loop). `correlation`
    /// may be nullptr: each message's own Call-ID is then its correlation
    /// ID; otherwise it must outlive the exporter. Throws
    /// std::invalid_argument for an address that is not IP:PORT and
    /// std::system_error when no socket can be made.
    hep_exporter(su_root_t* root, const config::hep_config& settings,
                 const call_correlation* correlation, hep_exporter_limits limits = {});
    ~hep_exporter();
    hep_exporter(const hep_exporter&) = delete;
    hep_exporter& operator=(const hep_exporter&) = delete;

    /// One SIP message, as HEP type SIP: from the peer to sbcd for a
    /// received one, from sbcd to the peer for a sent one; IP protocol UDP
    /// for udp, TCP for tcp, tls, ws and wss, SCTP for sctp.
    void on_sip(const sip_packet& p) noexcept override;

    /// A JSON quality report (composed by the caller) as HEP type
    /// qos_report, e.g. a leg's media figures at call end, between the
    /// leg's media addresses.
    void send_report(std::string_view correlation_id, const dataplane::ip_endpoint& src,
                     const dataplane::ip_endpoint& dst, std::string_view json,
                     std::int64_t wall_us) noexcept;

    /// {"address", "transport", "sent", "dropped", "errors", "queue" (packets
    /// waiting), "queue_bytes", "connected" (TCP: the connection is up; UDP:
    /// always true, there is none to lose), "connects"} and, after a
    /// failure, "last_error". `sent`: packets handed whole to the kernel;
    /// `dropped`: packets not sent because the queue was full, a
    /// connection went with them half-written or they could not be
    /// encoded (larger than HEP's 64 KiB); `errors`: failed sends (UDP) and
    /// failed connections (TCP).
    nlohmann::json stats() const;

    struct impl;

private:
    std::unique_ptr<impl> _impl;
};

}  // namespace sbc::capture
