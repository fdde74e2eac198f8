"""End-to-end test of local ringback (issue 21: Microsoft direct routing
expects early media): the caller's trunk says `ringback: local`, the callee
alerts with a 180 without SDP, rings for 3 s, then answers PCMA.

    sipp (pbx, 127.S.2.2)                          sipp (carrier, 127.S.1.2)
    offers PCMA, records what it gets  ->  sbcd  ->  180 (no SDP), 3 s,
    (a sniffer on its media port)                    200 PCMA, plays speech

The pbx must get a 183 with the SBC's SDP answer instead of the 180, then
RTP from the SBC: the ringback tone (US: 440 + 480 Hz, 2 s on, 4 s off) in
PCMA, a stream of its own (one SSRC, 20 ms packets, marker first), which
decoded has its energy at the tone's frequencies. The 200 repeats the 183's
answer (RFC 3261 13.2.1); after it the tone stops and the carrier's speech
reaches the pbx, relayed. sbcctl calls shows the call playing ringback while
it rings.
"""

import math

import media_tools as mt
from harness import CARRIER_SIPP_MEDIA, PBX_SIPP_MEDIA, SIP_PORT, check, poll_calls_while
from test_sbc import assert_sdp_rewritten, first
from test_transcoding import (CARRIER_SENTENCE, PCMA, assert_sent_by_sbc, assert_speech_of,
                              carrier_pcap, heard, offered_formats)

TESTS = []
CALL_MS = 8000


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def power_at(pcm, freq, rate=8000):
    """The power of `freq` in `pcm` (Goertzel), per sample squared."""
    k = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in pcm:
        s1, s2 = x + k * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - k * s1 * s2) / (len(pcm) ** 2)


def by_ssrc(packets):
    streams = {}
    for p in packets:
        if p.valid:
            streams.setdefault(p.ssrc, []).append(p)
    return streams


@e2e_test
def local_ringback_on_180_without_sdp(t):
    """A 180 without SDP reaches a caller whose trunk plays local ringback as
    a 183 with SDP and the ringback tone; the 200's media follows."""
    build = mt.build_dir_of(t)
    carrier_speech = mt.espeak_speech(build, CARRIER_SENTENCE, t.workdir / "carrier-sent.wav")
    pcap = carrier_pcap(t, build, PCMA, carrier_speech)
    to_pbx = mt.RtpSniffer(t.pbx_peer, PBX_SIPP_MEDIA)
    t.on_close(to_pbx.stop)

    sbcd = t.start_sbcd(carrier_extra=["codecs: [PCMA]"], pbx_extra=["ringback: local"])
    carrier = t.uas("carrier", "uas_ring_then_answer_pcma_pcap.xml", local_ip=t.carrier_peer,
                    media_port=CARRIER_SIPP_MEDIA, extra=["-key", "pcap", pcap])
    pbx = t.uac("pbx", "uac_call_media.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=CALL_MS)
    samples = poll_calls_while(sbcd, [pbx, carrier], interval=0.25)
    pbx.finish()
    carrier.finish()
    to_pbx.stop()
    sbcd.assert_alive()

    # Signalling: a 183 with the SBC's answer (PCMA, the caller's only
    # codec) instead of the 180, and the 200 repeating it.
    check(not [m for m in pbx.received(status=180) if m.body.strip()],
          "the pbx got a 180 with SDP")
    early = first(pbx.received(status=183), "183 at the pbx")
    assert_sdp_rewritten(early, t.pbx_sbc, "183 to the pbx")
    formats, _ = offered_formats(early, "183 to the pbx")
    check(formats == [PCMA.pt], f"183 to the pbx answers {formats}, expected [{PCMA.pt}]")
    ok = first(pbx.received(status=200), "200 OK at the pbx")
    check(ok.body.strip() == early.body.strip(),
          f"the 200's SDP differs from the 183's (RFC 3261 13.2.1):\n{early.body}\n---\n{ok.body}")
    ringing = [c for _, calls in samples for c in calls or [] if c.get("local_ringback")]
    check(ringing, "sbcctl calls never showed the call playing local ringback")
    answered = [c for _, calls in samples for c in calls or [] if c.get("state") == "established"]
    check(answered and not any(c.get("local_ringback") for c in answered),
          "sbcctl calls shows local ringback on the established call")

    # Media: two streams from the SBC, the tone first, then the carrier's.
    assert_sent_by_sbc(to_pbx, t.pbx_sbc, "RTP to the pbx")
    streams = by_ssrc(to_pbx.packets)
    callee = [s for s, ps in streams.items() if s == 0x5BC0A1E5]  # media_tools.make_rtp's
    check(callee, f"no RTP of the carrier's stream reached the pbx (SSRCs {list(streams)})")
    tone_ssrcs = [s for s in streams if s != 0x5BC0A1E5]
    check(len(tone_ssrcs) == 1, f"RTP to the pbx came in streams {[hex(s) for s in streams]}, "
          "expected the SBC's tone and the carrier's")
    tone = mt.assert_valid_rtp(streams[tone_ssrcs[0]], "ringback to the pbx", pt=PCMA.pt,
                               ts_step=PCMA.ts_step, payload_len=PCMA.payload_len,
                               min_packets=50, max_skips=12)
    check(tone[0].marker, "the ringback's first packet has no marker bit (RFC 3551 4.1)")
    speech = streams[0x5BC0A1E5]
    check(max(p.time for p in tone) <= min(p.time for p in speech),
          "ringback went on after the carrier's media started")

    # The tone's first burst (2 s on): its energy at 440 and 480 Hz.
    pcm = []
    for p in tone:
        pcm.extend(mt.alaw_decode(p.payload))
    mt.write_wav(t.workdir / "ringback-heard.wav", pcm)
    burst = pcm[160:160 + 8000]  # 1 s inside the first 2 s burst
    at_tone = min(power_at(burst, 440), power_at(burst, 480))
    elsewhere = max(power_at(burst, f) for f in (300, 620, 1000, 2000))
    check(at_tone > 100 * elsewhere and at_tone > 1000,
          f"the ringback's power at 440/480 Hz is {at_tone:.0f}, elsewhere up to "
          f"{elsewhere:.0f}: not the US ringback tone")
    if len(pcm) > 8000 * 2 + 4000:
        # Its cadence: silence from 2 s on.
        pause = pcm[8000 * 2 + 400:8000 * 2 + 4000]
        check(max(abs(x) for x in pause) < 64, "the ringback does not pause after 2 s")

    # After the 200: the carrier's speech, relayed.
    by_carrier = heard(build, speech, PCMA, "carrier's RTP to the pbx", ts_step=PCMA.ts_step,
                       payload_len=PCMA.payload_len)
    assert_speech_of(by_carrier, carrier_speech, mt.reference_speech(), "speech to the pbx")
