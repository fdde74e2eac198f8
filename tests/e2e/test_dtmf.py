"""End-to-end tests of DTMF interworking (issue 5): each trunk carries digits
as RFC 4733 telephone-events (dtmf: rfc4733, the default), SIP INFO
(dtmf: info) or tones in its G.711 audio (dtmf: inband), and sbcd turns the
digits of one leg into the form the other leg takes.

    sipp (pbx, 127.S.2.2)                 sipp (carrier, 127.S.1.2)
    caller  ->  127.S.2.1 [sbcd] 127.S.1.1  ->  callee

The digits come from sipp's own /usr/share/sip-tester/dtmf_2833_N.pcap (one
RFC 4733 event each, payload type 101), put into one RTP stream with A-law
or G.729 silence by media_tools.dtmf_stream(), as sipp plays only one pcap
at a time. What arrives is read back from the wire (media_tools.RtpSniffer
on loopback) or from sipp's message trace:
 - events: one digit per event timestamp (RFC 4733 2.5.2), with its E bit;
 - INFO: the Signal lines of application/dtmf-relay bodies;
 - tones: the A-law stream decoded and run through the transcoder's tone
   detector (tools/rtp_codec detect).
Each must be the digit sequence sent, in order, none missed or doubled.

- dtmf_2833_mapped: PCMA + telephone-event 96 on the pbx leg, G.729 +
  telephone-event 101 on the carrier leg (transcoded): events both ways,
  each leg's own payload type; dtmf_2833_mapped_events_only: the same
  with the pbx sending events and no audio.
- dtmf_info_to_rfc4733 / dtmf_rfc4733_to_info: an info pbx trunk and an
  rfc4733 carrier trunk, both PCMA.
- dtmf_inband_generated / dtmf_inband_detected: an inband pbx trunk (PCMA)
  and an rfc4733 carrier trunk: the SBC plays the carrier's events as tones
  to the pbx, and turns the pbx's tones into events for the carrier.

They need root (sipp's pcap play, the sniffer), tools/rtp_codec built, and
sipp's pcaps (Debian package sip-tester).
"""

import re

import media_tools as mt
from harness import (CARRIER_SIPP_MEDIA, PBX_SIPP_MEDIA, SCENARIOS, SIP_PORT, check,
                     poll_calls_while)
from test_sbc import assert_one_call, first
from test_transcoding import G729, PCMA, assert_sent_by_sbc, offered_formats

TESTS = []

# Every one of sipp's dtmf_2833 pcaps, and a digit twice in a row (two
# events, which a receiver merging them would miss).
DIGITS = "123456789*0#55"
# What the carrier sends the other way in dtmf_2833_mapped.
CARRIER_DIGITS = "#90*8"
# The payload types: the pbx's own choice, and the SBC's for its offers.
PBX_EVENT_PT = 96
SBC_EVENT_PT = 101
# sipp's dtmf_2833 events last 2240 timestamp units (280 ms at 8000 Hz).
PCAP_EVENT_DURATION = 2240
# dtmf_stream's spacing: digits 400 ms apart after 500 ms.
LEAD_MS = 500
SPACING_MS = 400
# How long the caller keeps the call after the pcaps have played.
AFTER_MS = 1500


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def stream_ms(digits):
    """The length of dtmf_stream()'s stream of `digits`, in ms."""
    return LEAD_MS + (len(digits) - 1) * SPACING_MS + 300 + 500


def write_stream(t, name, digits, event_pt, *, audio_pt=PCMA.pt, audio_payload=mt.PCMA_SILENCE):
    """A pcap of `digits` from sipp's dtmf_2833 pcaps at `event_pt`, with
    20 ms audio packets around them, for sipp's -key pcap."""
    times, packets = mt.dtmf_stream(digits, event_pt, audio_pt=audio_pt,
                                    audio_payload=audio_payload, lead_ms=LEAD_MS,
                                    spacing_ms=SPACING_MS)
    path = t.workdir / f"{name}.pcap"
    mt.write_pcap(path, packets, times=times)
    return path


def sniffers(t):
    """Captures of what sbcd sends to the carrier's and the pbx's media ports."""
    to_carrier = mt.RtpSniffer(t.carrier_peer, CARRIER_SIPP_MEDIA)
    to_pbx = mt.RtpSniffer(t.pbx_peer, PBX_SIPP_MEDIA)
    t.on_close(to_carrier.stop)
    t.on_close(to_pbx.stop)
    return to_carrier, to_pbx


def run_call(sbcd, pbx, carrier, to_carrier, to_pbx):
    """Waits for both peers (each call must succeed) and stops the captures;
    returns sbcctl's samples of the call."""
    samples = poll_calls_while(sbcd, [pbx, carrier], interval=0.5)
    pbx.finish()
    carrier.finish()
    to_carrier.stop()
    to_pbx.stop()
    sbcd.assert_alive()
    return samples


def event_pts(msg, who):
    """The telephone-event payload types of `msg`'s SDP, with their clocks."""
    formats, rtpmaps = offered_formats(msg, who)
    return {pt: rtpmaps[pt] for pt in formats
            if rtpmaps.get(pt, "").lower().startswith("telephone-event/")}


def assert_events_offered(msg, pt, who):
    got = event_pts(msg, who)
    check(got == {pt: "telephone-event/8000"},
          f"{who}: telephone-event {got or 'absent'}, expected payload type {pt} at 8000 Hz")


def assert_no_events_offered(msg, who):
    got = event_pts(msg, who)
    check(not got, f"{who}: offers telephone-event {got} to a trunk whose DTMF is not rfc4733")


def assert_event_digits(packets, pt, expected, who, *, duration=None, ends=None):
    """The RFC 4733 events of payload type `pt` in `packets` are the digits
    `expected`: one per event timestamp, each complete (an E bit seen), its
    first packet marked (RFC 4733 2.5.1.1); `duration`: the final duration
    each must carry; `ends`: how many end packets each must have (RFC 4733
    2.5.1.4: three)."""
    events = mt.telephone_events(packets, pt)
    got = "".join(e.symbol for e in events)
    mt.assert_digits(got, expected, f"{who} (events {events[:3]}...)" if events else who)
    for e in events:
        check(e.ends >= 1, f"{who}: event {e} never ended (no E bit)")
        check(e.first_marker, f"{who}: the first packet of event {e} has no marker bit")
        if ends is not None:
            check(e.ends == ends, f"{who}: event {e} has {e.ends} end packets, expected {ends}")
        if duration is not None:
            check(e.duration == duration,
                  f"{who}: event {e} lasts {e.duration} timestamp units, expected {duration}")
    return events


def assert_only_pts(packets, pts, who):
    got = sorted({p.pt for p in packets if p.valid})
    check(set(got) <= set(pts), f"{who}: payload types {got}, expected only {sorted(pts)}")


# --------------------------------------------------------------------------
# rfc4733 <-> rfc4733, transcoded


def mapped_call(t, pbx_audio):
    """PCMA + telephone-event 96 (pbx) against G.729 + telephone-event 101
    (carrier, its trunk takes only those): the call is transcoded and each
    side's digits reach the other at the other's payload type. The pbx
    sends its events with A-law silence around them, or (`pbx_audio`
    false) alone, as a phone with silence suppression may."""
    build = mt.build_dir_of(t)
    pbx_pcap = write_stream(t, "pbx-digits", DIGITS, PBX_EVENT_PT,
                            audio_payload=mt.PCMA_SILENCE if pbx_audio else None)
    g729_silence = mt.encode(build, G729.encoding, G729.clock, 20, [0] * 160, *G729.fmtp)[0]
    carrier_pcap = write_stream(t, "carrier-digits", CARRIER_DIGITS, SBC_EVENT_PT,
                                audio_pt=G729.pt, audio_payload=g729_silence)
    to_carrier, to_pbx = sniffers(t)

    sbcd = t.start_sbcd(carrier_extra=["codecs: [G729, telephone-event]"])
    carrier = t.uas("carrier", "uas_answer_g729_dtmf.xml", local_ip=t.carrier_peer,
                    media_port=CARRIER_SIPP_MEDIA, extra=["-key", "pcap", carrier_pcap])
    pbx = t.uac("pbx", "uac_call_pcap_dtmf.xml", local_ip=t.pbx_peer,
                remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA,
                duration_ms=stream_ms(DIGITS) + AFTER_MS, extra=["-key", "pcap", pbx_pcap])
    samples = run_call(sbcd, pbx, carrier, to_carrier, to_pbx)

    invite = first(carrier.received("INVITE"), "INVITE at the carrier")
    assert_events_offered(invite, SBC_EVENT_PT, "INVITE to the carrier")
    ok = first(pbx.received(status=200), "200 OK at the pbx")
    assert_events_offered(ok, PBX_EVENT_PT, "200 OK to the pbx")
    call = assert_one_call(samples, "pbx", "carrier")
    check(call.get("media") == "transcoded",
          f"sbcctl calls lists the media as {call.get('media')!r}, expected 'transcoded'")

    assert_sent_by_sbc(to_carrier, t.carrier_sbc, "RTP to the carrier")
    assert_sent_by_sbc(to_pbx, t.pbx_sbc, "RTP to the pbx")
    assert_only_pts(to_carrier.packets, {G729.pt, SBC_EVENT_PT}, "RTP to the carrier")
    assert_only_pts(to_pbx.packets, {PCMA.pt, PBX_EVENT_PT}, "RTP to the pbx")
    # Same clock (8000 Hz) both sides: the durations pass unchanged.
    assert_event_digits(to_carrier.packets, SBC_EVENT_PT, DIGITS, "events to the carrier",
                        duration=PCAP_EVENT_DURATION)
    assert_event_digits(to_pbx.packets, PBX_EVENT_PT, CARRIER_DIGITS, "events to the pbx",
                        duration=PCAP_EVENT_DURATION)


@e2e_test
def dtmf_2833_mapped(t):
    """Events both ways across a transcoded call, each at its leg's payload type."""
    mapped_call(t, pbx_audio=True)


@e2e_test
def dtmf_2833_mapped_events_only(t):
    """The same with no audio from the pbx, only its events: each event must
    still leave with a timestamp of its own (RFC 4733 2.5.2: the timestamp
    tells one event from the next)."""
    mapped_call(t, pbx_audio=False)


# --------------------------------------------------------------------------
# info <-> rfc4733


def info_digits_of_scenario(name):
    """The digits a scenario sends as INFO: its Signal lines, in order."""
    return "".join(re.findall(r"^\s*Signal=(\S)\s*$", (SCENARIOS / name).read_text(), re.M))


def info_call(t, pbx_scenario, carrier_pcap, pbx_duration_ms=None):
    """The pbx (dtmf: info) calls the carrier (rfc4733), both on PCMA."""
    to_carrier, to_pbx = sniffers(t)
    sbcd = t.start_sbcd(pbx_extra=["dtmf: info"])
    carrier = t.uas("carrier", "uas_answer_pcma_dtmf.xml", local_ip=t.carrier_peer,
                    media_port=CARRIER_SIPP_MEDIA, extra=["-key", "pcap", carrier_pcap])
    pbx = t.uac("pbx", pbx_scenario, local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=pbx_duration_ms)
    samples = run_call(sbcd, pbx, carrier, to_carrier, to_pbx)
    invite = first(carrier.received("INVITE"), "INVITE at the carrier")
    assert_events_offered(invite, SBC_EVENT_PT, "INVITE to the carrier")
    ok = first(pbx.received(status=200), "200 OK at the pbx")
    assert_no_events_offered(ok, "200 OK to the pbx")
    assert_one_call(samples, "pbx", "carrier")
    assert_sent_by_sbc(to_carrier, t.carrier_sbc, "RTP to the carrier")
    assert_sent_by_sbc(to_pbx, t.pbx_sbc, "RTP to the pbx")
    return pbx, carrier, to_carrier, to_pbx


def answered_infos(peer, direction):
    """CSeq numbers of the INFO requests `peer` sent or received (`direction`
    of the request), and those it got or gave a 200 for."""
    requests, ok = [], set()
    for m in peer.messages():
        cseq = (m.header("cseq") or "").split()
        if len(cseq) != 2 or cseq[1] != "INFO":
            continue
        if not m.is_response and m.direction == direction:
            requests.append(m)
        elif m.is_response and m.status == 200 and m.direction != direction:
            ok.add(cseq[0])
    return requests, ok


@e2e_test
def dtmf_info_to_rfc4733(t):
    """The pbx (info trunk) sends its digits as INFO while its audio plays;
    the SBC answers them and sends the carrier (rfc4733) RFC 4733 events."""
    scenario = "uac_send_info_dtmf.xml"
    digits = info_digits_of_scenario(scenario)
    check(len(digits) >= 4, f"{scenario}: {digits!r}: too few Signal lines")
    pbx, carrier, to_carrier, _ = info_call(t, scenario, mt.G711A_PCAP, pbx_duration_ms=1000)

    sent, answered = answered_infos(pbx, "sent")
    check(len(sent) >= len(digits), f"the pbx sent {len(sent)} INFO, expected {len(digits)}")
    unanswered = [m.header("cseq") for m in sent if m.header("cseq").split()[0] not in answered]
    check(not unanswered, f"the pbx got no 200 for INFO {unanswered}")
    leaked = carrier.received("INFO")
    check(not leaked, f"the carrier received {len(leaked)} INFO: the SBC forwarded the DTMF "
          "INFO to an rfc4733 trunk instead of turning it into events")
    # Duration=160 ms: 1280 units at 8000 Hz in the final packets, sent
    # three times (RFC 4733 2.5.1.4).
    assert_event_digits(to_carrier.packets, SBC_EVENT_PT, digits, "events to the carrier",
                        duration=160 * 8, ends=3)
    assert_only_pts(to_carrier.packets, {PCMA.pt, SBC_EVENT_PT}, "RTP to the carrier")


@e2e_test
def dtmf_rfc4733_to_info(t):
    """The carrier (rfc4733) plays sipp's dtmf_2833 digits; the pbx (info
    trunk) receives them as INFO application/dtmf-relay, in order, and no
    event packets."""
    pcap = write_stream(t, "carrier-digits", DIGITS, SBC_EVENT_PT)
    pbx, _, _, to_pbx = info_call(t, "uac_recv_info_dtmf.xml", pcap)

    infos, answered = answered_infos(pbx, "received")
    check(infos, "the pbx received no INFO")
    signals = []
    for m in infos:
        ctype = (m.header("content-type") or "").split(";")[0].strip().lower()
        check(ctype == "application/dtmf-relay",
              f"INFO to the pbx with Content-Type {ctype!r}, expected application/dtmf-relay")
        sig = re.findall(r"(?im)^\s*Signal\s*=\s*(\S+)\s*$", m.body)
        dur = re.findall(r"(?im)^\s*Duration\s*=\s*(\d+)\s*$", m.body)
        check(len(sig) == 1 and len(dur) == 1, f"INFO body {m.body!r}: expected one Signal "
              "and one Duration line")
        # sipp's events last 280 ms; the SBC reports what it measured.
        check(abs(int(dur[0]) - PCAP_EVENT_DURATION // 8) <= 40,
              f"INFO for {sig[0]} says Duration={dur[0]}, expected about "
              f"{PCAP_EVENT_DURATION // 8} ms")
        signals.append(sig[0])
    mt.assert_digits("".join(signals), DIGITS, "INFO to the pbx")
    unanswered = [m.header("cseq") for m in infos if m.header("cseq").split()[0] not in answered]
    check(not unanswered, f"the pbx did not answer INFO {unanswered} with 200")
    # The events end at the SBC: only audio goes on to an info trunk.
    assert_only_pts(to_pbx.packets, {PCMA.pt}, "RTP to the pbx")


# --------------------------------------------------------------------------
# inband <-> rfc4733


def inband_call(t, pbx_scenario, carrier_pcap, pbx_duration_ms, pbx_extra=()):
    """The pbx (dtmf: inband, PCMA only) calls the carrier (rfc4733)."""
    to_carrier, to_pbx = sniffers(t)
    sbcd = t.start_sbcd(pbx_extra=["dtmf: inband", "codecs: [PCMA]"])
    carrier = t.uas("carrier", "uas_answer_pcma_dtmf.xml", local_ip=t.carrier_peer,
                    media_port=CARRIER_SIPP_MEDIA, extra=["-key", "pcap", carrier_pcap])
    pbx = t.uac("pbx", pbx_scenario, local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=pbx_duration_ms, extra=list(pbx_extra))
    samples = run_call(sbcd, pbx, carrier, to_carrier, to_pbx)
    invite = first(carrier.received("INVITE"), "INVITE at the carrier")
    assert_events_offered(invite, SBC_EVENT_PT, "INVITE to the carrier")
    ok = first(pbx.received(status=200), "200 OK at the pbx")
    assert_one_call(samples, "pbx", "carrier")
    assert_sent_by_sbc(to_carrier, t.carrier_sbc, "RTP to the carrier")
    assert_sent_by_sbc(to_pbx, t.pbx_sbc, "RTP to the pbx")
    return to_carrier, to_pbx, ok


def heard_pcma(t, build, packets, who, wav):
    """The A-law audio of `packets` (valid RTP, PCMA only) as 8000 Hz PCM,
    kept as a wav with the test's logs."""
    ordered = mt.assert_valid_rtp(packets, who, pt=PCMA.pt, ts_step=None)
    pcm = mt.decode(build, "PCMA", 8000, mt.payloads_with_losses(ordered))
    mt.write_wav(t.workdir / wav, pcm)
    return pcm


@e2e_test
def dtmf_inband_generated(t):
    """The carrier's RFC 4733 digits reach the pbx (inband trunk, PCMA) as
    tones in its audio, which the transcoder's detector reads back as the
    same digits."""
    build = mt.build_dir_of(t)
    pcap = write_stream(t, "carrier-digits", DIGITS, SBC_EVENT_PT)
    _, to_pbx, ok = inband_call(t, "uac_call_media.xml", pcap, stream_ms(DIGITS) + AFTER_MS)
    assert_no_events_offered(ok, "200 OK to the pbx")

    pcm = heard_pcma(t, build, to_pbx.packets, "RTP to the pbx", "pbx-heard.wav")
    heard = mt.detect_tones(build, pcm)
    mt.assert_digits("".join(d for d, _, _ in heard), DIGITS, f"tones to the pbx {heard}")
    # The events last 280 ms; spandsp's durations come out a block or two short.
    short = [h for h in heard if not PCAP_EVENT_DURATION // 8 - 60 <= h[2] <= 400]
    check(not short, f"tones to the pbx: {short} do not last about "
          f"{PCAP_EVENT_DURATION // 8} ms, the events' duration")


# Tones the pbx plays in dtmf_inband_detected: Q.24 asks receivers to take
# 40 ms; these are comfortably longer, as a phone's keypad sends them.
TONE_MS = 120
TONE_GAP_MS = 150


@e2e_test
def dtmf_inband_detected(t):
    """The pbx (inband trunk) plays DTMF tones in its A-law audio; the
    carrier (rfc4733) receives them as events, and the tones no longer in
    the audio (heard once, not twice)."""
    build = mt.build_dir_of(t)
    pcm = mt.tones(build, DIGITS, TONE_MS, TONE_GAP_MS, 500)
    mt.write_wav(t.workdir / "pbx-tones.wav", pcm)
    sent = mt.detect_tones(build, pcm)
    mt.assert_digits("".join(d for d, _, _ in sent), DIGITS, "the tones the pbx plays")
    payloads = mt.encode(build, "PCMA", 8000, 20, pcm)
    pcap = t.workdir / "pbx-tones.pcap"
    mt.write_pcap(pcap, mt.make_rtp(payloads, PCMA.pt, PCMA.ts_step))
    to_carrier, _, ok = inband_call(t, "uac_call_pcap_dtmf.xml", mt.G711A_PCAP,
                                    len(payloads) * 20 + AFTER_MS,
                                    pbx_extra=["-key", "pcap", pcap])

    events = assert_event_digits(to_carrier.packets, SBC_EVENT_PT, DIGITS,
                                 "events to the carrier")
    # The detector measures the tones within a block or two (13-25 ms).
    wrong = [e for e in events if not TONE_MS * 8 - 320 <= e.duration <= TONE_MS * 8 + 160]
    check(not wrong, f"events to the carrier: {wrong} do not last about {TONE_MS} ms "
          f"({TONE_MS * 8} units)")
    # The events take sequence numbers between the audio packets: the audio
    # is decoded in order, without taking those for losses.
    audio = [p.payload for p in mt.in_sequence(to_carrier.packets) if p.pt == PCMA.pt]
    check(len(audio) >= 100, f"audio to the carrier: only {len(audio)} PCMA packets")
    carrier_pcm = mt.decode(build, "PCMA", 8000, audio)
    mt.write_wav(t.workdir / "carrier-heard.wav", carrier_pcm)
    # The bridge mutes a tone once the detector has confirmed it, about 25 ms
    # in (transcoder/chain/dtmf_bridge.hpp): what passes before is a residue
    # shorter than ITU-T Q.24's 40 ms, the shortest digit a receiver must
    # take; whole tones left in the audio would reach the carrier twice.
    heard = mt.detect_tones(build, carrier_pcm)
    whole = [h for h in heard if h[2] > 40]
    check(not whole, f"the audio to the carrier still carries tones {whole}: the carrier "
          "gets those digits twice (events and tones)")
    # The pbx offered telephone-event 96 (this scenario offers it): an
    # inband trunk's answer must not take it (the trunk's digits are tones).
    assert_no_events_offered(ok, "200 OK to the pbx (it offered telephone-event 96)")
