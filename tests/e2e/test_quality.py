"""End-to-end test of media quality per leg (issue 23, item 4).

    sipp (pbx, 127.S.2.2)                          sipp (carrier, 127.S.1.2)
    offers PCMA, plays g711a.pcap  ->  sbcd  ->  answers PCMA, plays a pcap
                                                 the test made

Two calls, one after the other. In the first the carrier's pcap is clean:
300 PCMA packets 20 ms apart. In the second the test's pcap itself carries
the impairment, so that what the SBC should measure is known exactly
rather than drawn from netem's random delays (whose RFC 3550 A.8 estimate,
a running mean of 16 samples, wanders by about 10% by itself):

- loss: every 20th sequence number is left out: 5% of the packets expected;
- jitter: the packets go in bursts of four every 80 ms (timestamps still
  20 ms apart), so the transit time (RFC 3550 A.8) rises 60 ms at each
  burst and falls 20 ms at each packet within it: |D| averages 30 ms, and
  the interarrival jitter J, a running mean of |D|, stays near 30 ms.

A sniffer records the carrier's packets on their way to the SBC (kernel
timestamps), and the test computes J from them as A.8 does: what the SBC
received. The SBC's figures for the carrier's leg (CDR media.b.quality)
must be within 10% of the injected loss (5%) and of that J, which itself
must be within 10% of the injected 30 ms; the impaired call's MOS must be
below the clean one's. `sbcctl calls` must show the quality of both legs
while the call runs.
"""

import media_tools as mt
from harness import (CARRIER_SIPP_MEDIA, PBX_SIPP_MEDIA, SIP_PORT, cdr_lines, check,
                     poll_calls_while, read_cdrs)

TESTS = []

PACKETS = 300  # 6 s of 20 ms PCMA
LOSS_EVERY = 20  # 5%
BURST = 4  # packets sent at once, every BURST * 20 ms
INJECTED_LOSS = 100.0 / LOSS_EVERY
INJECTED_JITTER_MS = 30.0
CALL_MS = 8000  # both pcaps played (the pbx's g711a.pcap: 7 s)
CLOCK = 8000


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def a8_jitter_ms(packets):
    """RFC 3550 A.8's interarrival jitter after the last of `packets`
    (mt.Rtp with arrival times, in arrival order), in ms."""
    j = 0.0
    prev = None
    for p in packets:
        transit = p.time * CLOCK - p.ts
        if prev is not None:
            j += (abs(transit - prev) - j) / 16
        prev = transit
    return j * 1000 / CLOCK


def carrier_pcap(t, name, impaired):
    """The carrier's stream: (times s, packets) written to a pcap for sipp."""
    times, packets = [], []
    rtp = mt.make_rtp([mt.PCMA_SILENCE] * PACKETS, pt=8, ts_step=160, first_seq=40000)
    for i, p in enumerate(rtp):
        if impaired and i % LOSS_EVERY == LOSS_EVERY // 2:
            continue
        times.append((i // BURST) * BURST * 0.020 if impaired else i * 0.020)
        packets.append(p)
    path = f"{t.workdir}/{name}.pcap"
    mt.write_pcap(path, packets, times=times)
    return path


def quality_call(t, sbcd, pcap):
    """One call whose carrier plays `pcap`; returns (the packets the
    carrier sent, as sniffed on their way to the SBC; sbcctl calls samples)."""
    from_carrier = mt.RtpSniffer(t.carrier_sbc, None, src_port=CARRIER_SIPP_MEDIA)
    t.on_close(from_carrier.stop)
    carrier = t.uas("carrier", "uas_answer_pcma_pcap.xml", local_ip=t.carrier_peer,
                    media_port=CARRIER_SIPP_MEDIA, extra=["-key", "pcap", pcap])
    pbx = t.uac("pbx", "uac_call_media.xml", local_ip=t.pbx_peer,
                remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA,
                duration_ms=CALL_MS)
    samples = poll_calls_while(sbcd, [pbx, carrier], interval=0.5)
    pbx.finish()
    carrier.finish()
    from_carrier.stop()
    sbcd.assert_alive()
    return from_carrier.packets, samples


def within(got, want, what):
    check(abs(got - want) <= 0.1 * want, f"{what}: {got:.2f}, expected {want:.2f} +-10%")


@e2e_test
def media_quality_per_leg(t):
    """A clean call, then one whose carrier sends with 5% loss and 30 ms of
    jitter: the SBC reports both within 10% and a lower MOS (see the top)."""
    sbcd = t.start_sbcd(extra_top=cdr_lines(t))
    clean_sent, _ = quality_call(t, sbcd, carrier_pcap(t, "clean", impaired=False))
    clean = read_cdrs(t, 1)[0]
    impaired_sent, samples = quality_call(t, sbcd, carrier_pcap(t, "impaired", impaired=True))
    impaired = read_cdrs(t, 2)[1]

    for cdr in (clean, impaired):
        for leg in ("a", "b"):
            q = cdr["media"][leg]["quality"]
            check(isinstance(q, dict), f"CDR media.{leg}.quality: {q!r}")
            for key in ("rtp_expected", "rtp_lost", "loss_percent", "jitter_ms", "mos"):
                check(isinstance(q.get(key), (int, float)), f"CDR media.{leg}.quality: {q}")
    good = clean["media"]["b"]["quality"]
    bad = impaired["media"]["b"]["quality"]
    print(f"media_quality_per_leg: clean carrier leg {good}")
    print(f"media_quality_per_leg: impaired carrier leg {bad}")

    check(len(clean_sent) == PACKETS, f"the clean pcap: {len(clean_sent)} packets sniffed")
    check(good["rtp_lost"] == 0 and good["rtp_expected"] == PACKETS,
          f"the clean call's carrier leg: {good}")
    sent = len(impaired_sent)
    check(sent == PACKETS - PACKETS // LOSS_EVERY, f"the impaired pcap: {sent} packets sniffed")
    within(bad["loss_percent"], INJECTED_LOSS, "loss % of the impaired carrier leg")
    check(bad["rtp_expected"] == PACKETS, f"impaired carrier leg: {bad}")

    wire = a8_jitter_ms(impaired_sent)
    print(f"media_quality_per_leg: A.8 jitter of the sniffed packets {wire:.2f} ms")
    within(wire, INJECTED_JITTER_MS, "A.8 jitter of the carrier's packets on the wire")
    within(bad["jitter_ms"], wire, "jitter ms of the impaired carrier leg")
    check(good["jitter_ms"] < 0.2 * INJECTED_JITTER_MS,
          f"the clean call's carrier leg has {good['jitter_ms']} ms of jitter")
    check(bad["mos"] < good["mos"],
          f"MOS of the impaired leg {bad['mos']} not below the clean one's {good['mos']}")

    # sbcctl calls showed both legs' quality while the impaired call ran.
    rated = [c for _, calls in samples if calls for c in calls
             if isinstance(c.get("quality_a"), dict) and isinstance(c.get("quality_b"), dict)]
    check(rated, f"sbcctl calls never showed both legs' quality: {samples[-3:]}")
    last = rated[-1]["quality_b"]
    for key in ("loss_percent", "jitter_ms", "mos"):
        check(isinstance(last.get(key), (int, float)), f"sbcctl calls quality_b: {last}")
