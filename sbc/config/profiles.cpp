#include "sbc/config/profiles.hpp"

namespace sbc::config {

namespace {

// Teams Direct Routing and ACS direct routing share Microsoft's SIP proxies
// and their rules (learn.microsoft.com, "Direct Routing - SIP protocol" and
// "Plan Direct Routing"; ACS: "direct routing SIP specification").
trunk_config microsoft_defaults() {
    trunk_config tc;
    // The proxies answer only over TLS and refuse an INVITE without SDP.
    tc.early_offer = early_offer_policy::convert;
    tc.codecs = {codec::g722, codec::pcmu, codec::pcma, codec::g729, codec::telephone_event};
    tc.dtmf = dtmf_mode::rfc4733;
    // Media to the platform is SRTP with this suite (SDES, RFC 4568).
    tc.srtp = srtp_mode::required;
    tc.srtp_suites = {srtp_suite::aes_cm_128_hmac_sha1_80};
    // RTCP on the RTP port (RFC 5761, RFC 8035), which the platform's media
    // specification asks for, offered and accepted.
    tc.rtcp_mux = rtcp_mux_mode::offer;
    // A call on hold is a=inactive both ways with Microsoft: the SBC's
    // offers state holds so, and the platform's own a=inactive hold reaches
    // the other leg as the a=sendonly a PBX or carrier expects.
    tc.hold = hold_style::inactive;
    // ICE stays off (trunk_config's default): media bypass is enabled per
    // SBC in the tenant, and a trunk that has it says `ice: lite`.
    // The proxies expect the SBC's OPTIONS about once a minute and treat an
    // SBC silent for longer as down.
    tc.keepalive.interval_seconds = 60;
    tc.tls.verify = true;
    tc.tls.identities = {"sip.pstnhub.microsoft.com", "*.pstnhub.microsoft.com"};
    // Contact and the OPTIONS' From carry the SBC's name: the proxies find
    // the tenant by it and refuse an IP address.
    tc.use_fqdn = true;
    // The SBC's vendor, model and version, which Microsoft asks certified
    // SBCs to send and uses when it looks into a tenant's problems.
    tc.sbc_header = trunk_config::header_line{"X-MS-SBC", "sbc/sbcd/" SBC_VERSION};
    // Numbers go to the proxies in E.164 and marked as telephone numbers
    // (RFC 3261 19.1.1), as the direct-routing SIP specification shows them.
    tc.user_phone = true;
    // Transfers come as REFER, which the SBC carries out itself.
    tc.refer = refer_policy::handle;
    // Teams plays no ringback of its own to a user whose call rings on the
    // PSTN: it plays the early media it receives, so the SBC plays the
    // tone when the called side alerts with a bare 180.
    tc.ringback = ringback_mode::local;
    // The proxies take no INVITE with Replaces: the SBC accepts one itself
    // and re-INVITEs the Microsoft leg instead.
    tc.replaces = replaces_policy::terminate;
    // The caller's identity and the diversion history travel in these.
    tc.forward_headers.insert(tc.forward_headers.end(),
                              {"P-Asserted-Identity", "Privacy", "History-Info"});
    return tc;
}

// Zoom Phone BYOC ("Zoom Phone BYOC SBC requirements").
trunk_config zoom_defaults() {
    trunk_config tc;
    tc.early_offer = early_offer_policy::convert;
    tc.codecs = {codec::opus, codec::pcmu, codec::pcma, codec::g729, codec::telephone_event};
    tc.dtmf = dtmf_mode::rfc4733;
    tc.srtp = srtp_mode::required;
    // The suites Zoom offers, in its order of preference.
    tc.srtp_suites = {srtp_suite::aead_aes_256_gcm, srtp_suite::aead_aes_128_gcm,
                      srtp_suite::aes_256_cm_hmac_sha1_80, srtp_suite::aes_cm_128_hmac_sha1_80,
                      srtp_suite::aes_cm_128_hmac_sha1_32};
    tc.tls.verify = true;
    // RFC 4028 session timers, refreshed every half hour.
    tc.session_timer.expires = 1800;
    return tc;
}

}  // namespace

trunk_config profile_defaults(trunk_profile profile) {
    trunk_config tc;
    switch (profile) {
        case trunk_profile::microsoft:
            tc = microsoft_defaults();
            break;
        case trunk_profile::zoom:
            tc = zoom_defaults();
            break;
        case trunk_profile::generic:
            break;
    }
    tc.profile = profile;
    return tc;
}

std::vector<profile_peer> profile_peers(trunk_profile profile) {
    if (profile != trunk_profile::microsoft) {
        return {};
    }
    // One after the other, never shared: the SBC tries sip, then sip2, then
    // sip3. TLS on 5061 with sip: URIs: the platform does not accept sips:.
    return {{"sip:sip.pstnhub.microsoft.com:5061;transport=tls", 10},
            {"sip:sip2.pstnhub.microsoft.com:5061;transport=tls", 20},
            {"sip:sip3.pstnhub.microsoft.com:5061;transport=tls", 30}};
}

const char* to_string(trunk_profile profile) noexcept {
    switch (profile) {
        case trunk_profile::microsoft:
            return "microsoft";
        case trunk_profile::zoom:
            return "zoom";
        case trunk_profile::generic:
            break;
    }
    return "generic";
}

std::optional<trunk_profile> profile_from_string(std::string_view name) noexcept {
    for (auto p : {trunk_profile::generic, trunk_profile::microsoft, trunk_profile::zoom}) {
        if (name == to_string(p)) {
            return p;
        }
    }
    return std::nullopt;
}

}  // namespace sbc::config
