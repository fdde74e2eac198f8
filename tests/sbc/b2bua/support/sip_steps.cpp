#include "tests/sbc/b2bua/support/sip_steps.hpp"

#include <fmt/format.h>
#include <sofia-sip/su_string.h>
#include <catch2/catch.hpp>

#include <cctype>

#include "sbc/auth/digest.hpp"
#include "sbc/sofia/auth_headers.hpp"

namespace sbc::test {

std::string body_of(const sip_t* sip) {
    return sip != nullptr && sip->sip_payload != nullptr
               ? std::string(sip->sip_payload->pl_data, sip->sip_payload->pl_len)
               : std::string();
}

std::string with_direction(std::string sdp, const std::string& direction) {
    const auto at = sdp.find("a=sendrecv");
    REQUIRE(at != std::string::npos);
    return sdp.replace(at, std::string("a=sendrecv").size(), "a=" + direction);
}

bool sdp_names_port(const std::string& sdp, std::uint16_t port) {
    const auto number = std::to_string(port);
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    for (std::size_t at = 0; at < sdp.size();) {
        auto end = sdp.find('\n', at);
        end = end == std::string::npos ? sdp.size() : end + 1;
        const std::string_view line(sdp.data() + at, end - at);
        at = end;
        if (line.substr(0, 2) == "o=") {
            continue;
        }
        for (auto hit = line.find(number); hit != std::string_view::npos;
             hit = line.find(number, hit + 1)) {
            const auto after = hit + number.size();
            if ((hit == 0 || !digit(line[hit - 1])) &&
                (after == line.size() || !digit(line[after]))) {
                return true;
            }
        }
    }
    return false;
}

std::string sdp_line(const std::string& sdp, std::string_view prefix) {
    for (std::size_t at = 0; at < sdp.size();) {
        auto end = sdp.find("\r\n", at);
        if (end == std::string::npos) {
            end = sdp.size();
        }
        const std::string_view line(sdp.data() + at, end - at);
        if (line.substr(0, prefix.size()) == prefix) {
            return std::string(line);
        }
        at = end + 2;
    }
    return {};
}

namespace {
// The `n`th space-separated field of `line` (0 first), "" past the end.
std::string field(const std::string& line, int n) {
    std::size_t at = 0;
    for (int i = 0; i < n && at != std::string::npos; ++i) {
        at = line.find(' ', at);
        at = at == std::string::npos ? at : at + 1;
    }
    if (at == std::string::npos) {
        return {};
    }
    return line.substr(at, line.find(' ', at) - at);
}
}  // namespace

std::string media_port(const std::string& sdp) { return field(sdp_line(sdp, "m="), 1); }

sdp_origin_fields sdp_origin(const std::string& sdp) {
    // o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>
    const auto o = sdp_line(sdp, "o=");
    const auto version = field(o, 2);
    return {field(o, 1), version.empty() ? -1 : std::stol(version)};
}

std::string request_uri(const incoming_request& r) {
    const auto text = r.text();
    return field(text.substr(0, text.find("\r\n")), 1);
}

std::string uri_escape(std::string_view value) {
    std::string out;
    for (const unsigned char c : value) {
        if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

outgoing_request& refer(peer_dialog& d, const std::string& refer_to) {
    const auto headers =
        fmt::format("Refer-To: {}\r\nReferred-By: <sip:1000@127.0.0.1>\r\n", refer_to);
    return d.send(SIP_METHOD_REFER, {}, nullptr, headers);
}

incoming_request& expect_notify(scripted_peer& p, int status, bool final) {
    auto& n = p.expect("NOTIFY");
    const sip_t* sip = n.sip();
    INFO(n.text());
    // RFC 3515 2.4.4, 2.4.5: the REFER's implicit subscription reports the
    // outcome as a sipfrag status line, and ends with the final one.
    REQUIRE(sip->sip_event != nullptr);
    CHECK(std::string(sip->sip_event->o_type) == "refer");
    REQUIRE(sip->sip_content_type != nullptr);
    CHECK(su_casenmatch(sip->sip_content_type->c_type, "message/sipfrag", 15));
    CHECK(n.body().rfind(fmt::format("SIP/2.0 {} ", status), 0) == 0);
    REQUIRE(sip->sip_subscription_state != nullptr);
    CHECK(std::string(sip->sip_subscription_state->ss_substate) ==
          (final ? "terminated" : "active"));
    n.reply(200);
    return n;
}

std::string digest_challenge(int status, const std::string& nonce, bool stale) {
    return fmt::format(
        "{}: Digest realm=\"peer.example\", nonce=\"{}\", qop=\"auth\", algorithm=MD5{}\r\n",
        status == 401 ? "WWW-Authenticate" : "Proxy-Authenticate", nonce,
        stale ? ", stale=true" : "");
}

void check_credentials(const incoming_request& r, int challenged_by, const std::string& nonce,
                       const std::string& username, const std::string& password) {
    const sip_t* sip = r.sip();
    INFO(r.text());
    // RFC 3261 22.2, 22.3: the header that matches the challenge's.
    const msg_auth_t* sent =
        challenged_by == 401 ? sip->sip_authorization : sip->sip_proxy_authorization;
    const msg_auth_t* other =
        challenged_by == 401 ? sip->sip_proxy_authorization : sip->sip_authorization;
    CHECK(other == nullptr);
    const auto values = sofia::auth_values(sent);
    REQUIRE(values.size() == 1);
    const auto a = auth::parse_authorization(values.front());
    REQUIRE(a.has_value());
    CHECK(a->username == username);
    CHECK(a->realm == "peer.example");
    CHECK(a->nonce == nonce);
    CHECK(a->qop == "auth");
    const auto uri = request_uri(r);
    CHECK(a->uri == uri);
    CHECK(auth::verify(*a, password, {sip->sip_request->rq_method_name, uri, r.body()}));
}

}  // namespace sbc::test
