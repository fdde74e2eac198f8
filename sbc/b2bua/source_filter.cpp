#include "sbc/b2bua/source_filter.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace sbc::b2bua {

namespace {

// Loads relative to the network header (the IP header), whatever protocol
// layer the socket's data starts at (linux/filter.h, SKF_NET_OFF).
constexpr std::uint32_t net(std::uint32_t offset) {
    return static_cast<std::uint32_t>(SKF_NET_OFF) + offset;
}

sock_filter op(std::uint16_t code, std::uint32_t k, std::uint8_t jt = 0, std::uint8_t jf = 0) {
    return sock_filter{code, jt, jf, k};
}

constexpr std::uint32_t accept_all = 0xFFFFFFFFU;  // keep the whole datagram

std::uint32_t word(const std::array<unsigned char, 16>& b, std::size_t i) {
    return static_cast<std::uint32_t>(b[i]) << 24 | static_cast<std::uint32_t>(b[i + 1]) << 16 |
           static_cast<std::uint32_t>(b[i + 2]) << 8 | b[i + 3];
}

std::uint32_t mask_word(unsigned prefix, unsigned word_index) {
    const unsigned first_bit = word_index * 32;
    if (prefix <= first_bit) {
        return 0;
    }
    const unsigned bits = std::min(32U, prefix - first_bit);
    return bits == 32 ? 0xFFFFFFFFU : ~(0xFFFFFFFFU >> bits);
}

// One block: compare the source address words its prefix covers; all equal
// accepts, the first difference jumps past the block to the next one.
void append_block(std::vector<sock_filter>& out, const config::cidr& c) {
    const bool v4 = c.family == AF_INET;
    const unsigned words = v4 ? 1 : 4;
    const std::uint32_t source = v4 ? 12 : 8;  // IPv4 / IPv6 header offsets of the source
    std::vector<unsigned> checked;
    for (unsigned w = 0; w < words; ++w) {
        if (mask_word(c.prefix, w) != 0) {
            checked.push_back(w);
        }
    }
    for (std::size_t j = 0; j < checked.size(); ++j) {
        const unsigned w = checked[j];
        const auto remaining = static_cast<std::uint8_t>(3 * (checked.size() - j - 1) + 1);
        out.push_back(op(BPF_LD | BPF_W | BPF_ABS, net(source + 4 * w)));
        out.push_back(op(BPF_ALU | BPF_AND | BPF_K, mask_word(c.prefix, w)));
        out.push_back(op(BPF_JMP | BPF_JEQ | BPF_K, word(c.bytes, 4 * w) & mask_word(c.prefix, w),
                         0, remaining));
    }
    out.push_back(op(BPF_RET | BPF_K, accept_all));
}

std::vector<sock_filter> section(const std::vector<config::cidr>& blocks, int family) {
    std::vector<sock_filter> out;
    for (const auto& c : blocks) {
        if (c.family == family) {
            append_block(out, c);
        }
    }
    out.push_back(op(BPF_RET | BPF_K, 0));  // in no block: dropped
    return out;
}

bool same_address(const sockaddr_storage& a, const dataplane::ip_endpoint& b) {
    if (a.ss_family != b.family()) {
        return false;
    }
    if (a.ss_family == AF_INET) {
        const auto& x = reinterpret_cast<const sockaddr_in&>(a);
        const auto& y = *reinterpret_cast<const sockaddr_in*>(b.sockaddr_ptr());
        return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
    }
    const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
    const auto& y = *reinterpret_cast<const sockaddr_in6*>(b.sockaddr_ptr());
    return x.sin6_port == y.sin6_port &&
           std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
}

}  // namespace

std::vector<sock_filter> source_filter_program(const std::vector<config::cidr>& blocks) {
    // The IP version decides which section runs: a socket bound to :: also
    // receives IPv4 datagrams.
    auto v4 = section(blocks, AF_INET);
    auto v6 = section(blocks, AF_INET6);
    std::vector<sock_filter> out;
    out.push_back(op(BPF_LD | BPF_B | BPF_ABS, net(0)));
    out.push_back(op(BPF_ALU | BPF_RSH | BPF_K, 4));
    out.push_back(op(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, static_cast<std::uint8_t>(v4.size())));
    out.insert(out.end(), v4.begin(), v4.end());
    out.insert(out.end(), v6.begin(), v6.end());
    return out;
}

result<std::vector<int>> attach_source_filter(const dataplane::ip_endpoint& bound,
                                              const std::vector<config::cidr>& blocks) {
    std::size_t v4 = 0;
    for (const auto& c : blocks) {
        v4 += c.family == AF_INET ? 1 : 0;
    }
    if (v4 > max_filter_blocks || blocks.size() - v4 > max_filter_blocks) {
        return make_error(fmt::format("more than {} blocks of one family", max_filter_blocks));
    }
    auto program = source_filter_program(blocks);
    sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
    std::vector<int> filtered;
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        return make_error(fmt::format("cannot list /proc/self/fd: {}", std::strerror(errno)));
    }
    while (const dirent* e = ::readdir(dir)) {
        char* end = nullptr;
        const long fd = std::strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0' || fd == ::dirfd(dir)) {
            continue;
        }
        int type = 0;
        socklen_t len = sizeof type;
        if (::getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
            type != SOCK_DGRAM) {
            continue;
        }
        sockaddr_storage name{};
        len = sizeof name;
        if (::getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&name), &len) != 0 ||
            !same_address(name, bound)) {
            continue;
        }
        if (::setsockopt(static_cast<int>(fd), SOL_SOCKET, SO_ATTACH_FILTER, &fprog,
                         sizeof fprog) != 0) {
            const int err = errno;
            ::closedir(dir);
            return make_error(fmt::format("cannot attach a socket filter: {}", std::strerror(err)));
        }
        filtered.push_back(static_cast<int>(fd));
    }
    ::closedir(dir);
    if (filtered.empty()) {
        return make_error(fmt::format("no UDP socket bound to {}", bound.to_string()));
    }
    return filtered;
}

std::uint64_t socket_drops(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        return 0;
    }
    const auto inode = std::to_string(st.st_ino);
    for (const char* table : {"/proc/net/udp", "/proc/net/udp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // the heading
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::vector<std::string> f;
            for (std::string x; fields >> x;) {
                f.push_back(x);
            }
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
            if (f.size() >= 13 && f[9] == inode) {
                return std::strtoull(f.back().c_str(), nullptr, 10);
            }
        }
    }
    return 0;
}

}  // namespace sbc::b2bua
