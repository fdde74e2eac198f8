"""End-to-end tests of renumbered payload types on relayed calls (issue 19,
item 4). RFC 3264 6.1 lets an answerer give a codec of the offer another
number, and each peer receives with the numbers its own SDP stated (RFC 3264
5.1), so sbcd must rewrite the payload type of what it relays, per
direction, and leave the rest of each packet as it came.

    sipp (pbx, 127.S.2.2)                 sipp (carrier, 127.S.1.2)
    caller  ->  127.S.2.1 [sbcd] 127.S.1.1  ->  callee (renumbers in its answer)

- relay_renumbered_telephone_event: both trunks take PCMA and
  telephone-event (dtmf: rfc4733). The pbx offers 8 96 and sends its digits
  as events at 96; the carrier answers 8 101 and sends its digits at 101,
  its own number (as many peers do, where RFC 3264 5.1 would have it send
  the offer's 96). The carrier must receive the pbx's digits at 101 and the
  pbx the carrier's at 96, and each only the numbers of its own SDP.
- relay_renumbered_opus: both trunks take Opus; the pbx offers it at 111,
  the carrier answers 107. Each side receives the other's packets under its
  own number, their payloads byte for byte as sent.

What arrives is read on the wire (media_tools.RtpSniffer on loopback). They
need root (sipp's pcap play, the sniffer), tools/rtp_codec built, and sipp's
dtmf_2833 pcaps (Debian package sip-tester).
"""

import math

import media_tools as mt
from harness import (CARRIER_SIPP_MEDIA, PBX_SIPP_MEDIA, SIP_PORT, check)
from test_dtmf import (AFTER_MS, CARRIER_DIGITS, DIGITS, PCAP_EVENT_DURATION,
                       assert_event_digits, assert_events_offered, assert_only_pts, run_call,
                       sniffers, stream_ms, write_stream)
from test_sbc import assert_one_call, first
from test_transcoding import PCMA, assert_sent_by_sbc, offered_formats

TESTS = []

PBX_EVENT_PT = 96
CARRIER_EVENT_PT = 101
PBX_OPUS_PT = 111
CARRIER_OPUS_PT = 107
# RFC 7587 4.1: Opus timestamps count at 48000 Hz, 960 per 20 ms.
OPUS_TS_STEP = 960


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def assert_relayed(samples):
    call = assert_one_call(samples, "pbx", "carrier")
    check(call.get("media") == "relayed",
          f"sbcctl calls lists the media as {call.get('media')!r}, expected 'relayed'")


@e2e_test
def relay_renumbered_telephone_event(t):
    """Events both ways across a relayed call whose answerer renumbered them."""
    pbx_pcap = write_stream(t, "pbx-digits", DIGITS, PBX_EVENT_PT)
    carrier_pcap = write_stream(t, "carrier-digits", CARRIER_DIGITS, CARRIER_EVENT_PT)
    to_carrier, to_pbx = sniffers(t)

    trunk = ["codecs: [PCMA, telephone-event]"]
    sbcd = t.start_sbcd(carrier_extra=trunk, pbx_extra=trunk)
    carrier = t.uas("carrier", "uas_answer_pcma_dtmf.xml", local_ip=t.carrier_peer,
                    media_port=CARRIER_SIPP_MEDIA, extra=["-key", "pcap", carrier_pcap])
    pbx = t.uac("pbx", "uac_call_pcap_dtmf.xml", local_ip=t.pbx_peer,
                remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA,
                duration_ms=stream_ms(DIGITS) + AFTER_MS, extra=["-key", "pcap", pbx_pcap])
    samples = run_call(sbcd, pbx, carrier, to_carrier, to_pbx)

    # The relayed offer keeps the pbx's number; the carrier renumbered it.
    invite = first(carrier.received("INVITE"), "INVITE at the carrier")
    assert_events_offered(invite, PBX_EVENT_PT, "INVITE to the carrier")
    ok = first(pbx.received(status=200), "200 OK at the pbx")
    assert_events_offered(ok, PBX_EVENT_PT, "200 OK to the pbx")
    assert_relayed(samples)

    assert_sent_by_sbc(to_carrier, t.carrier_sbc, "RTP to the carrier")
    assert_sent_by_sbc(to_pbx, t.pbx_sbc, "RTP to the pbx")
    assert_only_pts(to_carrier.packets, {PCMA.pt, CARRIER_EVENT_PT}, "RTP to the carrier")
    assert_only_pts(to_pbx.packets, {PCMA.pt, PBX_EVENT_PT}, "RTP to the pbx")
    assert_event_digits(to_carrier.packets, CARRIER_EVENT_PT, DIGITS, "events to the carrier",
                        duration=PCAP_EVENT_DURATION)
    assert_event_digits(to_pbx.packets, PBX_EVENT_PT, CARRIER_DIGITS, "events to the pbx",
                        duration=PCAP_EVENT_DURATION)


def opus_pcap(t, build, name, pt, hz, seconds=3):
    """A pcap of 20 ms Opus packets at payload type `pt` carrying a `hz` tone;
    returns (path, payloads)."""
    pcm = [int(8000 * math.sin(2 * math.pi * hz * i / mt.RATE))
           for i in range(int(seconds * mt.RATE))]
    payloads = mt.encode(build, "opus", 48000, 20, pcm)
    check(len(payloads) >= 50, f"rtp_codec made {len(payloads)} Opus packets of {seconds} s")
    path = t.workdir / f"{name}.pcap"
    mt.write_pcap(path, mt.make_rtp(payloads, pt, OPUS_TS_STEP))
    return path, payloads


def assert_payloads(packets, pt, sent, who):
    """`packets` are RTP at payload type `pt` only, whose payloads are those
    of `sent`, in order, none changed (a few lost at the ends aside)."""
    got_pts = sorted({p.pt for p in packets if p.valid})
    check(got_pts == [pt], f"{who}: payload types {got_pts}, expected only {pt}")
    got = [p.payload for p in packets if p.valid]
    check(len(got) >= len(sent) - 5, f"{who}: {len(got)} packets of the {len(sent)} sent")
    start = sent.index(got[0]) if got and got[0] in sent else -1
    check(start >= 0 and got == sent[start:start + len(got)],
          f"{who}: the payloads are not the ones sent, in order")


@e2e_test
def relay_renumbered_opus(t):
    """Opus offered at 111, answered at 107: each side gets its own number."""
    build = mt.build_dir_of(t)
    pbx_path, pbx_sent = opus_pcap(t, build, "pbx-opus", PBX_OPUS_PT, 440)
    carrier_path, carrier_sent = opus_pcap(t, build, "carrier-opus", CARRIER_OPUS_PT, 660)
    to_carrier, to_pbx = sniffers(t)

    trunk = ["codecs: [opus]"]
    sbcd = t.start_sbcd(carrier_extra=trunk, pbx_extra=trunk)
    carrier = t.uas("carrier", "uas_answer_opus_107_pcap.xml", local_ip=t.carrier_peer,
                    media_port=CARRIER_SIPP_MEDIA, extra=["-key", "pcap", carrier_path])
    pbx = t.uac("pbx", "uac_call_pcap_opus.xml", local_ip=t.pbx_peer,
                remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA, duration_ms=4500,
                extra=["-key", "pcap", pbx_path])
    samples = run_call(sbcd, pbx, carrier, to_carrier, to_pbx)

    invite = first(carrier.received("INVITE"), "INVITE at the carrier")
    formats, _ = offered_formats(invite, "INVITE to the carrier")
    check(formats == [PBX_OPUS_PT], f"INVITE to the carrier: formats {formats}, expected "
          f"[{PBX_OPUS_PT}] (the pbx's own number, relayed)")
    ok = first(pbx.received(status=200), "200 OK at the pbx")
    formats, _ = offered_formats(ok, "200 OK to the pbx")
    check(formats == [PBX_OPUS_PT], f"200 OK to the pbx: formats {formats}, expected "
          f"[{PBX_OPUS_PT}] (RFC 3264 6.1: the offer's number)")
    assert_relayed(samples)

    assert_sent_by_sbc(to_carrier, t.carrier_sbc, "RTP to the carrier")
    assert_sent_by_sbc(to_pbx, t.pbx_sbc, "RTP to the pbx")
    assert_payloads(to_carrier.packets, CARRIER_OPUS_PT, pbx_sent, "RTP to the carrier")
    assert_payloads(to_pbx.packets, PBX_OPUS_PT, carrier_sent, "RTP to the pbx")
