#include "dataplane/io/dpdk/netlink.hpp"

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace sbc::dataplane::dpdk {

namespace {

// A request: header, body, then attributes, in one aligned buffer.
struct request {
    alignas(NLMSG_ALIGNTO) std::array<char, 512> buf{};
    nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf.data()); }

    void start(std::uint16_t type, std::uint16_t flags, const void* body, std::size_t len) {
        hdr()->nlmsg_len = static_cast<std::uint32_t>(NLMSG_LENGTH(len));
        hdr()->nlmsg_type = type;
        hdr()->nlmsg_flags = flags;
        hdr()->nlmsg_seq = 1;
        std::memcpy(NLMSG_DATA(hdr()), body, len);
    }
    void attribute(std::uint16_t type, const void* data, std::size_t len) {
        auto* rta = reinterpret_cast<rtattr*>(buf.data() + NLMSG_ALIGN(hdr()->nlmsg_len));
        rta->rta_type = type;
        rta->rta_len = static_cast<std::uint16_t>(RTA_LENGTH(len));
        std::memcpy(RTA_DATA(rta), data, len);
        hdr()->nlmsg_len =
            static_cast<std::uint32_t>(NLMSG_ALIGN(hdr()->nlmsg_len) + RTA_ALIGN(rta->rta_len));
    }
};

result<unique_fd> route_socket(std::uint32_t groups) {
    unique_fd fd{::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE)};
    if (!fd) {
        return make_error(std::string("netlink socket: ") + std::strerror(errno));
    }
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    local.nl_groups = groups;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        return make_error(std::string("netlink bind: ") + std::strerror(errno));
    }
    return fd;
}

// Sends `r` and hands each message of the kernel's reply to `handle`, which
// returns nullopt to read on, or the outcome. A bounded number of reads: the
// kernel answers a request before sendto returns.
template <typename T, typename Handle>
result<T> exchange(request& r, const std::string& what, Handle&& handle) {
    auto fd = route_socket(0);
    if (!fd) {
        return make_error(fd.error_message());
    }
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd->get(), r.buf.data(), r.hdr()->nlmsg_len, 0,
                 reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
        return make_error(what + ": " + std::strerror(errno));
    }
    alignas(NLMSG_ALIGNTO) std::array<char, 4096> reply{};
    for (int tries = 0; tries < 100; ++tries) {
        ssize_t n = ::recv(fd->get(), reply.data(), reply.size(), 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            ::usleep(1000);
            continue;
        }
        if (n < 0) {
            return make_error(what + ": " + std::strerror(errno));
        }
        auto len = static_cast<std::uint32_t>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(reply.data()); NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type == NLMSG_ERROR) {
                const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
                if (e->error != 0) {
                    return make_error(what + ": " + std::strerror(-e->error));
                }
            }
            if (std::optional<result<T>> outcome = handle(h)) {
                return std::move(*outcome);
            }
        }
    }
    return make_error(what + ": no answer from the kernel");
}

// Sends `r` and waits for its acknowledgement.
result<bool> transact(request& r, const std::string& what) {
    r.hdr()->nlmsg_flags |= NLM_F_ACK;
    return exchange<bool>(r, what, [](const nlmsghdr* h) -> std::optional<result<bool>> {
        if (h->nlmsg_type == NLMSG_ERROR) {
            return result<bool>(true);  // error 0: the acknowledgement
        }
        return std::nullopt;
    });
}

}  // namespace

result<bool> add_address(unsigned ifindex, const ip_endpoint& address, unsigned prefix) {
    char name[IF_NAMESIZE] = "?";
    ::if_indextoname(ifindex, name);
    const bool v6 = address.family() == AF_INET6;
    ifaddrmsg ifa{};
    ifa.ifa_family = static_cast<unsigned char>(address.family());
    ifa.ifa_prefixlen = static_cast<unsigned char>(prefix);
    ifa.ifa_index = ifindex;
    ifa.ifa_scope = RT_SCOPE_UNIVERSE;
    request r;
    r.start(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE, &ifa, sizeof ifa);
    const auto key = ip_key::of(address);
    const std::uint8_t* bytes = v6 ? key.bytes.data() : key.bytes.data() + 12;
    r.attribute(IFA_LOCAL, bytes, v6 ? 16 : 4);
    r.attribute(IFA_ADDRESS, bytes, v6 ? 16 : 4);
    if (v6) {
        // No duplicate address detection: the address must work at once,
        // and the SBC owns it on this link.
        std::uint32_t flags = IFA_F_NODAD;
        r.attribute(IFA_FLAGS, &flags, sizeof flags);
    }
    auto added =
        transact(r, "adding " + address.address() + "/" + std::to_string(prefix) + " to " + name);
    if (!added) {
        return added;
    }
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = static_cast<int>(ifindex);
    ifi.ifi_flags = IFF_UP;
    ifi.ifi_change = IFF_UP;
    request up;
    up.start(RTM_NEWLINK, NLM_F_REQUEST, &ifi, sizeof ifi);
    return transact(up, std::string("setting ") + name + " up");
}

result<std::optional<ip_key>> gateway_to(unsigned ifindex, const ip_endpoint& destination) {
    const bool v6 = destination.family() == AF_INET6;
    const auto key = ip_key::of(destination);
    const std::uint8_t* bytes = v6 ? key.bytes.data() : key.bytes.data() + 12;
    rtmsg rt{};
    rt.rtm_family = static_cast<unsigned char>(destination.family());
    rt.rtm_dst_len = v6 ? 128 : 32;
    request r;
    r.start(RTM_GETROUTE, NLM_F_REQUEST, &rt, sizeof rt);
    r.attribute(RTA_DST, bytes, v6 ? 16 : 4);
    const std::uint32_t oif = ifindex;
    r.attribute(RTA_OIF, &oif, sizeof oif);
    using outcome = result<std::optional<ip_key>>;
    return exchange<std::optional<ip_key>>(
        r, "route to " + destination.address(), [v6](const nlmsghdr* h) -> std::optional<outcome> {
            if (h->nlmsg_type != RTM_NEWROUTE) {
                return std::nullopt;
            }
            const auto* msg = static_cast<const rtmsg*>(NLMSG_DATA(h));
            auto attr_len = static_cast<unsigned>(RTM_PAYLOAD(h));
            for (auto* a = RTM_RTA(msg); RTA_OK(a, attr_len); a = RTA_NEXT(a, attr_len)) {
                if (a->rta_type != RTA_GATEWAY || RTA_PAYLOAD(a) != (v6 ? 16U : 4U)) {
                    continue;
                }
                ip_key gateway;
                if (v6) {
                    std::memcpy(gateway.bytes.data(), RTA_DATA(a), 16);
                } else {
                    gateway.bytes[10] = 0xFF;
                    gateway.bytes[11] = 0xFF;
                    std::memcpy(gateway.bytes.data() + 12, RTA_DATA(a), 4);
                }
                return outcome(std::optional<ip_key>(gateway));
            }
            return outcome(std::optional<ip_key>());  // on-link
        });
}

result<neighbor_watch> neighbor_watch::open(std::vector<unsigned> ifindexes) {
    auto fd = route_socket(RTMGRP_NEIGH);
    if (!fd) {
        return make_error(fd.error_message());
    }
    ndmsg nd{};
    nd.ndm_family = AF_UNSPEC;
    request r;
    r.start(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, &nd, sizeof nd);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd->get(), r.buf.data(), r.hdr()->nlmsg_len, 0,
                 reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
        return make_error(std::string("netlink neighbour dump: ") + std::strerror(errno));
    }
    return neighbor_watch(std::move(fd.value()), std::move(ifindexes));
}

void neighbor_watch::poll(const update_fn& update) {
    alignas(NLMSG_ALIGNTO) std::array<char, 16384> buf{};
    for (;;) {
        ssize_t n = ::recv(_fd.get(), buf.data(), buf.size(), 0);
        if (n <= 0) {
            return;  // EAGAIN: all read (ENOBUFS: the next change brings it back)
        }
        auto len = static_cast<std::uint32_t>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type != RTM_NEWNEIGH && h->nlmsg_type != RTM_DELNEIGH) {
                continue;
            }
            const auto* nd = static_cast<const ndmsg*>(NLMSG_DATA(h));
            if (std::find(_ifindexes.begin(), _ifindexes.end(),
                          static_cast<unsigned>(nd->ndm_ifindex)) == _ifindexes.end()) {
                continue;
            }
            const std::uint8_t* dst = nullptr;
            std::size_t dst_len = 0;
            const std::uint8_t* lladdr = nullptr;
            std::size_t lladdr_len = 0;
            auto attr_len = static_cast<unsigned>(RTM_PAYLOAD(h));
            for (auto* a = RTM_RTA(nd); RTA_OK(a, attr_len); a = RTA_NEXT(a, attr_len)) {
                if (a->rta_type == NDA_DST) {
                    dst = static_cast<const std::uint8_t*>(RTA_DATA(a));
                    dst_len = RTA_PAYLOAD(a);
                } else if (a->rta_type == NDA_LLADDR) {
                    lladdr = static_cast<const std::uint8_t*>(RTA_DATA(a));
                    lladdr_len = RTA_PAYLOAD(a);
                }
            }
            ip_key key;
            if (nd->ndm_family == AF_INET && dst_len == 4) {
                key.bytes[10] = 0xFF;
                key.bytes[11] = 0xFF;
                std::memcpy(key.bytes.data() + 12, dst, 4);
            } else if (nd->ndm_family == AF_INET6 && dst_len == 16) {
                std::memcpy(key.bytes.data(), dst, 16);
            } else {
                continue;
            }
            constexpr unsigned usable =
                NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;
            if (h->nlmsg_type == RTM_NEWNEIGH && (nd->ndm_state & usable) != 0 && lladdr_len == 6) {
                mac_address mac;
                std::memcpy(mac.data(), lladdr, 6);
                update(key, &mac);
            } else if (h->nlmsg_type == RTM_DELNEIGH || (nd->ndm_state & NUD_FAILED) != 0) {
                update(key, nullptr);
            }
        }
    }
}

}  // namespace sbc::dataplane::dpdk
