"""End-to-end tests of the Microsoft and Zoom trunk profiles (issue 21), with
peers that behave as the platforms' published SIP specifications say,
message by message.

Microsoft (Teams / ACS direct routing): the trunk says `profile: microsoft`
and nothing more about its peers, so it dials the three proxies
sip/sip2/sip3.pstnhub.microsoft.com on 5061 over TLS. A dnsmasq the test
starts (carrier host 53, port 5353, as test_dns_peers.py) answers those names
with carrier hosts 3, 4 and 5, where stunnel presents a certificate for
*.pstnhub.microsoft.com (made at test time, pki.py), demands the SBC's, and
leads only the SNI of that host's own name to a sipp behind it (TCP 5062),
so that whatever reaches sipp came with the right SNI. The SBC's interface
has the FQDN sbc.example.test, with a certificate for it.

Zoom (BYOC): the trunk says `profile: zoom` with two SIP zones, primary and
secondary, at carrier hosts 3 and 4 (stunnel + sipp, as test_tls.py). A
Zoom-style INVITE comes from Python's ssl module (TLS 1.2, mutual), with
Zoom's five SRTP suites in Zoom's order and a Session-Expires.

The proxies and zones behind stunnel carry no media: only their SDP is
checked, so those calls last a fraction of a second. The SRTP media of a
zoom-profile trunk with AEAD_AES_256_GCM is checked against baresip (on UDP:
the media path does not depend on the signalling transport). Every wait is
bounded.
"""

import base64
import os
import select
import socket
import ssl
from pathlib import Path

from harness import PBX_SIPP_MEDIA, SIP_PORT, SipMessage, check, tcp_listening, wait_until
from pki import MICROSOFT_PROXIES, SBC_FQDN, make_cloud_pki
from test_dns_peers import DNS_HOST, DNS_PORT, start_dnsmasq
from test_tls import BEHIND_STUNNEL, STUNNEL, TLS_PORT, start_stunnel_server, trunks

TESTS = []
PROXY_HOSTS = (3, 4, 5)  # carrier hosts of sip, sip2 and sip3.pstnhub.microsoft.com
ZONE_HOSTS = (3, 4)  # carrier hosts of the primary and the secondary Zoom zone
RETRY_AFTER = 30
# What Zoom's sample INVITE offers, in its order (the key lengths of RFC 7714
# 12 and RFC 6188 / RFC 4568 6.2: master key and salt).
ZOOM_SUITES = (("AEAD_AES_256_GCM", 44), ("AEAD_AES_128_GCM", 28),
               ("AES_256_CM_HMAC_SHA1_80", 46), ("AES_CM_128_HMAC_SHA1_80", 30),
               ("AES_CM_128_HMAC_SHA1_32", 30))


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def inline_key(length):
    return base64.b64encode(os.urandom(length)).decode()


# -- sipp scenarios ------------------------------------------------------------

def scenario(t, name, body):
    path = Path(t.workdir) / f"{name}.xml"
    path.write_text('<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
                    '<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'
                    f'<scenario name="{name}">\n{body}\n</scenario>\n')
    return path


RESPONSE_HEAD = """      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]uas[call_number]
      [last_Call-ID:]
      [last_CSeq:]"""


def options_answering(t):
    """A proxy answering the SBC's OPTIONS keep-alive with 200."""
    return scenario(t, "proxy_options", f"""  <recv request="OPTIONS"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
{RESPONSE_HEAD}
      Content-Length: 0

    ]]>
  </send>""")


def refusing(t, code, extra_header=None):
    """A peer refusing every INVITE with `code` (and `extra_header`)."""
    extra = f"\n      {extra_header}" if extra_header else ""
    return scenario(t, f"refuse_{code}", f"""  <recv request="INVITE"/>
  <send>
    <![CDATA[
      SIP/2.0 {code} Refused
{RESPONSE_HEAD}{extra}
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <timewait milliseconds="300"/>""")


def silent(t):
    """A peer that takes the INVITE and never answers it, not even 100."""
    return scenario(t, "silent", '  <recv request="INVITE"/>')


def answering_srtp(t, ip, crypto, mux=False):
    """A peer answering with SRTP (`crypto`: an a=crypto line) and PCMA; its
    Contact names its TLS address, so in-dialog requests come back over TLS."""
    return scenario(t, "answer_srtp", f"""  <recv request="INVITE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
{RESPONSE_HEAD}
      Contact: <sip:callee@{ip}:{TLS_PORT};transport=tls>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=callee 2002 2002 IN IP4 {ip}
      s=-
      c=IN IP4 {ip}
      t=0 0
      m=audio 6008 RTP/SAVP 8
      a=rtpmap:8 PCMA/8000
      {crypto}
      {'a=rtcp-mux' if mux else 'a=ptime:20'}
      a=sendrecv
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <timewait milliseconds="300"/>""")


def peer_sipp(t, name, scenario_path, ip, calls=1):
    """sipp on TCP behind stunnel at `ip`."""
    return t.uas(name, scenario_path, local_ip=ip, media_port=None, port=BEHIND_STUNNEL,
                 calls=calls, extra=("-t", "t1"))


def caller(t, name, number, scenario="uac_call.xml"):
    """The PBX calls `number` through the SBC."""
    return t.uac(name, scenario, local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                 media_port=PBX_SIPP_MEDIA, service=number, duration_ms=200)


def contact_host(contact):
    """HOST:PORT (or HOST) of the URI in a Contact value."""
    uri = contact.split("<", 1)[-1].split(">", 1)[0]
    return uri.split(":", 1)[-1].split("@")[-1].split(";")[0]


def finals(sipp):
    """The final responses to the INVITEs `sipp` sent."""
    return [m.status for m in sipp.received()
            if m.is_response and m.status >= 200 and m.method == "INVITE"]


# -- Microsoft -----------------------------------------------------------------

def ms_config(t, pki, keepalive="{interval: 0}"):
    """The cloud interface (TLS, with its FQDN) and a trunk that says only
    `profile: microsoft`, besides the test's keep-alive and a short silence
    before failover; the PBX on UDP."""
    return t.config_path(f"""interfaces:
  - name: cloud
    listen: [tls://{t.carrier_sbc}:{TLS_PORT}, udp://{t.carrier_sbc}:{SIP_PORT}]
    media_address: {t.carrier_sbc}
    fqdn: {SBC_FQDN}
    tls:
      certificate: {pki.dir}/sbc-fqdn.pem
      private_key: {pki.dir}/sbc-fqdn.key
      ca_file: {pki.ca_pem}
  - name: pbx
    listen: [udp://{t.pbx_sbc}:{SIP_PORT}]
    media_address: {t.pbx_sbc}
trunks:
  - name: teams
    interface: cloud
    profile: microsoft
    keepalive: {keepalive}
    failover_timeout: 1
  - name: pbx
    interface: pbx
    peers: ["{t.pbx_peer}:{SIP_PORT}"]
    keepalive: {{interval: 0}}
routes:
  - {{from_trunk: pbx, to_trunk: teams}}
  - {{from_trunk: teams, to_trunk: pbx}}
dns: {{servers: ["{t.carrier(DNS_HOST)}:{DNS_PORT}"]}}
media: {{port_min: 20000, port_max: 29999}}
control: {{socket: {t.socket_path()}}}
""")


def start_microsoft(t, keepalive="{interval: 0}"):
    """Certificates, the proxies' names in DNS, sbcd; returns (pki, sbcd) once
    the three names have resolved."""
    pki = make_cloud_pki(Path(t.workdir) / "pki", t)
    records = ["--local=/pstnhub.microsoft.com/"]
    records += [f"--host-record={name},{t.carrier(host)},600"
                for name, host in zip(MICROSOFT_PROXIES, PROXY_HOSTS)]
    start_dnsmasq(t, records)
    sbcd = t.start_sbcd(ms_config(t, pki, keepalive))

    def resolved():
        peers = next(x for x in trunks(sbcd)["trunks"] if x["name"] == "teams")["peers"]
        return all(any(x["current"] for x in p.get("targets", [])) for p in peers)
    check(wait_until(resolved, 10.0, 0.05), f"the proxies' names did not resolve: {trunks(sbcd)}")
    return pki, sbcd


def start_proxy_stunnel(t, pki, index):
    """stunnel as proxy `index` (0: sip, 1: sip2, 2: sip3): its certificate
    is *.pstnhub.microsoft.com, it demands one that chains to the CA, and
    only a client that sent the proxy's own name as SNI (RFC 6066 3) reaches
    the sipp behind it; the default service leads to a closed port."""
    name, ip = MICROSOFT_PROXIES[index], t.carrier(PROXY_HOSTS[index])
    conf = Path(t.workdir) / f"stunnel-{index}.conf"
    log = Path(t.workdir) / f"stunnel-{index}.log"
    tls = f"""cert = {pki.dir}/proxy.pem
key = {pki.dir}/proxy.key
CAfile = {pki.ca_pem}
verifyChain = yes
sslVersionMin = TLSv1.2
"""
    conf.write_text(f"""foreground = yes
pid =
output = {log}
debug = debug
[sip]
accept = {ip}:{TLS_PORT}
connect = {ip}:{BEHIND_STUNNEL + 1}
{tls}[proxy]
sni = sip:{name}
connect = {ip}:{BEHIND_STUNNEL}
{tls}""")
    proc = t.start(f"stunnel-{index}", [STUNNEL, str(conf)])
    wait_until(lambda: tcp_listening(ip, TLS_PORT) or not proc.alive(), 5.0, 0.05)
    check(proc.alive(), f"stunnel {index} exited at start: {log.read_text() if log.exists() else ''}")
    proc.log_path = log
    return proc


def tls_client(t, pki, cert, bind_ip, server_name):
    """A mutual TLS 1.2 connection from `bind_ip` to the SBC's TLS listener,
    presenting `cert` and checking the SBC's certificate for `server_name`."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(pki.ca_pem)
    ctx.load_cert_chain(pki.dir / f"{cert}.pem", pki.dir / f"{cert}.key")
    raw = socket.create_connection((t.carrier_sbc, TLS_PORT), timeout=5.0,
                                   source_address=(bind_ip, 0))
    conn = ctx.wrap_socket(raw, server_hostname=server_name)
    t.on_close(conn.close)
    return SipStream(conn)


class SipStream:
    """SIP messages over one stream connection (RFC 3261 18.3: framed by
    Content-Length)."""

    def __init__(self, conn):
        self.conn = conn
        self.buffer = b""
        self.local = conn.getsockname()

    def send(self, text, body=""):
        head = "\r\n".join(line.strip() for line in text.strip().splitlines())
        body = "".join(line.strip() + "\r\n" for line in body.strip().splitlines()) if body else ""
        self.conn.sendall(f"{head}\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())

    def receive(self, timeout=5.0):
        """The next message, or a test failure after `timeout` s."""
        self.conn.settimeout(timeout)
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end >= 0:
                head = self.buffer[:head_end].decode(errors="replace")
                message = SipMessage("received", head)
                length = int(message.header("content-length") or 0)
                end = head_end + 4 + length
                if len(self.buffer) >= end:
                    text = self.buffer[:end].decode(errors="replace")
                    self.buffer = self.buffer[end:]
                    return SipMessage("received", text)
            try:
                data = self.conn.recv(65536)
            except socket.timeout:
                data = b""
            check(data, f"nothing more from the SBC within {timeout} s")
            self.buffer += data

    def final(self, timeout=5.0):
        """Reads past provisional responses to the final one."""
        while True:
            message = self.receive(timeout)
            if message.is_response and message.status >= 200:
                return message


@e2e_test
def microsoft_options_both_ways(t):
    """The SBC's OPTIONS to sip.pstnhub.microsoft.com go over TLS with SNI,
    From and Contact naming the SBC's FQDN (no IP), X-MS-SBC present; the
    proxy's OPTIONS to the SBC (mutual TLS 1.2, from the proxy's address) are
    answered 200."""
    pki, sbcd = start_microsoft(t, keepalive="{interval: 1, timeout: 2}")
    stunnel = start_proxy_stunnel(t, pki, 0)
    proxy = peer_sipp(t, "sip", options_answering(t), t.carrier(PROXY_HOSTS[0]))
    proxy.finish(timeout=10.0)
    options = proxy.received("OPTIONS")[0]
    check(options.header("via").startswith("SIP/2.0/TLS "), f"not over TLS: {options.header('via')}")
    check(f"<sip:{SBC_FQDN}>" in options.header("from"), f"From: {options.header('from')}")
    check(contact_host(options.header("contact")).split(":")[0] == SBC_FQDN,
          f"Contact: {options.header('contact')}")
    check((options.header("x-ms-sbc") or "").startswith("sbc/sbcd/"),
          f"X-MS-SBC: {options.header('x-ms-sbc')}")
    log = stunnel.log_path.read_text()
    check(f"SNI: requested servername: {MICROSOFT_PROXIES[0]}" in log,
          f"stunnel saw no SNI {MICROSOFT_PROXIES[0]}: {log[-400:]}")

    # The proxies' own OPTIONS, as Microsoft sends them: to the SBC's FQDN,
    # from the proxy's name.
    client = tls_client(t, pki, "proxy", t.carrier(PROXY_HOSTS[0]), SBC_FQDN)
    ip, port = client.local
    client.send(f"""OPTIONS sip:{SBC_FQDN}:{TLS_PORT};transport=tls SIP/2.0
        Via: SIP/2.0/TLS {ip}:{port};branch=z9hG4bKms-options-1
        Max-Forwards: 70
        From: <sip:{MICROSOFT_PROXIES[0]}:{TLS_PORT}>;tag=ms-options-1
        To: <sip:{SBC_FQDN}>
        Call-ID: ms-options-1@{MICROSOFT_PROXIES[0]}
        CSeq: 1 OPTIONS
        Contact: <sip:{MICROSOFT_PROXIES[0]}:{TLS_PORT};transport=tls>
        User-Agent: Microsoft.PSTNHub.SIPProxy""")
    answer = client.final()
    check(answer.status == 200, f"the proxy's OPTIONS got {answer.first_line}")
    check("application/sdp" in (answer.header("accept") or ""), f"Accept: {answer.header('accept')}")
    sbcd.stop()


@e2e_test
def microsoft_invite_failover(t):
    """A call from the PBX reaches sip.pstnhub.microsoft.com in Microsoft's
    shape (X-MS-SBC, Contact with the FQDN, ;user=phone on the E.164
    Request-URI, SDP with only AES_CM_128_HMAC_SHA1_80 keys and a=rtcp-mux);
    sip's 503 with Retry-After moves it to sip2, sip2's silence to sip3,
    which answers. A second call within the Retry-After goes straight to
    sip2 (then sip3): sip sees one INVITE only."""
    pki, sbcd = start_microsoft(t)
    for i in range(3):
        start_proxy_stunnel(t, pki, i)
    ips = [t.carrier(h) for h in PROXY_HOSTS]
    sip = peer_sipp(t, "sip", refusing(t, 503, f"Retry-After: {RETRY_AFTER}"), ips[0])
    sip2 = peer_sipp(t, "sip2", silent(t), ips[1], calls=2)
    key = inline_key(30)
    sip3 = peer_sipp(t, "sip3", answering_srtp(
        t, ips[2], f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}", mux=True), ips[2],
        calls=2)
    first = caller(t, "pbx-1", "+14155550100")
    first.finish()
    sip.finish()
    check(finals(first) == [200], f"the first call got {finals(first)}")

    invite = sip.received("INVITE")[0]
    request_uri = invite.first_line.split()[1]
    check(request_uri.startswith(f"sip:+14155550100@{MICROSOFT_PROXIES[0]}:{TLS_PORT}")
          and ";user=phone" in request_uri, f"Request-URI: {request_uri}")
    check(";user=phone" in invite.header("to"), f"To: {invite.header('to')}")
    check((invite.header("x-ms-sbc") or "").startswith("sbc/sbcd/"),
          f"X-MS-SBC: {invite.header('x-ms-sbc')}")
    contact = invite.header("contact")
    check(contact_host(contact) == f"{SBC_FQDN}:{TLS_PORT}" and "transport=tls" in contact,
          f"Contact: {contact}")
    check(invite.header("via").startswith("SIP/2.0/TLS "), f"Via: {invite.header('via')}")
    crypto = invite.sdp_lines("a=crypto:")
    check(crypto and all(" AES_CM_128_HMAC_SHA1_80 inline:" in c for c in crypto),
          f"crypto lines: {crypto}")
    check(invite.sdp_lines("m=audio")[0].split()[2] == "RTP/SAVP",
          f"m= line: {invite.sdp_lines('m=audio')}")
    check(invite.sdp_lines("a=rtcp-mux"), "no a=rtcp-mux in the offer")

    # sip is held off: sbcctl trunks says until when.
    teams = next(x for x in trunks(sbcd)["trunks"] if x["name"] == "teams")
    held = teams["peers"][0]["targets"][0]
    check(held.get("held_off_until") and held["state"] == "up", f"sip's target: {held}")

    second = caller(t, "pbx-2", "+14155550101")
    second.finish()
    sip2.finish()
    sip3.finish()
    check(finals(second) == [200], f"the second call got {finals(second)}")
    users = [m.first_line.split()[1].split("@")[0] for m in sip2.received("INVITE")]
    check(users == ["sip:+14155550100", "sip:+14155550101"], f"sip2 got {users}")
    users = [m.first_line.split()[1].split("@")[0] for m in sip3.received("INVITE")]
    check(users == ["sip:+14155550100", "sip:+14155550101"], f"sip3 got {users}")
    check(len(sip.received("INVITE")) == 1, "sip got the second call within its Retry-After")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def microsoft_603_not_retried(t):
    """sip answers 603 Decline: the caller gets 603 and neither sip2 nor sip3
    is tried (nothing even connects to them)."""
    pki, sbcd = start_microsoft(t)
    start_proxy_stunnel(t, pki, 0)
    sip = peer_sipp(t, "sip", refusing(t, 603), t.carrier(PROXY_HOSTS[0]))
    others = []
    for host in PROXY_HOSTS[1:]:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((t.carrier(host), TLS_PORT))
        s.listen(4)
        t.on_close(s.close)
        others.append(s)
    call = caller(t, "pbx", "+14155550100", "uac_reject.xml")
    call.finish()
    sip.finish()
    check(finals(call) == [603], f"the caller got {finals(call)}, not 603")
    readable, _, _ = select.select(others, [], [], 0)
    check(not readable, "sip2 or sip3 was tried after a 603")
    sbcd.assert_no_calls()
    sbcd.stop()


# -- Zoom ----------------------------------------------------------------------

def zoom_config(t, pki):
    """A zoom-profile trunk with its primary and secondary zone; the PBX on
    UDP with plain RTP."""
    zones = [f'"sip:{t.carrier(ZONE_HOSTS[0])}:{TLS_PORT};transport=tls"',
             f'{{uri: "sip:{t.carrier(ZONE_HOSTS[1])}:{TLS_PORT};transport=tls", priority: 20}}']
    return t.config_path(f"""interfaces:
  - name: cloud
    listen: [tls://{t.carrier_sbc}:{TLS_PORT}, udp://{t.carrier_sbc}:{SIP_PORT}]
    media_address: {t.carrier_sbc}
    tls:
      certificate: {pki.dir}/sbc.pem
      private_key: {pki.dir}/sbc.key
      ca_file: {pki.ca_pem}
  - name: pbx
    listen: [udp://{t.pbx_sbc}:{SIP_PORT}]
    media_address: {t.pbx_sbc}
trunks:
  - name: zoom
    interface: cloud
    profile: zoom
    peers: [{", ".join(zones)}]
    keepalive: {{interval: 0}}
  - name: pbx
    interface: pbx
    peers: ["{t.pbx_peer}:{SIP_PORT}"]
    keepalive: {{interval: 0}}
routes:
  - {{from_trunk: pbx, to_trunk: zoom}}
  - {{from_trunk: zoom, to_trunk: pbx}}
media: {{port_min: 20000, port_max: 29999}}
control: {{socket: {t.socket_path()}}}
""")


def zoom_invite(stream, sbc, call_id):
    """An INVITE as Zoom's sample shows one: E.164 numbers, its SRTP suites
    in its order, RFC 2833 events, a session timer of 1800 s."""
    ip, port = stream.local
    crypto = "\n".join(f"a=crypto:{i} {suite} inline:{inline_key(length)}"
                       for i, (suite, length) in enumerate(ZOOM_SUITES, 1))
    stream.send(f"""INVITE sip:+4930123456@{sbc}:{TLS_PORT};transport=tls SIP/2.0
        Via: SIP/2.0/TLS {ip}:{port};branch=z9hG4bKzoom-{call_id};rport
        Max-Forwards: 70
        From: "Zoom caller" <sip:+14085550123@{ip}>;tag=zoom-{call_id}
        To: <sip:+4930123456@{sbc}>
        Call-ID: {call_id}
        CSeq: 1 INVITE
        Contact: <sip:+14085550123@{ip}:{port};transport=tls>
        Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, REFER, NOTIFY
        Supported: timer, replaces
        Session-Expires: 1800;refresher=uac
        Min-SE: 90
        User-Agent: Zoom
        Content-Type: application/sdp""", f"""v=0
        o=zoom 1 1 IN IP4 {ip}
        s=-
        c=IN IP4 {ip}
        t=0 0
        m=audio 6010 RTP/SAVP 0 8 101
        a=rtpmap:0 PCMU/8000
        a=rtpmap:8 PCMA/8000
        a=rtpmap:101 telephone-event/8000
        a=fmtp:101 0-15
        a=ptime:20
        a=sendrecv
        {crypto}""")


def in_dialog(stream, method, cseq, ok, call_id):
    """ACK or BYE in the dialog the 2xx `ok` made."""
    ip, port = stream.local
    target = ok.header("contact").split("<", 1)[-1].split(">", 1)[0]
    stream.send(f"""{method} {target} SIP/2.0
        Via: SIP/2.0/TLS {ip}:{port};branch=z9hG4bKzoom-{call_id}-{method.lower()}
        Max-Forwards: 70
        From: "Zoom caller" <sip:+14085550123@{ip}>;tag=zoom-{call_id}
        To: {ok.header("to")}
        Call-ID: {call_id}
        CSeq: {cseq} {method}""")


@e2e_test
def zoom_inbound_srtp_suites(t):
    """A Zoom-style INVITE over mutual TLS 1.2 from the primary zone reaches
    the PBX as plain RTP; the SBC's 200 carries one crypto line, the first
    suite it supports of Zoom's (AEAD_AES_256_GCM), and Session-Expires with
    the refresher (RFC 4028 9) and Require: timer."""
    pki = make_cloud_pki(Path(t.workdir) / "pki", t)
    sbcd = t.start_sbcd(zoom_config(t, pki))
    pbx = t.uas("pbx", "uas_answer.xml", local_ip=t.pbx_peer, media_port=PBX_SIPP_MEDIA)
    zoom = tls_client(t, pki, "peer", t.carrier(ZONE_HOSTS[0]), "sbc.test")
    check(zoom.conn.version() == "TLSv1.2", f"TLS version {zoom.conn.version()}")
    zoom_invite(zoom, t.carrier_sbc, "zoom-e2e-1")
    ok = zoom.final(timeout=10.0)
    check(ok.status == 200, f"the Zoom INVITE got {ok.first_line}")
    crypto = ok.sdp_lines("a=crypto:")
    check(len(crypto) == 1 and crypto[0].startswith("a=crypto:1 AEAD_AES_256_GCM inline:"),
          f"the answer's crypto lines: {crypto}")
    check(ok.sdp_lines("m=audio")[0].split()[2] == "RTP/SAVP", f"m=: {ok.sdp_lines('m=audio')}")
    expires = ok.header("session-expires") or ok.header("x") or ""
    check(expires.replace(" ", "").startswith("1800;refresher=uac"), f"Session-Expires: {expires}")
    check("timer" in (ok.header("require") or ""), f"Require: {ok.header('require')}")
    check(t.pbx_prefix not in ok.text, "the PBX's addresses reached Zoom")
    in_dialog(zoom, "ACK", 1, ok, "zoom-e2e-1")
    in_dialog(zoom, "BYE", 2, ok, "zoom-e2e-1")
    bye_ok = zoom.final()
    check(bye_ok.status == 200 and "BYE" in bye_ok.header("cseq"), f"BYE got {bye_ok.first_line}")
    pbx.finish()
    invite = pbx.received("INVITE")[0]
    check(invite.sdp_lines("m=audio")[0].split()[2] == "RTP/AVP" and
          not invite.sdp_lines("a=crypto"), f"the PBX was offered SRTP: {invite.body}")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def zoom_secondary_zone_takes_over(t):
    """A call from the PBX goes to the primary zone, which answers 503; the
    secondary zone takes it. The INVITE offers Zoom's suites in Zoom's order
    and asks for a session timer of 1800 s."""
    pki = make_cloud_pki(Path(t.workdir) / "pki", t)
    sbcd = t.start_sbcd(zoom_config(t, pki))
    primary_ip, secondary_ip = (t.carrier(h) for h in ZONE_HOSTS)
    start_stunnel_server(t, pki, name="stunnel-primary", ip=primary_ip)
    start_stunnel_server(t, pki, name="stunnel-secondary", ip=secondary_ip)
    primary = peer_sipp(t, "primary", refusing(t, 503), primary_ip)
    key = inline_key(44)
    secondary = peer_sipp(t, "secondary", answering_srtp(
        t, secondary_ip, f"a=crypto:1 AEAD_AES_256_GCM inline:{key}"), secondary_ip)
    call = caller(t, "pbx", "+14085550123")
    call.finish()
    primary.finish()
    secondary.finish()
    check(finals(call) == [200], f"the caller got {finals(call)}")
    invite = secondary.received("INVITE")[0]
    suites = [line.split()[1] for line in invite.sdp_lines("a=crypto:")]
    check(suites == [s for s, _ in ZOOM_SUITES], f"the offer's suites: {suites}")
    check(invite.sdp_lines("a=crypto:1 AEAD_AES_256_GCM"), "AEAD_AES_256_GCM is not tag 1")
    check((invite.header("session-expires") or "").startswith("1800"),
          f"Session-Expires: {invite.header('session-expires')}")
    check(primary.received("INVITE"), "the primary zone got no INVITE")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def zoom_aead_aes_256_gcm_media(t):
    """SRTP media with AEAD_AES_256_GCM on a zoom-profile trunk, against a
    real peer: baresip (srtp-mand, which takes the first suite of an offer it
    supports) answers the SBC's offer, whose first suite is Zoom's first; the
    PBX's plain RTP reaches baresip encrypted and baresip's tone comes back.
    UDP here: the media path does not depend on the signalling transport,
    and the TLS signalling is proven above."""
    from test_srtp import RATE, TONE_HZ, Baresip, poll_legs, tone_fraction
    sbcd = t.start_sbcd(carrier_extra=["profile: zoom", "session_timer: {expires: 0}"])
    baresip = Baresip(t, t.carrier_peer)
    uac = t.uac("pbx", "uac_call.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=6000, extra=["-rtp_echo"])
    legs = poll_legs(sbcd, lambda l: l and l["b"]["rtp_rx_packets"] > 150, 10.0)
    check(legs is not None, f"the call never came up [{baresip.log(5)}]")
    legs = poll_legs(sbcd, lambda l: False, 1.0) or legs
    uac.finish()
    zoom, pbx = legs["b"], legs["a"]
    check(zoom.get("srtp") == "AEAD_AES_256_GCM", f"the zoom leg's SRTP: {zoom.get('srtp')}")
    check(pbx.get("srtp") is None, f"the pbx leg is not plain RTP: {pbx.get('srtp')}")
    check(zoom["rtp_rx_packets"] > 100 and pbx["tx_packets"] > 100 and
          zoom["drops"]["srtp_auth"] == 0,
          f"baresip's SRTP was not decrypted and relayed: {zoom}")
    fraction, samples = tone_fraction(baresip.decoded_dump())
    check(samples > RATE * 2 and fraction > 0.5,
          f"baresip did not decode the SBC's SRTP: {samples} samples, {fraction:.2f} of the "
          f"energy at {TONE_HZ} Hz [{baresip.log(5)}]")
    sbcd.assert_no_calls()
