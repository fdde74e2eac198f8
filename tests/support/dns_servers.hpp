// DNS servers of a test's own, on loopback: a real dnsmasq (Debian's
// dnsmasq-base) started and stopped by the test and serving only the records
// it is given, and a UDP socket that takes queries and never answers (a
// server gone silent).
//
// dnsmasq answers for the zone "sbc.test" alone (--local=/sbc.test/): a name
// there without records is NXDOMAIN, a name elsewhere is REFUSED; nothing is
// ever forwarded, and it listens on one loopback address and a port picked
// free, so tests run beside anything else on the machine.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sbc/common/unique_fd.hpp"
#include "tests/support/temp_dir.hpp"

namespace sbc::test {

class dnsmasq {
public:
    /// Starts dnsmasq on `address` with `records` (dnsmasq options:
    /// "--host-record=a.sbc.test,127.0.5.1,30", "--srv-host=...",
    /// "--naptr-record=...", "--local-ttl=5"). Throws when it cannot.
    explicit dnsmasq(std::vector<std::string> records, std::string address = "127.0.53.1");
    ~dnsmasq();
    dnsmasq(const dnsmasq&) = delete;
    dnsmasq& operator=(const dnsmasq&) = delete;

    /// Stops it and starts it again on the same address and port, serving
    /// `records` instead.
    void restart(std::vector<std::string> records);
    /// Stops it (queries then meet a closed port).
    void stop();

    const std::string& address() const noexcept { return _address; }
    std::uint16_t port() const noexcept { return _port; }
    /// "address:port", as sbc::dns::settings::servers takes it.
    std::string server() const;

private:
    bool start(const std::vector<std::string>& records);

    std::string _address;
    std::uint16_t _port = 0;
    pid_t _pid = -1;
    temp_dir _dir{"sbc-dnsmasq"};
};

/// A UDP socket on `address` (and `port`, or a free one) that nobody reads.
class silent_udp {
public:
    explicit silent_udp(const std::string& address = "127.0.53.2", std::uint16_t port = 0);
    std::uint16_t port() const noexcept { return _port; }
    std::string server() const;

private:
    std::string _address;
    std::uint16_t _port = 0;
    unique_fd _fd;
};

}  // namespace sbc::test
