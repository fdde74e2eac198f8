"""End-to-end tests of the SIP capture (issue 23 items 2 and 3): `sbcctl
trace` prints the ladder of a call placed during the test, and `sbcctl
pcap` writes its SIP, both legs, the TLS leg in the clear, as a pcapng
file that tshark (Wireshark, not written by this project) reads.

The call: the PBX (sipp, UDP) calls the carrier over mutual TLS (stunnel in
front of a sipp UAS, as in test_tls.py). The peers' own message traces are
the reference: every message each peer sent or received must be in the
capture, on its leg, in order.
"""

import json
import shutil
import subprocess
from pathlib import Path

from harness import PBX_SIPP_MEDIA, SIP_PORT, TestSkipped, check, wait_until
from hep_collector import HepCollector
from pki import make_pki
from test_tls import TLS_PORT, carrier_uas, start_stunnel_server, tls_config

TESTS = []
TSHARK = shutil.which("tshark")


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def first_word(line):
    """"INVITE" for a request line, "200" for a status line."""
    words = line.split()
    if not words:
        return ""
    return words[1] if words[0].startswith("SIP/") and len(words) > 1 else words[0]


def peer_flow(sipp):
    """What a peer saw, from the SBC's side: (direction at the SBC, first
    word) per message, in order."""
    return [("in" if m.direction == "sent" else "out", first_word(m.first_line))
            for m in sipp.messages()]


def tls_call(t, top_extra=()):
    """One PBX -> carrier call over TLS; returns (sbcd, pbx sipp, carrier sipp)."""
    pki = make_pki(Path(t.workdir) / "pki", t)
    sbcd = t.start_sbcd(tls_config(t, pki, top_extra=top_extra))
    start_stunnel_server(t, pki)
    carrier = carrier_uas(t, calls=1)
    pbx = t.uac("pbx", "uac_call_media.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=1500)
    pbx.finish()
    carrier.finish()
    return sbcd, pbx, carrier


def the_call(sbcd):
    """The ID of the one call sbcctl trace --json shows (a JSON line per
    batch of messages)."""
    rc, _, raw = sbcd.control.ctl("trace")
    check(rc == 0, f"sbcctl trace --json failed: {raw[:300]}")
    calls, data = {}, None
    for line in raw.splitlines():
        data = json.loads(line)
        calls.update(data.get("calls") or {})
    check(len(calls) == 1, f"sbcctl trace shows calls {list(calls)}, expected the one placed")
    return next(iter(calls)), data


@e2e_test
def sip_trace_and_pcap_of_a_tls_call(t):
    """sbcctl trace prints the call's ladder; sbcctl pcap writes both legs'
    SIP, the TLS leg in the clear, which tshark reads in order with the
    addresses they had on the wire."""
    if TSHARK is None:
        raise TestSkipped("tshark is not installed (tools/install-deps installs it)")
    sbcd, pbx, carrier = tls_call(t)
    call, data = the_call(sbcd)

    # The ladder: each leg's messages as arrows between the addresses.
    rc, _, ladder = sbcd.control.ctl("trace", call, json_output=False)
    check(rc == 0, f"sbcctl trace {call} failed: {ladder[:300]}")
    (Path(t.workdir) / "ladder.txt").write_text(ladder)
    lines = [line for line in ladder.splitlines() if line.startswith(f"[call {call}]")]
    arrows = [line for line in lines if "->" in line or "<-" in line]
    check(any("INVITE" in line and line.rstrip().endswith("udp") for line in arrows)
          and any("INVITE" in line and line.rstrip().endswith("tls") for line in arrows),
          f"the ladder lacks the INVITE on either leg:\n{ladder}")
    for addr in (f"{t.pbx_peer}:", f"{t.carrier_peer}:{TLS_PORT}"):
        check(addr in ladder, f"the ladder does not name {addr}:\n{ladder}")
    for word in ("200 OK (INVITE)", "ACK", "BYE", "200 OK (BYE)"):
        check(any(word in line for line in arrows), f"the ladder lacks {word}:\n{ladder}")

    # The pcap, read by tshark.
    out = Path(t.workdir) / "call.pcapng"
    rc, _, raw = sbcd.control.ctl("pcap", call, "-o", str(out), json_output=False)
    check(rc == 0 and out.exists(), f"sbcctl pcap failed: {raw[:300]}")
    r = subprocess.run([TSHARK, "-r", str(out), "-T", "fields", "-E", "separator=|",
                        "-e", "_ws.col.Source", "-e", "_ws.col.Destination",
                        "-e", "exported_pdu.src_port", "-e", "exported_pdu.dst_port",
                        "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "sip.Call-ID",
                        "-e", "sip.Via"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"tshark cannot read the pcap: {r.stderr[:300]}")
    rows = [line.split("|") for line in r.stdout.splitlines() if line.strip()]
    check(rows, f"tshark found no packets in the pcap: {r.stderr[:300]}")

    def flow(leg_peer):
        seen = []
        for src, dst, _sport, _dport, method, status, _cid, _via in rows:
            if leg_peer not in (src, dst):
                continue
            seen.append(("in" if src == leg_peer else "out", method or status))
        return seen

    # The PBX's leg: exactly what the PBX's sipp sent and received.
    expected_pbx = peer_flow(pbx)
    check(flow(t.pbx_peer) == expected_pbx,
          f"the pcap's PBX leg {flow(t.pbx_peer)} differs from what the PBX saw {expected_pbx}")
    # The carrier's leg, over TLS: what the carrier's sipp (behind stunnel)
    # saw, decoded by tshark from the clear text the SBC captured.
    expected_carrier = peer_flow(carrier)
    check(flow(t.carrier_peer) == expected_carrier,
          f"the pcap's TLS leg {flow(t.carrier_peer)} differs from what the carrier saw "
          f"{expected_carrier}")
    tls_invite = [row for row in rows if row[1] == t.carrier_peer and row[4] == "INVITE"]
    check(tls_invite and "SIP/2.0/TLS" in tls_invite[0][7] and tls_invite[0][3] == str(TLS_PORT),
          f"the TLS leg's INVITE is not in the clear with its TLS Via and port: {tls_invite}")
    call_ids = {row[6] for row in rows}
    check(len(call_ids) == 2, f"the pcap has Call-IDs {call_ids}, expected one per leg")
    sbcd.stop()


@e2e_test
def sip_trace_follows_a_live_call(t):
    """sbcctl trace --follow prints a call's messages while it runs, and
    sbcctl pcap of an unknown call is a clear error."""
    pki = make_pki(Path(t.workdir) / "pki", t)
    sbcd = t.start_sbcd(tls_config(t, pki))
    start_stunnel_server(t, pki)
    follower = t.start("trace", [sbcd.control.sbcctl_bin, "--socket", sbcd.control.socket_path,
                                 "trace", "--follow", "--for", "8"])
    carrier = carrier_uas(t, calls=1)
    pbx = t.uac("pbx", "uac_call_media.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=1000)
    pbx.finish()
    carrier.finish()
    rc = follower.wait(15)
    check(rc == 0, f"sbcctl trace --follow exited with {rc}: {follower.stdout_tail(5)}")
    text = follower.stdout_path.read_text()
    check("INVITE" in text and "BYE" in text, f"sbcctl trace --follow missed the call:\n{text}")
    rc, _, raw = sbcd.control.ctl("pcap", "no-such-call", "-o", str(Path(t.workdir) / "x.pcapng"),
                                  json_output=False)
    check(rc == 1 and "no call no-such-call" in raw, f"sbcctl pcap of no call: rc={rc} {raw}")
    sbcd.stop()


def hep_flow(packets, peer_ip):
    """(direction at the SBC, first word) of the SIP packets to or from
    `peer_ip`, in order."""
    out = []
    for p in packets:
        if peer_ip not in (p["src_ip"], p["dst_ip"]):
            continue
        line = p["payload"].split(b"\r\n", 1)[0].decode("utf-8", "replace")
        out.append(("in" if p["src_ip"] == peer_ip else "out", first_word(line)))
    return out


def hep_call(t, transport):
    """A TLS call while sbcd exports HEP over `transport` to a collector of
    the test's; checks what the collector received against what the peers
    saw."""
    collector = HepCollector("127.0.0.1", 0, transport)
    t.on_close(collector.stop)
    sbcd, pbx, carrier = tls_call(t, top_extra=[
        "capture:",
        "  hep:",
        f"    address: 127.0.0.1:{collector.port}",
        f"    transport: {transport}",
        "    password: homer-secret",
        "    capture_id: 2342"])
    expected = {t.pbx_peer: peer_flow(pbx), t.carrier_peer: peer_flow(carrier)}
    total = sum(len(v) for v in expected.values())
    wait_until(lambda: len([p for p in collector.snapshot()[0] if p.get("proto_type") == 1])
               >= total, 10.0, 0.1)
    packets, errors = collector.snapshot()
    check(not errors, f"the collector could not decode {len(errors)} packets: {errors[:3]}")
    sip = [p for p in packets if p.get("proto_type") == 1]
    check(all(p.get("password") == "homer-secret" and p.get("capture_id") == 2342 for p in packets),
          "a HEP packet lacks the configured password or capture ID")
    for peer, flow in expected.items():
        check(hep_flow(sip, peer) == flow,
              f"HEP's leg to {peer} {hep_flow(sip, peer)} differs from what the peer saw {flow}")
    check(len(sip) == total, f"{len(sip)} SIP packets over HEP, the peers saw {total} messages")
    # One call: both legs carry the caller's leg's Call-ID as correlation ID.
    pbx_call_id = pbx.messages()[0].header("call-id")
    correlations = {p.get("correlation_id") for p in sip}
    check(correlations == {pbx_call_id},
          f"HEP correlation IDs {correlations}, expected the caller's Call-ID {pbx_call_id} on both legs")
    tls_invites = [p for p in sip if p["dst_ip"] == t.carrier_peer and p["payload"].startswith(b"INVITE")]
    check(tls_invites and tls_invites[0]["ip_protocol"] == 6 and tls_invites[0]["dst_port"] == TLS_PORT
          and b"SIP/2.0/TLS" in tls_invites[0]["payload"],
          f"the TLS leg's INVITE did not reach the collector in the clear over TCP/{TLS_PORT}")
    udp_invites = [p for p in sip if p["src_ip"] == t.pbx_peer and p["payload"].startswith(b"INVITE")]
    check(udp_invites and udp_invites[0]["ip_protocol"] == 17, "the PBX's INVITE is not marked UDP")
    # At the call's end, each leg's media quality as a QoS report (type
    # 0x23, JSON) with the same correlation ID, between the leg's media
    # addresses.
    wait_until(lambda: len([p for p in collector.snapshot()[0] if p.get("proto_type") == 0x23])
               >= 2, 10.0, 0.1)
    packets, _ = collector.snapshot()
    reports = [p for p in packets if p.get("proto_type") == 0x23]
    legs = {}
    for p in reports:
        report = json.loads(p["payload"])
        legs[report.get("leg")] = report
        check(p.get("correlation_id") == pbx_call_id,
              f"a quality report's correlation ID is {p.get('correlation_id')}, not {pbx_call_id}")
    check(set(legs) == {"a", "b"}, f"quality reports for legs {sorted(legs)}, expected a and b")
    for leg, report in legs.items():
        check(report.get("rtp_expected", 0) > 0 and 1 <= report.get("mos", 0) <= 4.5
              and "jitter_ms" in report and "loss_percent" in report,
              f"leg {leg}'s quality report lacks its figures: {report}")
    rc, data, raw = sbcd.control.ctl("stats")
    check(rc == 0 and data.get("capture", {}).get("hep", {}).get("sent", 0) >= total,
          f"sbcctl stats does not count the HEP packets sent: {raw[:300]}")
    sbcd.stop()
    return packets


@e2e_test
def hep_exports_both_legs_over_udp(t):
    """Every SIP message of both legs reaches a HEP collector over UDP, the
    TLS leg in the clear, with one correlation ID for the call, and each
    leg's quality report at its end."""
    hep_call(t, "udp")


@e2e_test
def hep_exports_both_legs_over_tcp(t):
    """The same over TCP."""
    hep_call(t, "tcp")
