"""End-to-end tests of SRTP termination (issue 4): a real SRTP peer the
project did not write, baresip with its srtp media encryption, on the
carrier trunk (srtp: required), and plain-RTP sipp on the pbx trunk.

baresip sends a 440 Hz tone (aufile) and dumps what it decodes (sndfile).
sipp on the pbx side echoes the RTP it receives (-rtp_echo). So the tone
makes the whole round trip: SRTP from baresip, decrypted by the SBC, plain
RTP to sipp and back, encrypted again by the SBC with its own key, and
decrypted by baresip. A tone in baresip's dump proves both directions.
"""

import math
import os
import re
import socket
import struct
import wave
from pathlib import Path

from harness import (PBX_SIPP_MEDIA, SIP_PORT, check, udp_bound, wait_until)

TESTS = []
BARESIP = "/usr/bin/baresip"
TONE_HZ = 440
RATE = 8000


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def write_tone(path, seconds=20):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * TONE_HZ * i / RATE)))
            for i in range(RATE * seconds)))


def tone_fraction(path, hz=TONE_HZ):
    """The share of a mono 16-bit wav's energy at `hz` (Goertzel over 20 ms
    blocks), and the number of samples; (0, 0) if there is no file."""
    try:
        with wave.open(str(path), "rb") as w:
            rate = w.getframerate()
            frames = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error):
        return 0.0, 0
    samples = struct.unpack(f"<{len(frames) // 2}h", frames[: len(frames) // 2 * 2])
    block = rate // 50
    coeff = 2 * math.cos(2 * math.pi * hz / rate)
    tone = total = 0.0
    for start in range(0, len(samples) - block + 1, block):
        s1 = s2 = 0.0
        chunk = samples[start:start + block]
        for x in chunk:
            s1, s2 = x + coeff * s1 - s2, s1
        tone += (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2 / block
        total += sum(x * x for x in chunk)
    return (tone / total if total else 0.0), len(samples)


# Clear of the ports sipp uses (harness.CARRIER_SIPP_MEDIA and up) and of
# sbcd's (harness.MEDIA_MIN to MEDIA_MAX).
BARESIP_RTP_PORTS = "16000-16099"


class Baresip:
    """baresip as a UA on `ip`:5060: auto-answers, or dials `dial` at start;
    quits by itself after `seconds`; `config`: more lines of its config.
    `netns`: the network namespace to run in (cluster_net.py's peers);
    `name`: its directory and logs, for a test with more than one."""

    def __init__(self, t, ip, *, mediaenc="srtp-mand", dial=None, seconds=12, config=(),
                 netns=None, name="baresip"):
        self.dir = Path(t.workdir) / name
        self.dir.mkdir()
        write_tone(self.dir / "tone.wav", seconds + 5)
        (self.dir / "config").write_text("\n".join([
            "poll_method epoll",
            f"sip_listen {ip}:{SIP_PORT}",
            f"net_interface {ip}",
            # baresip binds its RTP sockets on every address, so its ports
            # must be none that sipp binds on a slot's address in the tests
            # running beside it (6000-7200).
            f"rtp_ports {BARESIP_RTP_PORTS}",
            f"audio_source aufile,{self.dir / 'tone.wav'}",
            "audio_player aubridge,nowhere",
            "audio_alert aubridge,nowhere",
            "module_path /usr/lib/baresip/modules",
            "module g711.so",
            "module aufile.so",
            "module aubridge.so",
            "module sndfile.so",
            "module srtp.so",
            "module menu.so",
            "module_app account.so",
            f"snd_path {self.dir}",
            *config,
            "",
        ]))
        (self.dir / "accounts").write_text(
            f"<sip:1000@{ip}>;regint=0;answermode=auto;mediaenc={mediaenc};"
            "audio_codecs=PCMA\n")
        argv = (["ip", "netns", "exec", netns] if netns else []) + [
            BARESIP, "-f", str(self.dir), "-t", str(seconds)]
        if dial:
            argv += ["-e", f"/dial {dial}"]
        self.proc = t.start(name, argv)
        # In a namespace, its sockets are in the table of its own (/proc/PID/net).
        pid = self.proc.pid if netns else None
        wait_until(lambda: udp_bound(ip, SIP_PORT, pid) or not self.proc.alive(), 5.0, 0.05)
        check(self.proc.alive(), f"baresip exited at start: {self.proc.stdout_tail(5)}")

    def decoded_dump(self):
        """The wav sndfile wrote of what baresip decoded from the SBC."""
        dumps = sorted(self.dir.glob("dump-*-dec.wav"))
        return dumps[0] if dumps else None

    def log(self, lines=20):
        return self.proc.stdout_tail(lines)


def stats(sbcd):
    rc, data, raw = sbcd.control.ctl("stats")
    check(rc == 0 and isinstance(data, dict), f"sbcctl stats failed: {raw}")
    return data


def leg_stats(sbcd):
    calls = stats(sbcd).get("calls", [])
    return calls[0]["legs"] if calls else None


def poll_legs(sbcd, until, timeout):
    """The last per-leg counters seen while the call was up."""
    seen = None

    def sample():
        nonlocal seen
        legs = leg_stats(sbcd)
        if legs:
            seen = legs
        return until(seen)

    wait_until(sample, timeout, 0.25)
    return seen


def forge_srtp(source, target, count=20):
    """Tampered SRTP, as an attacker on the path would send it: from the
    latched address of the SRTP peer (spoofed through a raw socket, so the
    SBC's source check passes) with a valid RTP header and a wrong
    authentication tag. Needs root, as the e2e tests do."""
    src_host, src_port = source.rsplit(":", 1)
    dst_host, dst_port = target.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    try:
        s.bind((src_host, 0))
        for seq in range(count):
            payload = struct.pack("!BBHII", 0x80, 8, 40000 + seq, 160 * seq, 0x5EC0DE)
            payload += os.urandom(160 + 10)
            # UDP header; checksum 0: none (RFC 768, IPv4).
            udp = struct.pack("!HHHH", int(src_port), int(dst_port), 8 + len(payload), 0)
            s.sendto(udp + payload, (dst_host, 0))
    finally:
        s.close()


def assert_plain_on_pbx(sdp_msg, who):
    media = sdp_msg.sdp_lines("m=audio")
    check(media and media[0].split()[2] == "RTP/AVP",
          f"{who}: the pbx leg is not plain RTP/AVP: {media}")
    check(not sdp_msg.sdp_lines("a=crypto"),
          f"{who}: a key crossed to the plain RTP leg: {sdp_msg.sdp_lines('a=crypto')}")


def check_round_trip(sbcd, baresip, legs, srtp_leg, plain_leg):
    check(legs is not None, "no call in sbcctl stats")
    s, p = legs[srtp_leg], legs[plain_leg]
    check(s.get("srtp") == "AES_CM_128_HMAC_SHA1_80",
          f"the carrier leg is not SRTP in sbcctl stats: {s.get('srtp')}")
    check(p.get("srtp") is None, f"the pbx leg is not plain RTP: {p.get('srtp')}")
    check(s["rtp_rx_packets"] > 100 and p["tx_packets"] > 100,
          f"SRTP from baresip was not decrypted and relayed: rx {s['rtp_rx_packets']}, "
          f"to the pbx {p['tx_packets']}")
    check(p["rtp_rx_packets"] > 100 and s["tx_packets"] > 100,
          f"the pbx's RTP was not encrypted towards baresip: rx {p['rtp_rx_packets']}, "
          f"to baresip {s['tx_packets']}")
    fraction, samples = tone_fraction(baresip.decoded_dump())
    check(samples > RATE * 2 and fraction > 0.5,
          f"baresip did not decode the SBC's SRTP: {samples} samples, {fraction:.2f} of the "
          f"energy at {TONE_HZ} Hz [{baresip.log(5)}]")


def call_state_of_only_call(sbcd):
    """`sbcctl call-state` of the one call up (conf/README.md, "Call state document")."""
    calls = sbcd.calls()
    check(len(calls) == 1, f"{len(calls)} calls up, expected one")
    rc, data, raw = sbcd.control.ctl("call-state", str(calls[0]["id"]))
    check(rc == 0 and isinstance(data, dict) and "call" in data,
          f"sbcctl call-state failed (rc={rc}): {raw[:300]}")
    check("inline:" not in raw, "sbcctl call-state printed an SRTP key")
    return data["call"]


def check_call_state(state, invite_at_pbx):
    """The state document of an SRTP call from baresip to the pbx says what the wire did."""
    check(state["version"] == 1 and state["state"] == "established",
          f"call state: version {state['version']}, state {state['state']}")
    a, b = state["legs"]
    check(a["trunk"] == "carrier" and b["trunk"] == "pbx" and a["confirmed"] and b["confirmed"],
          f"call state legs: {a['trunk']} / {b['trunk']}, confirmed {a['confirmed']} / "
          f"{b['confirmed']}")
    call_id = invite_at_pbx.header("Call-ID")
    check(b["call_id"] == call_id, f"leg b's Call-ID {b['call_id']} is not the INVITE's {call_id}")
    check(a["call_id"] != call_id, "the two legs share a Call-ID")
    srtp = state["media"]["legs"][0]["srtp"]
    check(srtp and srtp["suite"] == "AES_CM_128_HMAC_SHA1_80" and
          srtp["peer"] == {"$secret": "redacted"} and srtp["local"] == {"$secret": "redacted"},
          f"leg a's SRTP keys are not there, redacted: {srtp}")
    check(state["media"]["legs"][1]["srtp"] is None, "leg b is plain RTP, not SRTP")
    check(state["media"]["legs"][0]["latched_rtp"], "baresip's RTP never latched in the state")


@e2e_test
def srtp_to_carrier_rtp_from_pbx(t):
    """pbx (sipp, RTP) calls the carrier (baresip, srtp-mand): the carrier leg
    is SRTP with the SBC's own keys, the pbx leg plain; the tone makes the
    round trip; forged SRTP is dropped and counted, never relayed."""
    sbcd = t.start_sbcd(carrier_extra=["srtp: required"])
    baresip = Baresip(t, t.carrier_peer)
    uac = t.uac("pbx", "uac_call.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=7000, extra=["-rtp_echo"])
    legs = poll_legs(sbcd, lambda l: l and l["b"]["rtp_rx_packets"] > 150, 10.0)
    check(legs is not None, f"the call never came up [{baresip.log(5)}]")
    check(legs["b"]["latched"], f"baresip's SRTP never latched: {legs['b']}")
    forge_srtp(legs["b"]["latched"], legs["b"]["local"])
    legs = poll_legs(sbcd, lambda l: l and l["b"]["drops"]["srtp_auth"] >= 20, 5.0)
    check(legs["b"]["drops"]["srtp_auth"] >= 20,
          f"forged SRTP was not counted as failing authentication: {legs['b']['drops']}")
    legs = poll_legs(sbcd, lambda l: False, 1.0) or legs
    uac.finish()
    ok = uac.received(status=200)
    check(ok, "no 200 at the pbx")
    assert_plain_on_pbx(ok[0], "200 to the pbx")
    check_round_trip(sbcd, baresip, legs, "b", "a")
    # Every packet relayed to the pbx passed authentication: none of the
    # forged ones is among them.
    b = legs["b"]
    genuine = b["rtp_rx_packets"] + b["rtcp_rx_packets"] - sum(b["drops"].values())
    check(legs["a"]["tx_packets"] <= genuine,
          f"{legs['a']['tx_packets']} packets left towards the pbx, more than the {genuine} "
          f"that passed authentication: forged SRTP was relayed")
    sbcd.assert_no_calls()


@e2e_test
def srtp_from_carrier_rtp_to_pbx(t):
    """The carrier (baresip, srtp-mand) calls the pbx (sipp, RTP): the SBC
    answers baresip's SRTP offer with one a=crypto line of its own and
    offers the pbx plain RTP/AVP; the tone makes the round trip."""
    sbcd = t.start_sbcd(carrier_extra=["srtp: required"])
    uas = t.uas("pbx", "uas_answer.xml", local_ip=t.pbx_peer, media_port=PBX_SIPP_MEDIA,
                extra=["-rtp_echo"])
    baresip = Baresip(t, t.carrier_peer, dial=f"sip:1000@{t.carrier_sbc}", seconds=9)
    legs = poll_legs(sbcd, lambda l: l and l["a"]["rtp_rx_packets"] > 250, 12.0)
    check(legs is not None, f"the call never came up [{baresip.log(5)}]")
    state = call_state_of_only_call(sbcd)
    baresip.proc.wait(10.0)  # it hangs up as it quits
    uas.finish()
    invite = uas.received("INVITE")
    check(invite, "no INVITE at the pbx")
    check_call_state(state, invite[0])
    assert_plain_on_pbx(invite[0], "INVITE to the pbx")
    check_round_trip(sbcd, baresip, legs, "a", "b")
    sbcd.assert_no_calls()


@e2e_test
def srtp_required_refuses_plain_offer(t):
    """A plain RTP offer from a trunk with srtp: required is refused with 488
    and a Warning that says why (RFC 3261 21.4.26); no call is left."""
    sbcd = t.start_sbcd(carrier_extra=["srtp: required"])
    uac = t.uac("carrier", "uac_reject.xml")
    uac.finish()
    final = [m for m in uac.received() if m.is_response and m.status >= 300]
    check(final and final[0].status == 488, f"expected 488, got {[m.status for m in final]}")
    warning = final[0].header("Warning") or ""
    check("srtp" in warning.lower(), f"the 488 does not say SRTP is required: {warning!r}")
    sbcd.assert_no_calls()
