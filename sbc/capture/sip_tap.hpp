// Every SIP message sbcd sends or receives, on every interface and
// transport, as it was on the wire: TLS legs in the clear (after
// decryption, before encryption), with the local and remote addresses and
// the transport. It is the one source for the HEP export, the per-call
// capture behind `sbcctl trace` and `sbcctl pcap`, and the SIP counters of
// the metrics.
//
// Debian 12's sofia-sip (1.12.11) has no capture hook (TPTAG_CAPT came
// later, in the FreeSWITCH fork, and sends HEP itself over UDP only). Its
// transport layer does report each message to two exported functions when
// message logging and dumping are on: tport_log_msg() with every message
// it has received and parsed, tport_dump_iovec() with every write it
// made, retransmissions included. The library calls both through its PLT,
// so sbcd defines them (sip_tap.cpp) and they reach the listeners here
// instead of sofia's log and dump file. sip_tap_tags() turns both on for
// an nta agent.
//
// Threading: sofia calls the tap on the su_root thread that runs the
// agent; listeners are added and removed on that thread only.
#pragma once

#include <cstdint>
#include <string_view>

#include <sofia-sip/msg_types.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/tport_tag.h>

#include "dataplane/api/ip_endpoint.hpp"

namespace sbc::capture {

enum class sip_direction : std::uint8_t { in, out };
enum class sip_transport : std::uint8_t { udp, tcp, tls, sctp, ws, wss };

std::string_view to_string(sip_direction d) noexcept;
/// "udp", "tcp", "tls", ... as in a SIP URI's transport parameter.
std::string_view to_string(sip_transport t) noexcept;

/// One message. Everything it points to lives only for the on_sip() call.
struct sip_packet {
    sip_direction direction = sip_direction::in;
    sip_transport transport = sip_transport::udp;
    /// sbcd's address and the peer's, as on the wire (for a TCP or TLS
    /// connection sbcd opened: its ephemeral port).
    dataplane::ip_endpoint local;
    dataplane::ip_endpoint remote;
    /// When it was sent or received, system clock, microseconds since
    /// the Unix epoch.
    std::int64_t wall_us = 0;
    /// The whole message, start line to the end of the body.
    std::string_view bytes;
    /// Its parsed form: never null for a message sbcd sent; null for a
    /// received one sofia could not parse enough to know it is SIP.
    const sip_t* sip = nullptr;
};

class sip_listener {
public:
    virtual void on_sip(const sip_packet& p) noexcept = 0;

protected:
    ~sip_listener() = default;
};

/// su_root thread. A listener sees every message from now on until it is
/// removed; it must not send SIP from on_sip().
void add_sip_listener(sip_listener* l);
void remove_sip_listener(sip_listener* l) noexcept;

}  // namespace sbc::capture

/// The tags that make an nta agent (or a tport it adds) report its
/// messages to the tap: message logging keeps each received message's
/// wire image (MSG_DO_EXTRACT_COPY), and a dump file, /dev/null, makes
/// tport report each write. Nothing is ever written to it: sbcd's
/// tport_dump_iovec() takes the call.
#define SBC_SIP_TAP_TAGS TPTAG_LOG(1), TPTAG_DUMP("/dev/null")
