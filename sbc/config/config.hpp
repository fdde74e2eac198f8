// The sbcd configuration as typed, validated data.
//
// conf/README.md documents every key. load_file() decodes the YAML into these
// structs, rejects unknown keys and wrong types, and runs the cross-field
// checks (undefined references, overlapping listeners, port ranges) before
// anything starts. A config object is immutable once loaded; later reloads
// publish a new one as a shared snapshot.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sbc/dns/settings.hpp"

namespace sbc::config {

enum class transport { udp, tcp, tls };

/// Where a value came from in the YAML, for error messages at run time.
struct source_mark {
    int line = 0;    ///< 1-based
    int column = 0;  ///< 1-based
};

/// One SIP listener: "udp://127.0.1.1:5060", "tcp://[::1]:5060" or
/// "tls://127.0.1.1:5061".
struct listen_uri {
    transport proto = transport::udp;
    std::string host;  ///< IP literal, without brackets
    std::uint16_t port = 5060;
};

/// The TLS identity and trust store of an interface. Required when the
/// interface has a tls:// listener or a trunk on it has TLS peers. Files are
/// read at start and again on reload (sbcctl reload, SIGHUP).
struct tls_config {
    std::string certificate;  ///< PEM chain, the SBC's certificate first
    std::string private_key;  ///< PEM, unencrypted
    std::string ca_file;      ///< PEM bundle of trusted CAs; ca_file and/or ca_dir
    std::string ca_dir;       ///< directory hashed by `openssl rehash`
    /// TLS 1.2 cipher list (OpenSSL syntax). The default allows only forward
    /// secret AEAD suites (RFC 9325 4.2).
    std::string ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";
    /// TLS 1.3 suites (OpenSSL's TLS_AES_... names).
    std::string ciphersuites =
        "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256";
    /// "1.2" or "1.3"; nothing older is ever allowed.
    std::string min_version = "1.2";
    source_mark mark;
};

/// An address block, "203.0.113.0/24" or "2001:db8::/32"; a bare address
/// is a block of one.
struct cidr {
    int family = 0;                         ///< AF_INET or AF_INET6
    std::array<unsigned char, 16> bytes{};  ///< network order, host bits zero
    unsigned prefix = 0;
    std::string text;  ///< canonical "address/prefix"

    /// `address`: 4 (AF_INET) or 16 (AF_INET6) bytes in network order.
    bool contains(int address_family, const unsigned char* address) const noexcept;
};

/// The flood guard of an interface: a source sending requests faster than
/// `rate` (with `burst` to spare) is blocked for `block_seconds`.
struct flood_config {
    double rate = 0;     ///< requests per second per source address; 0: no guard
    unsigned burst = 0;  ///< 0: twice the rate
    unsigned block_seconds = 60;
};

struct interface_config {
    std::string name;
    std::vector<listen_uri> listen;
    std::string media_address;  ///< IP literal the SDP and the RTP sockets use
    /// The SBC's own name on this interface (lower case), for the trunks
    /// that ask for it on the wire: the cloud platforms refuse an IP address
    /// in Contact. Empty: none.
    std::string fqdn;
    std::optional<tls_config> tls;
    /// Where requests may come from; empty: anywhere (the trunks' peer
    /// lists still decide who gets an answer other than 403).
    std::vector<cidr> allow_sources;
    flood_config flood;
    source_mark mark;

    bool has_listener(transport t) const noexcept;
};

/// A peer of a trunk: "sip:127.0.1.2:5060;transport=tcp",
/// "sips:127.0.1.2" (TLS, port 5061), or the shorthand "127.0.1.2:5060" /
/// "127.0.1.2" (UDP, port 5060); or a map with uri, priority and weight.
/// The host may be a name ("sip:sip.pstnhub.microsoft.com;transport=tls"),
/// which RFC 3263 resolves to targets: what the URI says decides how (a
/// port: A/AAAA alone; a transport: its SRV records; neither: NAPTR first).
struct peer_config {
    std::string host;  ///< IP literal without brackets, or a lower-case host name
    bool is_name = false;
    std::uint16_t port = 5060;  ///< the URI's port, or the default of its transport
    bool port_given = false;    ///< the URI named a port
    transport proto = transport::udp;
    bool transport_given = false;  ///< ;transport= or sips: named the transport
    bool sips = false;             ///< a sips: URI (RFC 3263 4.1: TLS targets only)
    /// Lower is tried first (as in DNS SRV, RFC 2782); peers of equal priority
    /// share the calls in proportion to their weights.
    unsigned priority = 10;
    unsigned weight = 100;
};

/// The codecs the SBC may offer on a trunk, in order of preference.
enum class codec { opus, pcmu, pcma, g722, g729, telephone_event };

/// How the SBC watches a trunk's peers (OPTIONS pings, RFC 3261 11).
struct keepalive_config {
    unsigned interval_seconds = 30;  ///< 0: no pings; every peer counts as up
    unsigned timeout_seconds = 5;    ///< an OPTIONS unanswered this long is a failure
    unsigned down_after = 3;         ///< consecutive failures that mark a peer down
    unsigned up_after = 2;           ///< consecutive successes that mark it up again
};

/// What TLS requires of a trunk's peers.
struct trunk_tls_config {
    bool verify = true;  ///< the peer must present a certificate our trust store accepts
    /// Names or addresses one of which the peer's certificate must carry
    /// (subjectAltName DNS or IP; the CN only when there is no SAN). Empty:
    /// any name, as long as the chain verifies.
    std::vector<std::string> identities;
};

/// What the SBC does with an INVITE without SDP (a delayed offer, RFC 3264
/// 5) bound for a trunk. Cloud trunks (Zoom BYOC, Teams Direct Routing)
/// require an offer in every INVITE they receive.
enum class early_offer_policy {
    pass,     ///< send it on without SDP; the offer comes in the 2xx
    convert,  ///< send it with an offer the SBC builds from the trunk's codecs
    reject,   ///< refuse it with 488 and a Warning
};

/// Media encryption on a trunk's leg (RFC 3711 SRTP, keyed by RFC 4568 SDES).
/// Each leg is keyed on its own: the SBC decrypts and re-encrypts, so the two
/// legs never share a key and one may be SRTP while the other is RTP.
enum class srtp_mode {
    off,       ///< RTP/AVP only; an RTP/SAVP offer from the trunk is refused with 488
    optional,  ///< SRTP when the peer takes it: offers RTP/AVP with a=crypto lines
    required,  ///< RTP/SAVP only; an offer or answer without a usable key fails the call
};

/// RTCP multiplexing on a trunk's leg (RFC 5761, RFC 8035): RTCP on the RTP
/// port instead of RTP + 1.
enum class rtcp_mux_mode {
    off,     ///< never: a=rtcp-mux is dropped from offers and never answered (RTP + 1)
    accept,  ///< an offer with a=rtcp-mux is answered with it and muxed; none offered
    offer,   ///< as accept, and the SBC's offers carry a=rtcp-mux (with a=rtcp fallback)
};

/// How a hold (RFC 3264 8.4) is stated in the offers the SBC sends a trunk.
/// The SBC's c= always names its own address, so c=0.0.0.0 never leaves it.
enum class hold_style {
    pass,      ///< the other leg's direction as it came (c=0.0.0.0: sendonly or inactive)
    inactive,  ///< a held stream (sendonly, inactive, c=0.0.0.0) is offered a=inactive
    sendonly,  ///< a held stream is offered a=sendonly
};

/// ICE on a trunk's leg (RFC 8445, SDP by RFC 8839): media bypass, as Teams
/// direct routing calls it, needs the SBC to answer the peer's connectivity
/// checks.
enum class ice_mode {
    off,  ///< no ICE attributes in the SBC's SDP; STUN on the media ports is dropped
    /// The SBC is an ICE-lite agent (RFC 8445 2.5): its SDP carries a=ice-lite,
    /// its credentials and one host candidate per component, and the data
    /// plane answers the peer's checks. A peer whose SDP has no ICE gets none.
    lite,
};

/// How a trunk's peers send and take DTMF digits. Between trunks of
/// different modes the SBC converts.
enum class dtmf_mode {
    rfc4733,  ///< telephone-event packets in the RTP stream (RFC 4733)
    info,     ///< SIP INFO requests, application/dtmf-relay or application/dtmf
    inband,   ///< tones in the audio: G.711 only (compressed codecs distort them)
};

/// The SRTP suites of RFC 4568 6.2 and RFC 7714 14.2 the data plane does.
enum class srtp_suite {
    aes_cm_128_hmac_sha1_80,
    aes_cm_128_hmac_sha1_32,
    aead_aes_128_gcm,
    aead_aes_256_gcm,
    aes_256_cm_hmac_sha1_80,  ///< RFC 6188 7.1 (Zoom BYOC offers it)
    aes_256_cm_hmac_sha1_32,
};

/// The numbers a normalization rule may rewrite: the user parts of the
/// request-URI, From, To, P-Asserted-Identity and Diversion.
enum number_field : unsigned {
    field_ruri = 1U << 0,
    field_from = 1U << 1,
    field_to = 1U << 2,
    field_pai = 1U << 3,
    field_diversion = 1U << 4,
    all_number_fields = (1U << 5) - 1,
};

/// One rewrite: in each field it applies to, the first match of `match` is
/// replaced by `replace` ($1..$9, $& as in ECMAScript's String.replace).
struct rewrite_rule {
    std::string match;
    std::string replace;
    unsigned fields = all_number_fields;
    source_mark mark;
};

/// A trunk's number normalization: for each field, the first rule whose
/// regex matches rewrites it and the rest are skipped.
struct normalization {
    std::vector<rewrite_rule> inbound;   ///< requests from the trunk, before routing
    std::vector<rewrite_rule> outbound;  ///< requests to the trunk, after routing
};

/// One header manipulation (conf/README.md, "headers"). Values may refer to
/// the request: ${ruri_user}, ${from_user}, ${to_user} (after normalization),
/// ${from_trunk}, ${to_trunk}, ${source_ip} and ${header:Name} (the first
/// value of a header of the incoming request).
struct header_rule {
    enum class action { add, set, remove, set_param, remove_param };
    action what = action::add;
    std::string header;  ///< the header's name (never one the SBC builds for the dialog)
    std::string param;   ///< set_param, remove_param: the parameter's name
    std::string value;   ///< add, set, set_param: the value, with ${...} references
    /// The requests it applies to: INVITE (the initial one and re-INVITEs),
    /// UPDATE, INFO, MESSAGE, the ones the SBC relays with headers.
    std::vector<std::string> methods{"INVITE"};
    source_mark mark;
};

/// A trunk's header manipulation (SIP normalization).
struct header_rules {
    /// Requests from the trunk, before the other trunk's forward_headers
    /// allow-list: what is removed or changed here is what may be forwarded.
    std::vector<header_rule> inbound;
    /// Requests to the trunk, after the allow-list, on the headers the SBC
    /// sends (From and To included).
    std::vector<header_rule> outbound;
};

/// Admission limits of one direction of a trunk; 0 is no limit.
struct call_limits {
    unsigned max_calls = 0;    ///< calls up at once
    double cps = 0;            ///< new calls per second (token bucket)
    unsigned burst = 0;        ///< calls at once above the rate; 0: ceil(cps)
    unsigned retry_after = 5;  ///< seconds, in the 503 for max_calls
};

struct trunk_limits {
    call_limits inbound;   ///< INVITEs from the trunk
    call_limits outbound;  ///< calls the SBC sends to it
};

/// Digest credentials (RFC 3261 22.4): what the SBC answers a trunk's
/// 401/407 with, and what the registrar and the challenges check.
struct credentials {
    std::string username;
    std::string password;
};

/// The digest algorithms of RFC 8760 the SBC offers and answers.
enum class digest_algorithm { md5, sha256, sha512_256 };

/// Registration of the SBC at a trunk that requires it (a carrier's
/// registration-based trunk): REGISTER with the trunk's `auth` credentials,
/// refreshed before it expires.
struct registration_config {
    std::string aor;          ///< "sip:+4930123456@carrier.example": To and From of the REGISTER
    unsigned expires = 3600;  ///< asked for; the registrar's answer decides
    source_mark mark;
};

/// The SBC challenges requests from a trunk (RFC 3261 22.1): INVITEs with
/// 407, REGISTERs with 401, until they carry valid credentials.
struct challenge_config {
    std::string realm;
    digest_algorithm algorithm = digest_algorithm::md5;
    std::vector<credentials> users;
    source_mark mark;
};

/// The SBC as a registrar (RFC 3261 10.3) for the phones or PBXs of a
/// trunk: REGISTERs from `sources` bind an address-of-record's user to the
/// contact they came from; calls routed to the trunk go to the binding of
/// the Request-URI's user.
struct registrar_config {
    std::string domain;         ///< the AORs' host part; empty: any
    std::vector<cidr> sources;  ///< where REGISTERs (and the phones' calls) may come from
    unsigned min_expires = 60;
    unsigned max_expires = 3600;
    source_mark mark;
};

/// Session timers (RFC 4028) on a trunk's legs.
struct session_timer_config {
    /// Session-Expires the SBC asks for on calls it sends to the trunk; 0:
    /// none asked (the trunk's own request, if any, is still honoured).
    unsigned expires = 0;
    /// The shortest interval accepted from the trunk (422 below it). RFC
    /// 4028 4 makes 90 the floor; lower values are for tests.
    unsigned min_se = 90;
};

/// The platform whose published SIP rules a trunk's defaults follow
/// (sbc/config/profiles.hpp).
enum class trunk_profile { generic, microsoft, zoom };

/// What the SBC does with a REFER (RFC 3515) from a trunk's peer.
enum class refer_policy {
    reject,  ///< 405: the trunk's peers do not transfer through the SBC
    /// The SBC carries out the transfer itself (as Teams Direct Routing
    /// expects): it calls the Refer-To target through its own routing,
    /// reports progress with NOTIFY and puts the new dialog in the
    /// referrer's place, so the other side never sees the REFER.
    handle,
};

/// Whether callers on a trunk hear a ringback tone the SBC plays itself
/// when the called side alerts (18x) without early media of its own.
enum class ringback_mode {
    off,  ///< the 18x is relayed as it came; the caller's phone rings locally, or not
    /// The caller gets a 183 with the SBC's SDP answer and a ringback tone
    /// as RTP from the SBC until the callee's media or final answer comes:
    /// for callers that expect early media (Teams, ACS direct routing).
    local,
};

/// The cadence the SBC's ringback plays (ITU-T E.180 Supplement 2).
enum class ringback_style {
    us,  ///< 440 + 480 Hz, 2 s on 4 s off
    eu,  ///< 425 Hz, 1 s on 4 s off (CEPT, most of Europe)
    uk,  ///< 400 + 450 Hz, 0.4 s on 0.2 off 0.4 on 2 off
};

/// What the SBC does with an INVITE with Replaces (RFC 3891) that names a
/// dialog whose other leg is on this trunk.
enum class replaces_policy {
    /// The INVITE goes on to this trunk's peer with a Replaces naming its
    /// own dialog with the SBC: the peer swaps the dialogs itself.
    pass,
    /// The SBC accepts the INVITE itself and re-INVITEs this trunk's leg
    /// towards the new caller: this trunk's peer never sees a Replaces
    /// (Microsoft's proxies take none).
    terminate,
};

struct trunk_config {
    std::string name;
    std::string interface;  ///< name of an interface_config
    /// Where the defaults of the keys below came from; set by the decoder
    /// and shown by `sbcctl trunks`, read by nothing else.
    trunk_profile profile = trunk_profile::generic;
    std::vector<peer_config> peers;
    /// Headers of the other leg that may be carried onto requests sent to this
    /// trunk (RFC 5853 topology hiding: everything else is dropped). Names are
    /// compared case-insensitively; Via, Route, Record-Route, Contact, Call-ID,
    /// From, To, CSeq and the body headers can never be allowed.
    early_offer_policy early_offer = early_offer_policy::pass;
    std::vector<std::string> forward_headers = {"Subject", "Priority", "Accept-Language",
                                                "Organization", "Date"};
    std::vector<codec> codecs = {codec::pcmu, codec::pcma, codec::telephone_event};
    /// telephone-event is negotiated on the trunk only in rfc4733 mode.
    dtmf_mode dtmf = dtmf_mode::rfc4733;
    keepalive_config keepalive;
    /// Seconds without any response from a peer to an INVITE before the call
    /// is tried on the next peer.
    unsigned failover_timeout_seconds = 4;
    trunk_tls_config tls;
    srtp_mode srtp = srtp_mode::off;
    /// Offered in this order (one a=crypto line each, each with its own key);
    /// an offer from the trunk is answered with its first line whose suite is here.
    std::vector<srtp_suite> srtp_suites = {
        srtp_suite::aes_cm_128_hmac_sha1_80, srtp_suite::aead_aes_128_gcm,
        srtp_suite::aead_aes_256_gcm, srtp_suite::aes_cm_128_hmac_sha1_32};
    /// accept: what a peer offers is taken (RFC 5761 5.1.1), nothing more asked.
    rtcp_mux_mode rtcp_mux = rtcp_mux_mode::accept;
    /// How holds are stated in offers to the trunk (sdp/hold_direction.hpp);
    /// an a=inactive offer from an `inactive` trunk is a hold as well.
    hold_style hold = hold_style::pass;
    /// off: the trunk's SDP never carries ICE (the peer's is dropped, as it
    /// always is towards the other leg).
    ice_mode ice = ice_mode::off;
    /// The SBC names itself by its interface's fqdn towards this trunk: in
    /// the Contact of every request and response on the trunk's legs, and in
    /// the From and Contact of its OPTIONS (the cloud platforms refuse an IP
    /// address there). Needs the interface's `fqdn`.
    bool use_fqdn = false;
    /// A header line the SBC adds to the INVITEs and OPTIONS it sends to the
    /// trunk, naming itself: Microsoft's X-MS-SBC ("vendor/model/version").
    /// An extension header (X-...) only, so it can neither reopen a
    /// topology leak nor change what a request means.
    struct header_line {
        std::string name;
        std::string value;
    };
    std::optional<header_line> sbc_header;
    /// ";user=phone" (RFC 3261 19.1.1) on the SIP URIs of the Request-URI,
    /// From, To and P-Asserted-Identity of the INVITEs sent to the trunk
    /// whose user is an E.164 number ("+" and digits, RFC 3966) after the
    /// trunk's outbound normalization.
    bool user_phone = false;
    normalization normalize;
    header_rules headers;
    trunk_limits limits;
    session_timer_config session_timer;
    refer_policy refer = refer_policy::reject;
    /// For calls FROM this trunk: local ringback when the callee's 18x has no SDP.
    ringback_mode ringback = ringback_mode::off;
    ringback_style ringback_tone = ringback_style::us;
    replaces_policy replaces = replaces_policy::pass;
    std::optional<credentials> auth;                  ///< answers the trunk's challenges
    std::optional<registration_config> registration;  ///< YAML key `register`
    std::optional<challenge_config> challenge;
    std::optional<registrar_config> registrar;
    source_mark mark;
};

/// A weekly time window in a time zone: days and a span of the day.
struct time_window {
    std::uint8_t days = 0x7f;      ///< bit 0 Monday .. bit 6 Sunday
    unsigned from_minute = 0;      ///< minutes after local midnight, inclusive
    unsigned to_minute = 1440;     ///< exclusive; not above from_minute: crosses midnight
    std::string timezone = "UTC";  ///< IANA name ("Europe/Berlin")
    source_mark mark;
};

/// What a route does instead of routing: answer with this status.
struct route_reject {
    unsigned code = 403;
    std::string reason;  ///< empty: the standard phrase of the code
};

/// First match wins; a rule matches when every criterion it has holds, and a
/// rule with no criteria matches everything. Its action is one of to_trunks
/// (tried in order: the next trunk when every peer of one failed or is down)
/// and reject.
struct route_config {
    std::string name;
    std::optional<std::string> from_interface;
    std::optional<std::string> from_trunk;
    // ECMAScript regexes, searched in the users after the source trunk's
    // inbound normalization.
    std::optional<std::string> ruri_user;
    std::optional<std::string> from_user;
    std::optional<std::string> to_user;
    std::vector<cidr> sources;       ///< the caller's address is in one of them
    std::vector<time_window> times;  ///< now is in one of them
    std::vector<std::string> to_trunks;
    std::optional<route_reject> reject;
    source_mark mark;
};

/// One DPDK port: the device that carries an interface's media address.
struct dpdk_port_config {
    std::string interface;  ///< the interface whose media_address this port serves
    /// "net_af_packet0,iface=eth1" (a virtual device) or "0000:03:00.0" (PCI).
    std::string device;
    unsigned prefix = 24;  ///< the media address's prefix length on its link
    /// The TAP the kernel sees (SIP, ARP, ND on the media address); at most
    /// 15 characters; "sbc-" + the interface's name when not given.
    std::string exception_interface;
    source_mark mark;
};

/// media.dpdk: the dpdk backend's settings.
struct dpdk_config {
    std::vector<std::string> eal_args;   ///< extra EAL arguments
    std::vector<unsigned> lcores = {1};  ///< a worker per lcore
    unsigned mbufs = 8191;
    std::vector<dpdk_port_config> ports;
};

struct media_config {
    std::uint16_t port_min = 20000;  ///< even; RTP takes even ports, RTCP the next odd one
    std::uint16_t port_max = 29999;
    std::string backend = "kernel";
    unsigned workers = 1;
    unsigned timeout_seconds = 60;  ///< no media on an established call for this long: BYE
    dpdk_config dpdk;               ///< with backend dpdk
};

/// Call detail records (conf/README.md, "cdr"): one JSON line per call
/// attempt, in a file rotated by size.
struct cdr_config {
    std::string file;  ///< absolute path; its directory must exist
    std::uint64_t max_bytes = 10 * 1024 * 1024;
    unsigned keep = 10;  ///< rotated files kept (file.1 .. file.N)
};

struct control_config {
    std::string socket = "/run/sbc/control.sock";
};

/// The Prometheus exporter (conf/README.md, "metrics").
struct metrics_config {
    std::string listen;  ///< "IP:PORT" or "[IPv6]:PORT", canonical
};

/// A DNS server the SBC asks, "IP" or "IP:PORT" (IPv6 in brackets).
struct dns_server {
    std::string host;  ///< IP literal, without brackets
    std::uint16_t port = 53;
};

/// How the SBC resolves its peers' names (RFC 3263).
struct dns_config {
    /// Empty: the servers of /etc/resolv.conf.
    std::vector<dns_server> servers;
    /// How long past its TTL an answer is still used while its name no
    /// longer resolves (the peer is likelier to be where it was than nowhere).
    unsigned stale_seconds = 3600;
};

/// Where a node of a cluster keeps its shared state (conf/README.md,
/// "cluster"): a Redis server, by IP literal or unix socket path (a host
/// name would block the loop in getaddrinfo).
/// TLS to the store's Redis server (its `tls-port`), from `store.tls`.
struct cluster_store_tls_config {
    std::string ca_file;    ///< PEM: the CAs the server's certificate must chain to
    std::string cert_file;  ///< PEM: our client certificate ("": none; tls-auth-clients no)
    std::string key_file;   ///< PEM: its key; given with cert_file only
    /// The name the server's certificate must carry (subjectAltName DNS),
    /// also sent as SNI. "": the certificate must carry the address's IP.
    std::string server_name;
    bool verify = true;  ///< false: encrypted, but any server certificate is taken
};

struct cluster_store_config {
    std::string address;              ///< "IP:PORT", "[IPv6]:PORT" or "unix:/path"
    std::string user;                 ///< Redis ACL user; "" with requirepass only
    std::string password;             ///< from `password` or `password_file`
    unsigned timeout_ms = 1000;       ///< connect, and a command's answer
    std::size_t queue_limit = 10000;  ///< calls waiting to be written; more are dropped, counted
    std::optional<cluster_store_tls_config> tls;  ///< none: plain TCP or a unix socket
};

/// This node's place in a redundant pair or an active-active cluster.
struct cluster_config {
    std::string node;            ///< this node's name, unique in the cluster
    std::string partner;         ///< the node whose calls this one takes over ("": none)
    std::string prefix = "sbc";  ///< of every key: "<prefix>:call:<node>:<id>"
    bool standby = false;        ///< starts as standby: silent until made active
    cluster_store_config store;
    /// 32 octets as 64 hex digits, from `key_file`: the AES-256-GCM key
    /// that seals SRTP keys and other secrets before they leave the process.
    std::string key_hex;
    /// The file keepalived's track_file reads (weight 0): sbcd writes "0"
    /// there at start and "1" when `sbcctl drain --hand-over` has written
    /// its calls, which puts its VRRP instance in FAULT so that the partner
    /// takes the addresses (and then the calls). "": the operator moves them.
    std::string hand_over_file;
};

struct config {
    std::string source_file;
    std::vector<interface_config> interfaces;
    std::vector<trunk_config> trunks;
    std::vector<route_config> routes;
    media_config media;
    control_config control;
    dns_config dns;
    std::optional<cdr_config> cdr;          ///< none: no CDRs are written
    std::optional<cluster_config> cluster;  ///< none: a node on its own
    std::optional<metrics_config> metrics;  ///< none: no /metrics HTTP server

    const interface_config* find_interface(const std::string& name) const;
    const trunk_config* find_trunk(const std::string& name) const;
};

/// A configuration that failed to load: every problem found, one a line, each
/// "file:line:column: key: what was expected".
class config_error : public std::runtime_error {
public:
    explicit config_error(std::vector<std::string> problems);
    const std::vector<std::string>& problems() const noexcept { return _problems; }

private:
    std::vector<std::string> _problems;
};

/// "ruri", "from", "to", "pai", "diversion".
std::string_view to_string(number_field f) noexcept;

/// "udp", "tcp" or "tls", as in a SIP URI's transport parameter.
std::string_view to_string(transport t) noexcept;

/// "udp://127.0.1.1:5060", "tcp://[::1]:5060": the form the YAML uses.
std::string to_string(const listen_uri& l);

/// "sip:127.0.1.2:5060;transport=udp", "sip:[2001:db8::1]:5060;transport=tcp".
std::string to_string(const peer_config& p);

/// The `dns:` section as the resolver of peer names takes it
/// (sbc/dns/settings.hpp): servers as "IP:PORT", stale_seconds as its
/// stale_grace; the resolver's other settings keep their defaults.
dns::settings resolver_settings(const dns_config& dns);

/// "PCMU", "PCMA", "G729", "opus", "telephone-event": the names the YAML uses.
std::string_view to_string(codec c) noexcept;

/// "off", "optional", "required".
std::string_view to_string(srtp_mode m) noexcept;
std::string_view to_string(dtmf_mode m) noexcept;
std::string_view to_string(ringback_mode m) noexcept;
std::string_view to_string(ringback_style s) noexcept;

/// "AES_CM_128_HMAC_SHA1_80" and so on: the names SDP and the YAML use.
std::string_view to_string(srtp_suite s) noexcept;

/// True for the headers a B2BUA decides on each leg itself and so can never be
/// listed in forward_headers (case-insensitive): addresses and dialog identity
/// (Via, Route, Record-Route, Path, Contact, Call-ID, From, To, CSeq,
/// Max-Forwards), the body framing (Content-*, MIME-Version), per-leg
/// negotiation (Require, Proxy-Require, Supported, Unsupported, Allow, RSeq,
/// RAck), credentials (Authorization, Proxy-Authorization, WWW-Authenticate,
/// Proxy-Authenticate), and the compact forms of these (RFC 3261 7.3.3).
/// Covers every header sbc::policy::is_never_forwarded drops on the wire, and
/// any Content-* header besides the ones that lists.
bool is_never_forwarded_header(std::string_view name) noexcept;

/// Loads and validates a file. Throws config_error (with all problems found)
/// or config_error with one problem when the file cannot be read or parsed.
config load_file(const std::string& path);

/// Same, from text; `name` stands for the file name in messages (tests).
config load_string(const std::string& text, const std::string& name = "<string>");

}  // namespace sbc::config
