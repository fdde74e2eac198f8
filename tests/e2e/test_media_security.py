"""End-to-end tests of the media plane against a stranger (issue 19, item 1):
a third party that knows the SBC's media ports must neither inject packets
into an established call nor divert its packets to itself.

    sipp (carrier, 127.S.1.2)                      sipp (pbx, 127.S.2.2)
    caller, plays g711a.pcap  ->  127.S.1.1 [sbcd] 127.S.2.1  ->  callee, plays it
                                      ^                ^
                          stranger 127.S.1.77 (RTCP to both sides' RTCP ports)

sipp sends no RTCP, so both RTCP paths are idle while RTP is latched both
ways: the state in which sbcd used to latch each side's RTCP to the first
datagram from anywhere. Sniffers on loopback (media_tools.RtpSniffer)
record what sbcd sends to each peer's RTCP port (its RTP port + 1, RFC 3550
11, as the peers' SDP does not say otherwise); the stranger's own socket
records what sbcd sends it. Then each peer's real RTCP (from its own IP,
another port, as a NAT would choose it) must still reach the other peer
(at RTP + 1 until that peer's own RTCP latched its side, then where that
came from), and nothing the stranger.

They need root (the sniffer) and sipp's g711a.pcap (sip-tester).
"""

import struct
import time

import media_tools as mt
from harness import (CARRIER_SIPP_MEDIA, PBX_SIPP_MEDIA, SIP_PORT, check, drain, wait_until)

TESTS = []

# Outside both peers' addresses, on loopback.
STRANGER_HOST = 77  # in the carrier block: an address no trunk names
STRANGER_SSRC = 0x57A11E4
PBX_SSRC = 0x0B0B0B0B
CARRIER_SSRC = 0x0CA4A1E4
FORGED = 20
REAL = 5


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def receiver_report(ssrc):
    """RFC 3550 6.4.2: an RTCP receiver report of `ssrc` with no report block."""
    return struct.pack("!BBHI", 0x80, 201, 1, ssrc)


def rtcp_ssrcs(datagrams):
    """The sender SSRC of each datagram (RTCP header, RFC 3550 6.4)."""
    return [struct.unpack("!I", p[4:8])[0] if len(p) >= 8 else None for p in datagrams]


class RawSniffer(mt.RtpSniffer):
    """An RtpSniffer that keeps the datagrams as they came (RTCP is not RTP)."""

    def __init__(self, *args, **kw):
        self.raw = []
        super().__init__(*args, **kw)

    def _udp_payload(self, frame):
        got = super()._udp_payload(frame)
        if got is not None:
            self.raw.append(got[1])
        return got


def stats_legs(sbcd):
    rc, data, raw = sbcd.control.ctl("stats")
    check(rc == 0 and isinstance(data, dict), f"sbcctl stats failed: {raw[:200]}")
    calls = data.get("calls") or []
    return calls[0]["legs"] if calls else None


def rtcp_port_of(leg):
    """The SBC's RTCP port of a leg: its RTP port + 1 (RFC 3550 11)."""
    ip, _, port = leg["local"].rpartition(":")
    return ip, int(port) + 1


@e2e_test
def rtcp_stranger_neither_injected_nor_diverted(t):
    to_carrier = RawSniffer(t.carrier_peer, CARRIER_SIPP_MEDIA + 1)
    to_pbx = RawSniffer(t.pbx_peer, PBX_SIPP_MEDIA + 1)
    t.on_close(to_carrier.stop)
    t.on_close(to_pbx.stop)

    sbcd = t.start_sbcd()
    pbx = t.uas("pbx", "uas_answer_media.xml", local_ip=t.pbx_peer, media_port=PBX_SIPP_MEDIA)
    carrier = t.uac("carrier", "uac_call_media.xml", local_ip=t.carrier_peer,
                    media_port=CARRIER_SIPP_MEDIA, duration_ms=7000)

    # RTP latched both ways: the call is established, its media flowing.
    legs = {}

    def latched():
        nonlocal legs
        legs = stats_legs(sbcd) or {}
        return (not carrier.alive()) or (len(legs) == 2 and all(
            leg.get("latched") and leg["tx_packets"] > 10 for leg in legs.values()))

    wait_until(latched, 10.0, 0.2)
    check(len(legs) == 2 and all(leg.get("latched") for leg in legs.values()),
          f"the call's RTP did not latch both ways: {legs}")
    # Leg a is the caller's (the carrier's), leg b the pbx's.
    carrier_side = rtcp_port_of(legs["a"])
    pbx_side = rtcp_port_of(legs["b"])
    check(pbx_side[0] == t.pbx_sbc, f"leg b's media address is {pbx_side[0]}, expected {t.pbx_sbc}")
    before = {k: leg["drops"]["wrong_source"] for k, leg in legs.items()}

    # The stranger: RTCP to both sides' RTCP ports, before either peer sent any.
    stranger = t.udp_socket(t.carrier(STRANGER_HOST))
    for _ in range(FORGED):
        stranger.sendto(receiver_report(STRANGER_SSRC), pbx_side)
        stranger.sendto(receiver_report(STRANGER_SSRC), carrier_side)
        time.sleep(0.01)  # paced, as RTCP comes; not a wait
    # The stranger's datagrams are handled (counted as wrong_source on both
    # legs) before the peers send any RTCP: that order is what this test is
    # about. A relay that took them instead never counts them; then this
    # waits out its deadline and the checks below say what went wrong.
    wait_until(lambda: all(leg["drops"]["wrong_source"] - before[k] >= FORGED
                           for k, leg in (stats_legs(sbcd) or {}).items()), 5.0, 0.05)
    # The peers' real RTCP, from their own IPs (another port than RTP + 1).
    pbx_rtcp = t.udp_socket(t.pbx_peer)
    carrier_rtcp = t.udp_socket(t.carrier_peer)
    for _ in range(REAL):
        pbx_rtcp.sendto(receiver_report(PBX_SSRC), pbx_side)
        carrier_rtcp.sendto(receiver_report(CARRIER_SSRC), carrier_side)
        time.sleep(0.02)  # paced, as RTCP comes; not a wait
    diverted = drain(stranger, 1.0)

    after_legs = stats_legs(sbcd) or {}
    carrier.finish()
    pbx.finish()
    to_carrier.stop()
    to_pbx.stop()
    sbcd.assert_alive()

    # What reached each peer's RTCP: at its SDP's port (RTP + 1) until its
    # own first report latched its side, then at the port that report came
    # from (symmetric RTCP, as RTP).
    at_carrier = rtcp_ssrcs(to_carrier.raw) + rtcp_ssrcs(d for d, _ in drain(carrier_rtcp, 0.2))
    at_pbx = rtcp_ssrcs(to_pbx.raw) + rtcp_ssrcs(d for d, _ in drain(pbx_rtcp, 0.2))
    # Injection: none of the stranger's datagrams reached either peer.
    check(STRANGER_SSRC not in at_carrier,
          f"{at_carrier.count(STRANGER_SSRC)} of the stranger's RTCP datagrams to the pbx "
          f"side were relayed to the carrier's RTCP port")
    check(STRANGER_SSRC not in at_pbx,
          f"{at_pbx.count(STRANGER_SSRC)} of the stranger's RTCP datagrams to the carrier "
          f"side were relayed to the pbx's RTCP port")
    # Diversion: the peers' RTCP went to the other peer, none to the stranger.
    if diverted:
        data, source = diverted[0]
        check(False, f"the stranger received {len(diverted)} datagrams from sbcd, e.g. "
              f"{data[:16].hex()} from {source}")
    check(at_carrier.count(PBX_SSRC) == REAL,
          f"the carrier's RTCP port got {at_carrier.count(PBX_SSRC)} of the pbx's {REAL} "
          f"RTCP datagrams")
    check(at_pbx.count(CARRIER_SSRC) == REAL,
          f"the pbx's RTCP port got {at_pbx.count(CARRIER_SSRC)} of the carrier's {REAL} "
          f"RTCP datagrams")
    # Counted, by reason, on the side each arrived on.
    check(len(after_legs) == 2, f"no call in sbcctl stats after the stranger's RTCP: {after_legs}")
    for k in ("a", "b"):
        got = after_legs[k]["drops"]["wrong_source"] - before[k]
        check(got >= FORGED, f"leg {k}: drops.wrong_source grew by {got}, expected at least "
              f"{FORGED} (the stranger's RTCP)")
    sbcd.assert_no_calls()
