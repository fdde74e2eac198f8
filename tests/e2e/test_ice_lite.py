"""End-to-end test of ICE-lite (RFC 8445 2.5; issue 21, Teams' media bypass):
the carrier trunk says `ice: lite`, its peer (sipp) is a full ICE agent whose
offer carries a=ice-ufrag/a=ice-pwd, and the test, on the media address and
port that offer names, sends the connectivity checks a full agent sends
(RFC 8445 7.2.4: STUN Binding requests of RFC 8489 with USERNAME, PRIORITY,
ICE-CONTROLLING, USE-CANDIDATE, MESSAGE-INTEGRITY and FINGERPRINT), built
with python's standard library, to the candidate of the SBC's answer.

The SBC's answer (its ufrag, pwd and candidate) is read from sipp's message
trace: the pwd is in the SDP only, never in sbcctl's output. The pbx peer is
plain sipp echoing RTP, whose trunk must see no ICE at all.
"""

import hashlib
import hmac
import os
import re
import socket
import struct
import time
import zlib

from harness import PBX_SIPP_MEDIA, check, wait_until

TESTS = []


def e2e_test(fn):
    TESTS.append(fn)
    return fn


PEER_RTP_PORT = 6100  # the carrier peer's media port in its SDP (sipp's -key rtp_port)
PEER_UFRAG = "PeeR"
PEER_PWD = "PeerPasswordForTheE2e1"
RESTART_UFRAG = "PeR2"
RESTART_PWD = "PeerPasswordForTheE2e2"

# RFC 8489 5, 14, 18.3; RFC 8445 16.1.
MAGIC_COOKIE = 0x2112A442
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111
ATTR_USERNAME = 0x0006
ATTR_MESSAGE_INTEGRITY = 0x0008
ATTR_ERROR_CODE = 0x0009
ATTR_XOR_MAPPED_ADDRESS = 0x0020
ATTR_PRIORITY = 0x0024
ATTR_USE_CANDIDATE = 0x0025
ATTR_FINGERPRINT = 0x8028
ATTR_ICE_CONTROLLING = 0x802A
FINGERPRINT_XOR = 0x5354554E


def _attribute(kind, value):
    # RFC 8489 14: type, length, value padded to a multiple of four.
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def _header(kind, length, tid):
    return struct.pack("!HHI", kind, length, MAGIC_COOKIE) + tid


def binding_request(username, key, tid, priority=0x6E7F1EFF):
    """A connectivity check (RFC 8445 7.2.4) as a controlling full agent sends it."""
    body = (_attribute(ATTR_USERNAME, username.encode())
            + _attribute(ATTR_PRIORITY, struct.pack("!I", priority))
            + _attribute(ATTR_ICE_CONTROLLING, os.urandom(8))
            + _attribute(ATTR_USE_CANDIDATE, b""))
    # RFC 8489 14.5: the HMAC covers the message with its length counting
    # MESSAGE-INTEGRITY (24 octets) but not what follows it.
    mac = hmac.new(key.encode(), _header(BINDING_REQUEST, len(body) + 24, tid) + body,
                   hashlib.sha1).digest()
    body += _attribute(ATTR_MESSAGE_INTEGRITY, mac)
    # RFC 8489 14.7: CRC-32 of what precedes FINGERPRINT, its length counted.
    crc = zlib.crc32(_header(BINDING_REQUEST, len(body) + 8, tid) + body) ^ FINGERPRINT_XOR
    body += _attribute(ATTR_FINGERPRINT, struct.pack("!I", crc))
    return _header(BINDING_REQUEST, len(body), tid) + body


def parse_stun(data):
    """(type, transaction id, [(attribute type, value, offset of the attribute)])
    or None when `data` is no STUN message."""
    if len(data) < 20 or data[0] & 0xC0:
        return None
    kind, length, cookie = struct.unpack("!HHI", data[:8])
    if cookie != MAGIC_COOKIE or length + 20 != len(data):
        return None
    attrs = []
    at = 20
    while at + 4 <= len(data):
        a, n = struct.unpack("!HH", data[at:at + 4])
        attrs.append((a, data[at + 4:at + 4 + n], at))
        at += 4 + n + (-n % 4)
    return kind, data[8:20], attrs


def verify_response(data, key, tid, sender):
    """Checks a Binding success response to `tid` for `sender` keyed with
    `key`; returns what is wrong, "" when nothing is."""
    parsed = parse_stun(data)
    if not parsed:
        return f"not a STUN message: {data[:24].hex()}"
    kind, rtid, attrs = parsed
    if kind != BINDING_SUCCESS:
        return f"message type {kind:#06x}, not a Binding success response"
    if rtid != tid:
        return "another transaction ID"
    by_type = {a: (v, off) for a, v, off in attrs}
    if ATTR_FINGERPRINT not in by_type or attrs[-1][0] != ATTR_FINGERPRINT:
        return "no FINGERPRINT at the end"
    fp_value, fp_at = by_type[ATTR_FINGERPRINT]
    crc = zlib.crc32(data[:fp_at]) ^ FINGERPRINT_XOR
    if struct.unpack("!I", fp_value)[0] != crc:
        return "FINGERPRINT does not match"
    if ATTR_MESSAGE_INTEGRITY not in by_type:
        return "no MESSAGE-INTEGRITY"
    mi_value, mi_at = by_type[ATTR_MESSAGE_INTEGRITY]
    signed = _header(kind, mi_at - 20 + 24, tid) + data[20:mi_at]
    if not hmac.compare_digest(hmac.new(key.encode(), signed, hashlib.sha1).digest(), mi_value):
        return "MESSAGE-INTEGRITY does not verify with the SBC's ice-pwd"
    if ATTR_XOR_MAPPED_ADDRESS not in by_type:
        return "no XOR-MAPPED-ADDRESS"
    xma = by_type[ATTR_XOR_MAPPED_ADDRESS][0]
    family, xport = struct.unpack("!xBH", xma[:4])
    if family != 1:
        return f"XOR-MAPPED-ADDRESS family {family}, not IPv4"
    port = xport ^ (MAGIC_COOKIE >> 16)
    address = socket.inet_ntoa(struct.pack("!I", struct.unpack("!I", xma[4:8])[0] ^ MAGIC_COOKIE))
    if (address, port) != sender:
        return f"XOR-MAPPED-ADDRESS {address}:{port}, not the sender {sender[0]}:{sender[1]}"
    return ""


def error_code(data):
    parsed = parse_stun(data)
    if not parsed or parsed[0] != BINDING_ERROR:
        return None
    for a, v, _ in parsed[2]:
        if a == ATTR_ERROR_CODE and len(v) >= 4:
            return (v[2] & 7) * 100 + v[3]
    return None


def check_exchange(sock, target, request, tid, wait=1.0):
    """Sends `request` and returns the STUN reply to `tid` (None if none
    came), skipping RTP that arrives meanwhile."""
    sock.sendto(request, target)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, _ = sock.recvfrom(2048)
        except socket.timeout:
            break
        parsed = parse_stun(data)
        if parsed and parsed[1] == tid:
            return data
    return None


class SbcIce:
    """The SBC's ICE-lite lines of one SDP."""

    def __init__(self, msg):
        body = msg.body
        self.ufrag = self._one(body, "a=ice-ufrag:")
        self.pwd = self._one(body, "a=ice-pwd:")
        self.lite = "a=ice-lite" in body
        self.candidates = re.findall(
            r"^a=candidate:(\S+) (\d) UDP (\d+) (\S+) (\d+) typ host\s*$", body, re.M)

    @staticmethod
    def _one(body, prefix):
        found = re.findall("^" + re.escape(prefix) + r"(\S+)\s*$", body, re.M)
        return found[0] if len(found) == 1 else None

    def rtp_candidate(self):
        for _, component, _, address, port in self.candidates:
            if component == "1":
                return address, int(port)
        return None


def sdp_answers(uac):
    """The 200s to INVITEs with SDP the caller received, in order."""
    return [m for m in uac.received(status=200)
            if "INVITE" in (m.header("CSeq") or "") and "m=audio" in m.body]


def rtp_packet(seq):
    return struct.pack("!BBHII", 0x80, 8, seq, seq * 160, 0x1CE11CE) + b"\xd5" * 160


def stun_counters(sbcd):
    rc, data, raw = sbcd.control.ctl("stats")
    check(rc == 0 and isinstance(data, dict), f"sbcctl stats failed: {raw}")
    calls = data.get("calls", [])
    return calls[0]["legs"]["a"]["stun"] if calls else None


def rtp_round_trip(sock, target, first_seq):
    """Sends RTP to the SBC's candidate and collects what the pbx's echo
    brings back to the same socket."""
    echoed = []
    for i in range(10):
        sock.sendto(rtp_packet(first_seq + i), target)
        sock.settimeout(0.05)
        try:
            while True:
                data, source = sock.recvfrom(2048)
                if data and data[0] >> 6 == 2 and source == target:
                    echoed.append(data)
        except socket.timeout:
            pass
    wait_until(lambda: len(echoed) > 0 or _drain_rtp(sock, target, echoed), 2.0, 0.05)
    return echoed


def _drain_rtp(sock, target, out):
    sock.settimeout(0.01)
    try:
        data, source = sock.recvfrom(2048)
        if data and data[0] >> 6 == 2 and source == target:
            out.append(data)
    except socket.timeout:
        pass
    return bool(out)


@e2e_test
def ice_lite_checks_answered(t):
    """The carrier's peer offers ICE to an `ice: lite` trunk: the SBC's 200
    carries a=ice-lite, its credentials and host candidates (the pbx sees no
    ICE); a check with the right credentials gets a success response the
    peer can verify (transaction ID, XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY,
    FINGERPRINT), one with a wrong pwd a 401, the counters in
    `sbcctl stats` say so, and RTP flows on the same port afterwards. Then a
    re-INVITE with new credentials (an ICE restart) gets new SBC
    credentials, and only those answer checks."""
    sbcd = t.start_sbcd(carrier_extra=["ice: lite"])
    media = t.udp_socket(t.carrier_peer, PEER_RTP_PORT)
    uas = t.uas("pbx", "uas_answer_reinvite.xml", media_port=PBX_SIPP_MEDIA,
                extra=["-rtp_echo"])
    uac = t.uac("carrier", "uac_call_ice_restart.xml", media_port=None, duration_ms=6000,
                extra=["-key", "rtp_port", str(PEER_RTP_PORT)])
    check(wait_until(lambda: sdp_answers(uac) or not uac.alive(), 10.0, 0.05),
          f"no 200 with SDP at the carrier peer: {uac.errors()}")
    first = SbcIce(sdp_answers(uac)[0])
    check(first.lite and first.ufrag and first.pwd,
          f"the SBC's answer lacks a=ice-lite, a=ice-ufrag or a=ice-pwd:\n{sdp_answers(uac)[0].text}")
    check(len(first.ufrag) >= 4 and len(first.pwd) >= 22,
          f"credentials shorter than RFC 8839 5.4 allows: {first.ufrag!r}, {len(first.pwd)} chars")
    target = first.rtp_candidate()
    check(target and target[0] == t.carrier_sbc,
          f"no host candidate of component 1 on the SBC's carrier address: {first.candidates}")
    calls = sbcd.calls()
    check(calls and calls[0].get("ice_a", {}) and calls[0]["ice_a"].get("ufrag") == first.ufrag
          and calls[0].get("ice_b") is None,
          f"sbcctl calls does not show ICE on leg a with the SBC's ufrag only: {calls}")
    check(first.pwd not in str(calls), "sbcctl calls shows the ice-pwd")
    rc, state, raw = sbcd.control.ctl("call-state", calls[0]["id"])
    check(rc == 0 and first.pwd not in raw, f"sbcctl call-state failed or shows the pwd: {raw[:300]}")
    leg_a_ice = state["call"]["media"]["legs"][0]["ice"]
    check(leg_a_ice["in_use"] and leg_a_ice["local_ufrag"] == first.ufrag,
          f"call-state's leg a ICE is not the SBC's: {leg_a_ice}")

    invite = uas.received("INVITE")
    check(invite and not invite[0].sdp_lines("a=ice") and not invite[0].sdp_lines("a=candidate"),
          "the pbx trunk (ice: off) was sent ICE attributes")

    sender = (t.carrier_peer, PEER_RTP_PORT)
    username = f"{first.ufrag}:{PEER_UFRAG}"
    tid = os.urandom(12)
    reply = check_exchange(media, target, binding_request(username, first.pwd, tid), tid)
    check(reply is not None, f"no answer to a valid connectivity check sent to {target}")
    problem = verify_response(reply, first.pwd, tid, sender)
    check(not problem, f"the SBC's Binding response: {problem}")

    bad_tid = os.urandom(12)
    bad = check_exchange(media, target, binding_request(username, "WrongPasswordOf22Chars", bad_tid),
                         bad_tid)
    # RFC 8489 9.1.3: MESSAGE-INTEGRITY that does not verify is answered
    # with 401 (dataplane/core/ice_responder.hpp), not relayed or dropped.
    check(bad is not None and error_code(bad) == 401,
          f"a check with a wrong pwd did not get a 401: {bad and bad[:40].hex()}")
    counters = None

    def counted():
        nonlocal counters
        counters = stun_counters(sbcd)
        return counters and counters["answered"] >= 1 and counters["rejected"] >= 1

    check(wait_until(counted, 3.0, 0.1), f"sbcctl stats' STUN counters on leg a: {counters}")

    echoed = rtp_round_trip(media, target, 1)
    check(echoed, "no RTP came back through the SBC's ICE port after the checks")

    # RFC 8445 9: the caller's re-INVITE changes its credentials.
    check(wait_until(lambda: len(sdp_answers(uac)) >= 2 or not uac.alive(), 12.0, 0.05),
          f"no 200 to the re-INVITE at the carrier peer: {uac.errors()}")
    second = SbcIce(sdp_answers(uac)[1])
    check(second.ufrag and second.pwd and second.ufrag != first.ufrag and second.pwd != first.pwd,
          f"an ICE restart kept the SBC's credentials: {first.ufrag} -> {second.ufrag}")
    check(second.rtp_candidate() == target, "the restart moved the SBC's candidate")
    old_tid = os.urandom(12)
    old = check_exchange(media, target, binding_request(username, first.pwd, old_tid), old_tid)
    check(old is not None and error_code(old) == 401,
          "a check with the credentials from before the restart did not get a 401")
    new_tid = os.urandom(12)
    new = check_exchange(media, target,
                         binding_request(f"{second.ufrag}:{RESTART_UFRAG}", second.pwd, new_tid),
                         new_tid)
    check(new is not None, "no answer to a check with the restarted credentials")
    problem = verify_response(new, second.pwd, new_tid, sender)
    check(not problem, f"the SBC's Binding response after the restart: {problem}")
    check(rtp_round_trip(media, target, 100), "no RTP after the ICE restart")

    uac.finish()
    uas.finish()
    sbcd.assert_no_calls()
