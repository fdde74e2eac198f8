"""End-to-end tests of transcoding (issue 5): the pbx calls the carrier with
G.711 A-law only, the carrier trunk takes only G.729, or only Opus, or only
G.722 (issue 21), so the SBC offers the carrier its own codecs and
transcodes between the legs.

    sipp (pbx, 127.S.2.2)                               sipp (carrier, 127.S.1.2)
    offers PCMA, plays g711a.pcap  ->  sbcd  ->  answers G.729 / Opus / G.722,
                                                 plays espeak-ng speech in
                                                 that codec

Two different sentences go the two ways: sipp's own g711a.pcap from the pbx,
and an espeak-ng sentence, encoded by tools/rtp_codec into a pcap of 20 ms
packets, from the carrier. Sniffers on loopback (media_tools.RtpSniffer)
record what sbcd sends to each sipp media port. Each stream must be valid
RTP of the codec its leg negotiated, and decoded (tools/rtp_codec, the
transcoder's own codecs) it must carry the sentence the other side played,
with its energy envelope matching (media_tools.assert_same_speech), and not
the sentence its own side played.

relay_pcma_speech runs the same checks on a call whose trunks share PCMA:
the media is relayed untouched, which checks the capture, decoding and
comparison without the transcoder.

paced_repacketization (issue 19, item 8): the carrier sends 40 ms G.729
packets, the pbx takes 20 ms PCMA; the two 20 ms packets each 40 ms packet
makes must reach the pbx 20 ms apart (kernel capture timestamps), not back
to back.
"""

from dataclasses import dataclass

import media_tools as mt
from harness import (CARRIER_SIPP_MEDIA, MEDIA_MAX, MEDIA_MIN, PBX_SIPP_MEDIA, SIP_PORT,
                     TestFailure, check, poll_calls_while, serial, skip)
from test_sbc import assert_one_call, assert_sdp_rewritten, first

TESTS = []

# What the carrier's sipp says, about 5 s of it; sipp's g711a.pcap (7 s) is
# what the pbx's says.
CARRIER_SENTENCE = ("This is the carrier speaking. The quick brown fox jumps over the lazy dog, "
                    "one two three four five.")
# How long the pbx's sipp keeps the call after its ACK: both pcaps played.
CALL_MS = 8000


def e2e_test(fn):
    TESTS.append(fn)
    return fn


@dataclass(frozen=True)
class Codec:
    yaml: str  # the name in a trunk's codecs list
    encoding: str  # rtpmap encoding and clock, as tools/rtp_codec takes them
    clock: int
    pt: int  # the payload type of the SBC's offer and of the carrier's answer
    rtpmap: str
    payload_len: int | None  # octets per 20 ms packet, where the codec fixes it
    scenario: str  # the carrier's sipp scenario: answers with only this codec
    fmtp: tuple = ()

    @property
    def ts_step(self):
        # RFC 3550 5.1: the timestamp advances by the samples of the RTP
        # clock a packet holds: 20 ms here.
        return self.clock // 50


PCMA = Codec("PCMA", "PCMA", 8000, 8, "PCMA/8000", 160, "uas_answer_pcma_pcap.xml")
# RFC 3551 4.5.6: 10 octets per 10 ms frame; annexb=no: no SID frames.
G729 = Codec("G729", "G729", 8000, 18, "G729/8000", 20, "uas_answer_g729_pcap.xml",
             ("annexb=no",))
# RFC 7587 4.1 / 7: a 48000 Hz clock whatever the band, "opus/48000/2".
OPUS = Codec("opus", "opus", 48000, 111, "opus/48000/2", None, "uas_answer_opus_pcap.xml")
# RFC 3551 4.5.2: static type 9, "G722/8000": 16 kHz audio on an 8000 Hz
# clock, so 160 octets and a timestamp step of 160 (not 320) per 20 ms.
G722 = Codec("G722", "G722", 8000, 9, "G722/8000", 160, "uas_answer_g722_pcap.xml")

# sipp's g711a.pcap: 30 ms PCMA packets (240 octets, timestamps 240 apart).
G711A_PCAP_STEP = 240
G711A_PCAP_OCTETS = 240


def offered_formats(msg, who):
    """The payload types of the m=audio line and the rtpmap encoding of each."""
    media = msg.sdp_lines("m=audio")
    check(media, f"{who}: no m=audio line in the SDP")
    formats = [int(f) for f in media[0].split()[3:]]
    rtpmaps = {}
    for line in msg.sdp_lines("a=rtpmap:"):
        pt, _, enc = line[len("a=rtpmap:"):].partition(" ")
        rtpmaps[int(pt)] = enc.strip()
    return formats, rtpmaps


def assert_offers_only(msg, codec, who):
    """`msg`'s SDP names `codec` as its only audio codec (telephone-event and
    comfort noise aside), with the rtpmap the SBC writes for it."""
    formats, rtpmaps = offered_formats(msg, who)
    audio = [pt for pt in formats
             if not rtpmaps.get(pt, "").lower().startswith(("telephone-event/", "cn/"))
             and pt != 13]
    check(audio == [codec.pt], f"{who}: audio payload types {audio} "
          f"(rtpmaps {rtpmaps}), expected only {codec.pt} ({codec.rtpmap})")
    got = rtpmaps.get(codec.pt)
    # RFC 3551 6: a static payload type may come without its rtpmap.
    check((got is None and codec.pt < 96) or (got or "").lower() == codec.rtpmap.lower(),
          f"{who}: payload type {codec.pt} maps to {got}, expected {codec.rtpmap}")


def carrier_pcap(t, build, codec, speech, ptime_ms=20):
    """The carrier's sentence as a pcap of `ptime_ms` `codec` packets for
    sipp, which plays them `ptime_ms` apart (the pcap's timestamps)."""
    payloads = mt.encode(build, codec.encoding, codec.clock, ptime_ms, speech, *codec.fmtp)
    path = t.workdir / f"carrier-{codec.yaml}-{ptime_ms}ms.pcap"
    mt.write_pcap(path, mt.make_rtp(payloads, codec.pt, codec.clock // 1000 * ptime_ms),
                  interval=ptime_ms / 1000)
    return path


def assert_sent_by_sbc(sniffer, sbc_ip, who):
    """Every datagram to the peer's media port came from one SBC media port."""
    sources = sorted(sniffer.sources)
    check(len(sources) == 1 and sources[0][0] == sbc_ip
          and MEDIA_MIN <= sources[0][1] <= MEDIA_MAX,
          f"{who}: RTP came from {sources}, expected one port of {sbc_ip} in "
          f"{MEDIA_MIN}-{MEDIA_MAX}")


def heard(build, packets, codec, who, *, ts_step, payload_len):
    """The speech in `packets`, which must be valid RTP of `codec`, decoded
    to 8000 Hz PCM (lost packets concealed)."""
    ordered = mt.assert_valid_rtp(packets, who, pt=codec.pt, ts_step=ts_step,
                                  payload_len=payload_len)
    if codec.encoding == "opus":
        # RFC 7587 4.2: the timestamps say 20 ms, so must the TOC octets.
        durations = sorted({mt.opus_packet_ms(p.payload) for p in ordered}, key=str)
        check(durations == [20], f"{who}: Opus packets of {durations} ms, expected 20 ms "
              f"(the ptime the carrier answered)")
    return mt.decode(build, codec.encoding, codec.clock, mt.payloads_with_losses(ordered),
                     *codec.fmtp)


def assert_speech_of(pcm, expected, own, who):
    """`pcm` carries the speech `expected`, not `own` (the speech of the side
    it went to, which an SBC looping media back would deliver)."""
    corr, _ = mt.assert_same_speech(expected, pcm, who)
    echo, _ = mt.best_lag(mt.envelope(own), mt.envelope(pcm),
                          int(mt.MAX_LAG_S * 1000 / mt.ENVELOPE_WINDOW_MS))
    check(echo < mt.MATCH_THRESHOLD,
          f"{who}: what arrived matches the receiving side's own speech "
          f"(correlation {echo:.2f}; with the other side's {corr:.2f}): an echo?")


def speech_call(t, codec, *, transcoded):
    """The pbx calls the carrier, whose trunk allows only `codec`; both play
    speech. Checks the SDP each peer saw, the call as sbcctl lists it and the
    RTP each peer received, decoded and compared with what the other played."""
    build = mt.build_dir_of(t)
    pbx_speech = mt.reference_speech()
    carrier_speech = mt.espeak_speech(build, CARRIER_SENTENCE, t.workdir / "carrier-sent.wav")
    pcap = carrier_pcap(t, build, codec, carrier_speech)

    to_carrier = mt.RtpSniffer(t.carrier_peer, CARRIER_SIPP_MEDIA)
    to_pbx = mt.RtpSniffer(t.pbx_peer, PBX_SIPP_MEDIA)
    t.on_close(to_carrier.stop)
    t.on_close(to_pbx.stop)

    sbcd = t.start_sbcd(carrier_extra=[f"codecs: [{codec.yaml}]"])
    carrier = t.uas("carrier", codec.scenario, local_ip=t.carrier_peer,
                    media_port=CARRIER_SIPP_MEDIA, extra=["-key", "pcap", pcap])
    pbx = t.uac("pbx", "uac_call_media.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=CALL_MS)
    samples = poll_calls_while(sbcd, [pbx, carrier], interval=0.5)
    pbx.finish()
    carrier.finish()
    to_carrier.stop()
    to_pbx.stop()
    sbcd.assert_alive()

    # Signalling: the carrier was offered its own codec, the pbx got PCMA.
    invite = first(carrier.received("INVITE"), "INVITE at the carrier")
    assert_sdp_rewritten(invite, t.carrier_sbc, "INVITE to the carrier")
    assert_offers_only(invite, codec, "INVITE to the carrier")
    ok = first(pbx.received(status=200), "200 OK at the pbx")
    assert_sdp_rewritten(ok, t.pbx_sbc, "200 OK to the pbx")
    assert_offers_only(ok, PCMA, "200 OK to the pbx")
    call = assert_one_call(samples, "pbx", "carrier")
    want = "transcoded" if transcoded else "relayed"
    check(call.get("media") == want, f"sbcctl calls lists the media as {call.get('media')!r} "
          f"(codecs {call.get('codec_a')!r} / {call.get('codec_b')!r}), expected {want!r}")

    # Media, each way: valid RTP of the leg's codec carrying the other side's speech.
    assert_sent_by_sbc(to_carrier, t.carrier_sbc, "RTP to the carrier")
    assert_sent_by_sbc(to_pbx, t.pbx_sbc, "RTP to the pbx")
    if transcoded:
        # The SBC's encoder sends the carrier 20 ms packets of its codec.
        step, size = codec.ts_step, codec.payload_len
    else:
        # Relayed: g711a.pcap's own 30 ms packets, untouched.
        step, size = G711A_PCAP_STEP, G711A_PCAP_OCTETS
    by_carrier = heard(build, to_carrier.packets, codec, "RTP to the carrier", ts_step=step,
                       payload_len=size)
    by_pbx = heard(build, to_pbx.packets, PCMA, "RTP to the pbx", ts_step=PCMA.ts_step,
                   payload_len=PCMA.payload_len)
    # Kept with the logs of a failing test, to listen to.
    mt.write_wav(t.workdir / "carrier-heard.wav", by_carrier)
    mt.write_wav(t.workdir / "pbx-heard.wav", by_pbx)
    assert_speech_of(by_carrier, pbx_speech, carrier_speech, "speech to the carrier")
    assert_speech_of(by_pbx, carrier_speech, pbx_speech, "speech to the pbx")


@e2e_test
def transcode_g729(t):
    """PCMA on the pbx leg, G.729 on the carrier leg (its trunk takes only G.729)."""
    speech_call(t, G729, transcoded=True)


@e2e_test
def transcode_opus(t):
    """PCMA on the pbx leg, Opus on the carrier leg (its trunk takes only Opus)."""
    speech_call(t, OPUS, transcoded=True)


@e2e_test
def transcode_g722(t):
    """PCMA on the pbx leg, G.722 on the carrier leg (its trunk takes only
    G.722): the SBC offers the carrier G722/8000, sends it 20 ms packets
    stepping its timestamps by 160, and the speech crosses both ways."""
    speech_call(t, G722, transcoded=True)


@e2e_test
def relay_pcma_speech(t):
    """Both trunks take PCMA: relayed, and the speech still arrives both ways."""
    speech_call(t, PCMA, transcoded=False)


# Alone: it measures the spacing of the SBC's packets to within 1-2 ms, which
# the CPU load of tests running beside it would disturb.
@serial
@e2e_test
def paced_repacketization(t):
    """The carrier sends G.729 in 40 ms packets, the pbx takes PCMA in 20 ms
    ones (its offer names no ptime: RFC 3551 4.5.6's 20 ms). Each carrier
    packet makes two for the pbx; the SBC must send them at their times, 20
    ms apart, not both at once every 40 ms (20 ms of jitter the SBC would
    add). Also checks that sipp did play the carrier's packets 40 ms apart,
    so the spacing measured on the pbx side is the SBC's doing."""
    build = mt.build_dir_of(t)
    speech = mt.espeak_speech(build, CARRIER_SENTENCE)
    pcap = carrier_pcap(t, build, G729, speech, ptime_ms=40)

    to_pbx = mt.RtpSniffer(t.pbx_peer, PBX_SIPP_MEDIA)
    # What the carrier's sipp plays, to whichever SBC media port its SDP named.
    from_carrier = mt.RtpSniffer(t.carrier_sbc, None, src_port=CARRIER_SIPP_MEDIA)
    t.on_close(to_pbx.stop)
    t.on_close(from_carrier.stop)

    sbcd = t.start_sbcd(carrier_extra=["codecs: [G729]"])
    carrier = t.uas("carrier", "uas_answer_g729_40ms_pcap.xml", local_ip=t.carrier_peer,
                    media_port=CARRIER_SIPP_MEDIA, extra=["-key", "pcap", pcap])
    pbx = t.uac("pbx", "uac_call_media.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=CALL_MS)
    samples = poll_calls_while(sbcd, [pbx, carrier], interval=0.5)
    pbx.finish()
    carrier.finish()
    to_pbx.stop()
    from_carrier.stop()
    sbcd.assert_alive()
    call = assert_one_call(samples, "pbx", "carrier")
    check(call.get("media") == "transcoded",
          f"sbcctl calls lists the media as {call.get('media')!r}, expected 'transcoded'")

    sent = mt.assert_valid_rtp(from_carrier.packets, "RTP from the carrier", pt=G729.pt,
                               ts_step=320, payload_len=40)
    try:
        played = mt.assert_paced(sent, "RTP from the carrier (sipp playing the pcap)",
                                 interval_ms=40)
    except TestFailure as e:
        # The SBC's spacing can be told only against a sender that kept its
        # own: sipp, not the SBC, missed its times (a loaded machine).
        skip(f"inconclusive, the peer did not pace its own packets: {e}")
    print(f"paced_repacketization: from the carrier {mt.describe_gaps(played)}")
    got = mt.assert_valid_rtp(to_pbx.packets, "RTP to the pbx", pt=PCMA.pt,
                              ts_step=PCMA.ts_step, payload_len=PCMA.payload_len)
    # Sent unpaced, half the gaps would be 0 ms and half 40. The plain sbcd
    # keeps 90% within 2 ms of 20; the sanitized one, several times slower
    # and beside CI's SCHED_IDLE compilers, was seen at 88%: what that run is
    # for is memory errors on this path, and 75% still tells paced from not.
    within = 0.75 if mt.is_sanitized(build) else 0.9
    gaps = mt.assert_paced(to_pbx.packets, "RTP to the pbx", interval_ms=20,
                           within_fraction=within)
    print(f"paced_repacketization: to the pbx {mt.describe_gaps(gaps)}")
    assert_speech_of(heard(build, got, PCMA, "RTP to the pbx", ts_step=PCMA.ts_step,
                           payload_len=PCMA.payload_len),
                     speech, mt.reference_speech(), "speech to the pbx")


@e2e_test
def reinvite_changes_codecs(t):
    """A re-INVITE changes codecs mid-call: the pbx offers PCMU, which the
    carrier trunk (G729, PCMA) does not take, so the call starts transcoded
    PCMU <-> G.729; its re-INVITE then offers PCMA, which both trunks take,
    so the SBC re-offers PCMA alone and the call goes on relayed."""
    sbcd = t.start_sbcd(carrier_extra=["codecs: [G729, PCMA]"])
    carrier = t.uas("carrier", "uas_answer_first_codec.xml", local_ip=t.carrier_peer,
                    media_port=CARRIER_SIPP_MEDIA)
    pbx = t.uac("pbx", "uac_reinvite_codec.xml", local_ip=t.pbx_peer,
                remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA)
    samples = poll_calls_while(sbcd, [pbx, carrier], interval=0.25)
    pbx.finish()
    carrier.finish()
    sbcd.assert_alive()

    invites = carrier.received("INVITE")
    check(len(invites) == 2, f"the carrier got {len(invites)} INVITEs, expected 2")
    first_offer, _ = offered_formats(invites[0], "INVITE to the carrier")
    check(first_offer == [18, 8],
          f"the first offer to the carrier lists {first_offer}, expected its own G729 and PCMA")
    re_offer, _ = offered_formats(invites[1], "re-INVITE to the carrier")
    check(re_offer == [8],
          f"the re-offer to the carrier lists {re_offer}, expected the shared PCMA alone")
    states = []
    for _, calls in samples:
        for c in calls or []:
            state = (c.get("media"), c.get("codec_a"), c.get("codec_b"))
            if not states or states[-1] != state:
                states.append(state)
    transcoded = ("transcoded", "PCMU/8000", "G729/8000")
    relayed = ("relayed", "PCMA/8000", "PCMA/8000")
    check(transcoded in states and relayed in states
          and states.index(transcoded) < states.index(relayed),
          f"sbcctl calls went through {states}, expected {transcoded} then {relayed}")
    sbcd.assert_no_calls()
