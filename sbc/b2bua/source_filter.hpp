// The kernel-side half of an interface's allow_sources: a socket filter
// (classic BPF, SO_ATTACH_FILTER) on the interface's UDP SIP sockets, so a
// datagram from outside the allowed blocks is dropped before sofia-sip
// parses it or creates a transaction, and nothing is sent back to a source
// that may be spoofed. TCP and TLS are refused with 403 by the b2bua
// instead: a connection's peer address is real.
//
// sofia-sip does not hand out its sockets, so they are found by what they
// are bound to. The kernel counts the datagrams a filter drops in the
// socket's drop counter (/proc/net/udp "drops").
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/api/ip_endpoint.hpp"
#include "sbc/common/result.hpp"
#include "sbc/config/config.hpp"

namespace sbc::b2bua {

/// The classic BPF program that accepts datagrams whose source address is in
/// `blocks` (IPv4 and IPv6 alike) and drops the rest. Exposed for the unit
/// tests, which run it on a socket of their own.
std::vector<sock_filter> source_filter_program(const std::vector<config::cidr>& blocks);

/// Blocks per address family one program can hold (its jumps are 8 bits).
inline constexpr std::size_t max_filter_blocks = 60;

/// Attaches the filter to this process's UDP sockets bound to `bound`
/// (address and port). Returns the descriptors filtered; an error when none
/// was found or the kernel refused the filter.
result<std::vector<int>> attach_source_filter(const dataplane::ip_endpoint& bound,
                                              const std::vector<config::cidr>& blocks);

/// Datagrams the kernel dropped on socket `fd` (filtered out, or no room).
std::uint64_t socket_drops(int fd);

}  // namespace sbc::b2bua
