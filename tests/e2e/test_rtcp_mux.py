"""End-to-end test of RTCP multiplexing (RFC 5761, RFC 8035; issue 21): a
peer that muxes RTCP onto its RTP port on one leg, one that keeps RTCP on
RTP + 1 on the other, and RTP and RTCP relayed both ways between them.

The carrier peer is baresip (its `rtcp_mux yes` puts a=rtcp-mux in its offer
and, once answered with it, sends and takes RTCP on its RTP port) with SRTP,
so its RTCP is SRTCP on the RTP port (RFC 5761 5.1.3). The pbx peer is sipp
echoing RTP (sipp sends no RTCP), with the test's own socket on sipp's RTCP
port (RTP + 1, where its SDP says it takes RTCP) sending receiver reports and
collecting what the SBC relays there.
"""

import socket
import struct
import time

from harness import PBX_SIPP_MEDIA, check
from media_tools import RtpSniffer
from test_srtp import Baresip, check_round_trip, poll_legs

TESTS = []


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def is_rtcp(data):
    # RFC 5761 4: the second octet of RTCP is its packet type, 200-204 for
    # RFC 3550's reports (SRTCP keeps the header in the clear, RFC 3711 3.4).
    return len(data) >= 8 and data[0] >> 6 == 2 and 200 <= data[1] <= 204


def receiver_report(ssrc=0x0BB0CAFE):
    # RFC 3550 6.4.2: an RR without report blocks, one 32-bit word after the header.
    return struct.pack("!BBHI", 0x80, 201, 1, ssrc)


def endpoint(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


@e2e_test
def rtcp_mux_carrier_to_plain_pbx(t):
    """baresip (SRTP, rtcp-mux) calls the pbx (sipp, RTP, RTCP on RTP + 1):
    the SBC answers a=rtcp-mux, offers the pbx none; baresip's SRTCP on the
    RTP port reaches the pbx's RTCP port as RTCP, the pbx's RTCP reaches
    baresip as SRTCP from the SBC's RTP port, and nothing leaves the SBC's
    carrier RTCP port; the tone makes the RTP round trip."""
    sbcd = t.start_sbcd(carrier_extra=["srtp: required", "rtcp_mux: accept"])
    uas = t.uas("pbx", "uas_answer.xml", local_ip=t.pbx_peer, media_port=PBX_SIPP_MEDIA,
                extra=["-rtp_echo"])
    pbx_rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pbx_rtcp.bind((t.pbx_peer, PBX_SIPP_MEDIA + 1))
    pbx_rtcp.settimeout(0.2)
    try:
        baresip = Baresip(t, t.carrier_peer, dial=f"sip:1000@{t.carrier_sbc}", seconds=12,
                          config=["rtcp_mux yes"])
        legs = poll_legs(sbcd, lambda l: l and l["a"]["latched"] and l["b"]["latched"], 10.0)
        check(legs and legs["a"]["latched"] and legs["b"]["latched"],
              f"the call's media never latched: {legs} [{baresip.log(5)}]")
        _, carrier_port = endpoint(legs["a"]["local"])
        pbx_ip, pbx_port = endpoint(legs["b"]["local"])
        baresip_ip, baresip_port = endpoint(legs["a"]["latched"])
        from_rtp_port = RtpSniffer(baresip_ip, baresip_port, src_port=carrier_port)
        from_rtcp_port = RtpSniffer(baresip_ip, None, src_port=carrier_port + 1)
        relayed = []
        # RFC 3550 6.2: baresip reports every few seconds, its first one
        # after a random part of that; six seconds hold at least one.
        deadline = time.monotonic() + 6.0
        while time.monotonic() < deadline:
            pbx_rtcp.sendto(receiver_report(), (pbx_ip, pbx_port + 1))
            try:
                data, source = pbx_rtcp.recvfrom(2048)
                relayed.append((data, source))
            except socket.timeout:
                pass
        to_baresip = from_rtp_port.stop()
        stray = from_rtcp_port.stop()
        legs = poll_legs(sbcd, lambda l: False, 0.5) or legs
        baresip.proc.wait(15.0)  # it hangs up as it quits
    finally:
        pbx_rtcp.close()
    uas.finish()

    invite = uas.received("INVITE")
    check(invite, "no INVITE at the pbx")
    check(not invite[0].sdp_lines("a=rtcp-mux"),
          "the pbx trunk (rtcp_mux: accept) was offered a=rtcp-mux, or baresip's crossed")
    rtcp_from_baresip = [d for d, src in relayed
                         if is_rtcp(d) and src == (pbx_ip, pbx_port + 1)]
    check(rtcp_from_baresip,
          f"no RTCP reached the pbx's RTCP port from the SBC's RTCP port: {len(relayed)} "
          f"datagrams there, carrier leg {legs['a']} [{baresip.log(5)}]")
    check(legs["a"]["rtcp_rx_packets"] > 0,
          f"no RTCP counted from baresip on the carrier leg: {legs['a']}")
    # The sniffer reads RTP headers: RTCP's packet type is the marker bit
    # and payload type 72-76 there (RFC 5761 4).
    rtcp_to_baresip = [p for p in to_baresip if p.version == 2 and p.marker and 72 <= p.pt <= 76]
    check(rtcp_to_baresip,
          f"no RTCP left the SBC's carrier RTP port towards baresip ({len(to_baresip)} "
          f"datagrams from it, carrier leg {legs['a']}): the pbx's reports were not muxed")
    check(not stray, f"{len(stray)} datagrams left the SBC's carrier RTCP port on a muxed leg")
    check_round_trip(sbcd, baresip, legs, "a", "b")
    sbcd.assert_no_calls()
