// sbcctl pcap: a call's SIP messages, as sbcd captured them (both legs,
// TLS legs in the clear), written as a pcapng file Wireshark and tshark
// open. Each message is one packet of link type EXPORTED_PDU (252): the
// SIP text with its addresses, ports and transport (UDP or TCP) as tags
// (Wireshark's exported_pdu.h), so that the SIP dissector shows it with
// the addresses it had on the wire, though no IP or TCP header was kept
// and a TLS leg has no clear text on the wire at all.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "sbc/common/result.hpp"

namespace sbc::ctl {

/// The pcapng bytes for sbcd's `sip_capture` answer; an error naming the
/// first message it cannot read.
result<std::string> sip_pcapng(const nlohmann::json& capture);

}  // namespace sbc::ctl
