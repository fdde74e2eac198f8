"""Media helpers of the e2e tests: capture, make, decode and compare RTP.

- RtpSniffer: records the UDP datagrams sent to one address on loopback
  through an AF_PACKET socket, so the test sees what sbcd sends to a sipp
  peer without taking the peer's port (root, or CAP_NET_RAW, as the media
  tests need anyway). Arrival times are the kernel's (SO_TIMESTAMPNS), so a
  busy test process does not blur the spacing it measures; gaps() and
  assert_paced() check that spacing.
- read_pcap / write_pcap: libpcap files as sipp's play_pcap_audio plays them
  (linktype 1, Ethernet / IPv4 / UDP / RTP, the packets' own timestamps
  setting the pace); sipp rewrites the addresses and ports when it plays.
- rtp_codec(): the transcoder's codecs through tools/rtp_codec (the same
  code the SBC runs), and a pure-Python G.711 A-law decoder for the
  reference speech of sipp's g711a.pcap.
- assert_valid_rtp(): one RTP stream as RFC 3550 5.1 wants it: version 2,
  the negotiated payload type, one SSRC, sequence numbers up by one and
  timestamps up by clock rate * ptime; opus_packet_ms() reads an Opus
  packet's duration from its TOC octet.
- DTMF (test_dtmf.py): sipp's dtmf_2833_N.pcap digits, dtmf_stream() to
  put several of them into one RTP stream with audio, telephone_events() to
  read RFC 4733 events back from a capture (one digit per event
  timestamp), and tones() / detect_tones() through rtp_codec's tone
  generator and detector (the transcoder's spandsp code).
- envelope() / assert_same_speech(): the energy envelope (RMS per 100 ms) of
  two signals and their normalized cross-correlation at the best lag, so a
  test can tell that the speech it sent is the speech that arrived, with its
  syllables in place, whatever the codecs did to the waveform.

Standard library only.
"""

import array
import json
import math
import socket
import struct
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

from harness import check, sanitizer_env

RATE = 8000
G711A_PCAP = Path("/usr/share/sip-tester/g711a.pcap")
ESPEAK = "/usr/bin/espeak-ng"

# Envelope comparison: RMS over 100 ms windows (syllables last 150-300 ms, so
# the envelope keeps the rhythm of speech and drops the waveform, which no
# two codecs keep). Measured on g711a.pcap's speech and an espeak-ng
# sentence: through G.711 1.00, through G.729 or Opus (with the SBC's
# transcoding) 0.96-0.99; the two sentences against each other 0.2-0.3,
# one against itself time-reversed 0.49, or shifted by 0.5 s 0.21. 0.85
# leaves room for a few lost packets and the resamplers' smoothing.
ENVELOPE_WINDOW_MS = 100
MATCH_THRESHOLD = 0.85
MAX_LAG_S = 2.0
# A window counts as speech above this RMS (of 32767): -50 dBFS, well above
# the codecs' comfort noise and G.711's idle code.
SPEECH_RMS = 100

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
# <asm-generic/socket.h>; Python's socket module may not name it.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@qq")


def build_tool(build_dir, name="rtp_codec"):
    path = Path(build_dir) / "tools" / name
    check(path.is_file(), f"{path} is not built (ninja -C {build_dir} tools/{name})")
    return path


def build_dir_of(ctx):
    """The meson build directory a TestContext's sbcd comes from."""
    return Path(ctx.sbcd_bin).resolve().parents[1]


def is_sanitized(build):
    """True when the meson build directory `build` is built with a sanitizer."""
    try:
        options = json.loads((Path(build) / "meson-info" / "intro-buildoptions.json").read_text())
    except (OSError, ValueError):
        return False
    return any(o.get("name") == "b_sanitize" and o.get("value") not in ("none", "", None)
               for o in options)


# --------------------------------------------------------------------------
# RTP


class Rtp:
    """One RTP packet (RFC 3550 5.1), with its arrival time when captured."""

    __slots__ = ("version", "marker", "pt", "seq", "ts", "ssrc", "payload", "time", "valid")

    def __init__(self, data, arrival=0.0):
        self.time = arrival
        self.valid = len(data) >= 12
        if not self.valid:
            self.version, self.marker, self.pt, self.seq, self.ts, self.ssrc = 0, 0, 0, 0, 0, 0
            self.payload = b""
            return
        b0, b1, self.seq, self.ts, self.ssrc = struct.unpack("!BBHII", data[:12])
        self.version = b0 >> 6
        self.marker = bool(b1 & 0x80)
        self.pt = b1 & 0x7F
        start, end = 12 + 4 * (b0 & 0x0F), len(data)
        if b0 & 0x10 and start + 4 <= end:
            start += 4 + 4 * struct.unpack("!H", data[start + 2:start + 4])[0]
        if b0 & 0x20 and end > 12:
            end -= data[-1]
        self.valid = start <= end
        self.payload = bytes(data[start:end]) if self.valid else b""

    def __repr__(self):
        return f"<rtp pt={self.pt} seq={self.seq} ts={self.ts} ssrc={self.ssrc:#x} " \
               f"{len(self.payload)} octets>"


def make_rtp(payloads, pt, ts_step, ssrc=0x5BC0A1E5, first_seq=1000, first_ts=0):
    """RTP packets around `payloads`, one per packet, the first with the marker
    bit (RFC 3551 4.1: the start of a talk spurt)."""
    out = []
    for i, payload in enumerate(payloads):
        b1 = (0x80 if i == 0 else 0) | (pt & 0x7F)
        out.append(struct.pack("!BBHII", 0x80, b1, (first_seq + i) & 0xFFFF,
                               (first_ts + i * ts_step) & 0xFFFFFFFF, ssrc) + payload)
    return out


def assert_valid_rtp(packets, who, *, pt, ts_step, payload_len=None, min_packets=100,
                     max_lost=5, max_skips=0):
    """Checks one captured stream and returns its packets in sequence order.

    `ts_step` is the timestamp increment per packet (clock rate * ptime:
    G.711 and G.729 160 per 20 ms at 8000 Hz, Opus 960 at 48000 Hz); `None`
    takes the stream's first increment (a relayed stream keeps its sender's
    ptime). `payload_len` is the exact payload size (G.729: 20 octets per
    20 ms, RFC 3551 4.5.6), or None. Up to `max_lost` sequence gaps pass, and
    up to `max_skips` places where the timestamp moved on by whole packets
    more than the sequence did: a generated stream whose sender fell behind
    the clock and skipped what it could no longer send in time (RFC 3550
    5.1: the timestamp follows the sampling instant, the sequence the
    packets sent).
    """
    check(len(packets) >= min_packets,
          f"{who}: only {len(packets)} RTP packets arrived (expected at least {min_packets})")
    bad = [p for p in packets if not p.valid or p.version != 2]
    check(not bad, f"{who}: {len(bad)} packets are not RTP version 2: {bad[:3]}")
    pts = sorted({p.pt for p in packets})
    check(pts == [pt], f"{who}: payload types {pts}, expected only {pt}")
    ssrcs = sorted({p.ssrc for p in packets})
    check(len(ssrcs) == 1, f"{who}: {len(ssrcs)} SSRCs ({[hex(s) for s in ssrcs[:4]]}), "
          "expected one stream")
    if payload_len is not None:
        sizes = sorted({len(p.payload) for p in packets})
        check(sizes == [payload_len], f"{who}: payload sizes {sizes}, expected {payload_len}")
    check(all(p.payload for p in packets), f"{who}: packets with an empty payload")
    ordered = _unwrap_order(packets)
    lost = reordered = skips = 0
    if ts_step is None:
        ts_step = (ordered[1][1].ts - ordered[0][1].ts) & 0xFFFFFFFF
        check(ts_step > 0, f"{who}: the first two packets have the same timestamp")
    for (s0, p0), (s1, p1) in zip(ordered, ordered[1:]):
        check(s1 != s0, f"{who}: sequence number {p1.seq} arrived twice")
        lost += s1 - s0 - 1
        ts_delta = (p1.ts - p0.ts) & 0xFFFFFFFF
        if (ts_delta > (s1 - s0) * ts_step and ts_delta % ts_step == 0 and
                ts_delta < 0x80000000 and skips < max_skips):
            skips += 1
            continue
        check(ts_delta == (s1 - s0) * ts_step,
              f"{who}: timestamp went {p0.ts} -> {p1.ts} from sequence {p0.seq} to {p1.seq}, "
              f"expected {ts_step} per packet")
    for a, b in zip(packets, packets[1:]):
        reordered += ((b.seq - a.seq) & 0xFFFF) >= 0x8000
    check(lost <= max_lost, f"{who}: {lost} packets missing from the sequence "
          f"(at most {max_lost} allowed)")
    check(reordered <= max_lost, f"{who}: {reordered} packets arrived out of order")
    return [p for _, p in ordered]


def opus_packet_ms(payload):
    """The audio duration of an Opus packet from its TOC octet (RFC 6716
    3.1), or None when the packet is too short to say."""
    if not payload:
        return None
    config, code = payload[0] >> 3, payload[0] & 0x03
    if config < 12:  # SILK-only
        frame = (10, 20, 40, 60)[config % 4]
    elif config < 16:  # hybrid
        frame = (10, 20)[config % 2]
    else:  # CELT-only
        frame = (2.5, 5, 10, 20)[config % 4]
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    elif len(payload) < 2:
        return None
    else:
        frames = payload[1] & 0x3F
    return frame * frames


def _unwrap_order(packets):
    """(extended sequence number, packet) in sequence order (RFC 3550 A.1)."""
    out, ext, last = [], 0, None
    for p in packets:
        if last is None:
            ext = p.seq
        else:
            delta = (p.seq - last) & 0xFFFF
            ext += delta - 0x10000 if delta >= 0x8000 else delta
        last = p.seq
        out.append((ext, p))
    out.sort(key=lambda e: e[0])
    return out


def in_sequence(packets):
    """`packets` in RTP sequence order (wrap-around taken care of)."""
    return [p for _, p in _unwrap_order(packets)]


def payloads_with_losses(ordered):
    """The payloads of an ordered stream, an empty one in place of each lost
    packet (rtp_codec decode conceals those)."""
    out = []
    for prev, p in zip([None] + ordered[:-1], ordered):
        if prev is not None:
            out += [b""] * (((p.seq - prev.seq) & 0xFFFF) - 1)
        out.append(p.payload)
    return out


# --------------------------------------------------------------------------
# Capture on loopback


class RtpSniffer:
    """UDP datagrams to `dst` (ip, port; any port when None) on `lo`, from
    `src_port` if given, recorded as Rtp packets with their arrival times
    until stop(). The times are the kernel's receive timestamps (seconds,
    CLOCK_REALTIME), taken when the datagram crossed the interface.

    An AF_PACKET socket sees each loopback datagram twice, once leaving and
    once arriving; only the arriving copy is kept (libpcap does the same).
    """

    def __init__(self, dst_ip, dst_port, src_port=None, interface="lo"):
        self.dst = (dst_ip, dst_port)
        self.src_port = src_port
        self.packets = []
        self.sources = set()
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._sock.bind((interface, 0))
        self._sock.settimeout(0.1)
        self._dst_ip = socket.inet_aton(dst_ip)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sniff-{dst_port}", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                frame, ancillary, _, addr = self._sock.recvmsg(65535, 64)
            except socket.timeout:
                continue
            except OSError:
                break
            if addr[2] == PACKET_OUTGOING:
                continue
            arrival = None
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS \
                        and len(data) >= _TIMESPEC.size:
                    sec, nsec = _TIMESPEC.unpack(data[:_TIMESPEC.size])
                    arrival = sec + nsec / 1e9
            if arrival is None:
                arrival = time.time()
            udp = self._udp_payload(frame)
            if udp is not None:
                self.packets.append(Rtp(udp[1], arrival))
                self.sources.add(udp[0])

    def _udp_payload(self, frame):
        # Ethernet II (14 octets, zero addresses on lo), IPv4, UDP.
        if len(frame) < 42 or frame[12:14] != b"\x08\x00":
            return None
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[0] >> 4 != 4 or ip[9] != 17 or ip[16:20] != self._dst_ip:
            return None
        if struct.unpack("!H", ip[6:8])[0] & 0x3FFF:
            return None  # a fragment
        total = struct.unpack("!H", ip[2:4])[0]
        udp = ip[ihl:total]
        if len(udp) < 8:
            return None
        sport, dport, length = struct.unpack("!HHH", udp[:6])
        if (self.dst[1] is not None and dport != self.dst[1]) \
                or (self.src_port is not None and sport != self.src_port):
            return None
        return (socket.inet_ntoa(ip[12:16]), sport), bytes(udp[8:length])

    def stop(self):
        """Stops the capture (idempotent) and returns the packets."""
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(2.0)
            self._sock.close()
        return self.packets


def gaps_ms(packets):
    """The spacing, in ms, of consecutive captured packets in arrival order."""
    times = sorted(p.time for p in packets)
    return [(b - a) * 1000 for a, b in zip(times, times[1:])]


def describe_gaps(gaps):
    """A one-line summary of a gap distribution (ms) for a failure message."""
    if not gaps:
        return "no gaps"
    g = sorted(gaps)
    pct = lambda q: g[min(len(g) - 1, int(q * len(g)))]
    return (f"{len(g)} gaps: min {g[0]:.2f}, p10 {pct(0.10):.2f}, median {pct(0.5):.2f}, "
            f"p90 {pct(0.90):.2f}, max {g[-1]:.2f} ms")


def assert_paced(packets, who, *, interval_ms, median_tolerance_ms=1.0, tolerance_ms=2.0,
                 within_fraction=0.9, skip=5):
    """Consecutive packets (after the first `skip`, while the call settles)
    arrived `interval_ms` apart: the median gap within `median_tolerance_ms`
    of it and at least `within_fraction` of the gaps within `tolerance_ms`
    (a loaded CI machine delays a few). Returns the gaps (ms)."""
    gaps = gaps_ms(packets[skip:])
    check(len(gaps) >= 20, f"{who}: only {len(gaps)} gaps to measure")
    median = sorted(gaps)[len(gaps) // 2]
    within = sum(abs(g - interval_ms) <= tolerance_ms for g in gaps) / len(gaps)
    check(abs(median - interval_ms) <= median_tolerance_ms and within >= within_fraction,
          f"{who}: packets not {interval_ms} ms apart: {describe_gaps(gaps)}; "
          f"{within:.0%} within {interval_ms} +- {tolerance_ms} ms "
          f"(expected median {interval_ms} +- {median_tolerance_ms}, "
          f">= {within_fraction:.0%} within)")
    return gaps


# --------------------------------------------------------------------------
# pcap files (libpcap format, as sipp's play_pcap_audio reads them)

_PCAP_MAGIC = 0xA1B2C3D4
_LINKTYPE_ETHERNET = 1


def read_pcap(path):
    """(time, src port, dst port, UDP payload) of each IPv4/UDP packet."""
    data = Path(path).read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic == _PCAP_MAGIC else ">"
    check(struct.unpack(endian + "I", data[:4])[0] == _PCAP_MAGIC, f"{path} is not a pcap")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    check(linktype == _LINKTYPE_ETHERNET, f"{path}: linktype {linktype}, expected Ethernet")
    out, off = [], 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if frame[12:14] != b"\x08\x00" or frame[23] != 17:
            continue
        ihl = (frame[14] & 0x0F) * 4
        udp = frame[14 + ihl:]
        sport, dport, length = struct.unpack("!HHH", udp[:6])
        out.append((sec + usec / 1e6, sport, dport, udp[8:length]))
    return out


def _ip_checksum(header):
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def write_pcap(path, rtp_packets, interval=0.020, src=("10.1.3.143", 5000),
               dst=("10.1.6.18", 2006), times=None):
    """A pcap of `rtp_packets` `interval` s apart (or at `times`, seconds
    from the first, one per packet), laid out like sipp's own g711a.pcap
    (Ethernet, IPv4 without options, UDP from 5000 to 2006). sipp plays them
    at the pcap's pace, from its -mp port to the port of the SDP it got,
    whatever the addresses and ports written here."""
    out = [struct.pack("<IHHiIII", _PCAP_MAGIC, 2, 4, 0, 0, 65535, _LINKTYPE_ETHERNET)]
    start = 1_700_000_000.0
    check(times is None or len(times) == len(rtp_packets), "write_pcap: one time per packet")
    for i, rtp in enumerate(rtp_packets):
        udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0x10, 20 + len(udp), i & 0xFFFF, 0x4000, 64, 17,
                         0, socket.inet_aton(src[0]), socket.inet_aton(dst[0]))
        ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
        frame = bytes(6) + bytes.fromhex("020000000001") + b"\x08\x00" + ip + udp
        t = start + (i * interval if times is None else times[i])
        sec = int(t)
        usec = int(round((t - sec) * 1e6))
        out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
    Path(path).write_bytes(b"".join(out))


def pcap_rtp(path):
    """The RTP packets of a pcap, in file order."""
    return [Rtp(payload) for _, _, _, payload in read_pcap(path)]


# --------------------------------------------------------------------------
# PCM and codecs


def _alaw_to_linear(code):
    # ITU-T G.711 A-law expansion (as Sun's g711.c and Python's audioop do).
    code ^= 0x55
    t = (code & 0x0F) << 4
    seg = (code & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if code & 0x80 else -t


_ALAW = [_alaw_to_linear(c) for c in range(256)]


def alaw_decode(payload):
    return array.array("h", (_ALAW[b] for b in payload))


def pcm_bytes(pcm):
    """s16le octets of an array('h') (the machine is little-endian, as CI is)."""
    a = array.array("h", pcm)
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def pcm_from_bytes(data):
    a = array.array("h")
    a.frombytes(data[:len(data) // 2 * 2])
    if sys.byteorder != "little":
        a.byteswap()
    return a


def records(payloads):
    """rtp_codec's input and output framing: a 2-octet big-endian length, then the payload."""
    return b"".join(struct.pack("!H", len(p)) + p for p in payloads)


def parse_records(data):
    out, off = [], 0
    while off + 2 <= len(data):
        n = struct.unpack("!H", data[off:off + 2])[0]
        check(off + 2 + n <= len(data), "rtp_codec wrote a truncated record")
        out.append(data[off + 2:off + 2 + n])
        off += 2 + n
    return out


def rtp_codec(build_dir, *args, stdin=b"", timeout=30):
    """Runs tools/rtp_codec; returns its stdout, or fails the test with its stderr."""
    argv = [str(build_tool(build_dir)), *[str(a) for a in args]]
    # sanitizer_env: an ASan build's rtp_codec gets sbcd's leak suppressions.
    r = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout,
                       env=sanitizer_env())
    check(r.returncode == 0, f"{' '.join(argv[1:])} exited {r.returncode}: "
          f"{r.stderr.decode(errors='replace').strip()[:300]}")
    return r.stdout


def decode(build_dir, encoding, clock, payloads, *fmtp):
    """PCM at 8000 Hz of a sequence of payloads (b"" for a lost packet)."""
    return pcm_from_bytes(rtp_codec(build_dir, "decode", encoding, clock, *fmtp,
                                    stdin=records(payloads)))


def encode(build_dir, encoding, clock, ptime_ms, pcm, *fmtp):
    """Payloads, one per `ptime_ms`, of 8000 Hz PCM."""
    return parse_records(rtp_codec(build_dir, "encode", encoding, clock, ptime_ms, *fmtp,
                                   stdin=pcm_bytes(pcm)))


def reference_speech():
    """The speech of sipp's g711a.pcap (about 7 s) as 8000 Hz PCM."""
    pcm = array.array("h")
    for p in pcap_rtp(G711A_PCAP):
        check(p.pt == 8, f"{G711A_PCAP}: payload type {p.pt}, expected PCMA")
        pcm.extend(alaw_decode(p.payload))
    return pcm


def espeak_speech(build_dir, text, path=None):
    """`text` spoken by espeak-ng, at 8000 Hz (resampled from its 22050 Hz by
    the transcoder's resampler); written as a wav to `path` if given."""
    r = subprocess.run([ESPEAK, "--stdout", "-s", "150", text], capture_output=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    check(r.returncode == 0 and r.stdout[:4] == b"RIFF",
          f"espeak-ng failed ({r.returncode}): {r.stderr.decode(errors='replace')[:200]}")
    # espeak-ng --stdout writes a streaming wav whose sizes say 0x7ffffffff;
    # the data chunk runs to the end of what it wrote.
    data_at = r.stdout.find(b"data")
    check(data_at > 0, "espeak-ng wrote a wav without a data chunk")
    rate = struct.unpack("<I", r.stdout[24:28])[0]
    raw = r.stdout[data_at + 8:]
    pcm = pcm_from_bytes(rtp_codec(build_dir, "resample", rate, RATE, stdin=raw))
    if path:
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(pcm_bytes(pcm))
    return pcm


def write_wav(path, pcm, rate=RATE):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm_bytes(pcm))


# --------------------------------------------------------------------------
# DTMF: RFC 4733 telephone-events and in-band tones

SIPP_SHARE = Path("/usr/share/sip-tester")
# RFC 4733 3.2: DTMF event codes 0-15 are these keys, 16 is flash ("!" as
# the transcoder's dtmf::flash_symbol writes it).
EVENT_SYMBOLS = "0123456789*#ABCD!"
# A-law's idle code (RFC 3551 4.5.14, ITU-T G.711: +0): 20 ms of silence.
PCMA_SILENCE = bytes([0xD5]) * 160


def dtmf_2833_pcap(symbol):
    """sipp's pcap of one RFC 4733 digit (payload type 101, 8 packets 20 ms
    apart, the end packet three times: 280 ms of event)."""
    name = {"*": "star", "#": "pound"}.get(symbol, symbol)
    path = SIPP_SHARE / f"dtmf_2833_{name}.pcap"
    check(path.is_file(), f"{path} does not exist (Debian package sip-tester)")
    return path


def parse_event(payload):
    """(event, end, volume, duration) of an RFC 4733 2.3 payload's last block
    (RFC 4733 2.5.1.5: the newest event of a packed packet), or None."""
    if not payload or len(payload) % 4:
        return None
    event, flags, duration = struct.unpack("!BBH", payload[-4:])
    return event, bool(flags & 0x80), flags & 0x3F, duration


def dtmf_stream(digits, event_pt, *, audio_pt=8, audio_payload=PCMA_SILENCE, ts_step=160,
                lead_ms=500, spacing_ms=400, tail_ms=500, ssrc=0x0D7F0001, first_seq=20000,
                first_ts=160000):
    """One RTP stream carrying `digits` as sipp's dtmf_2833 pcaps have them,
    with their payload type rewritten to `event_pt`: (times, packets) for
    write_pcap(times=...).

    Audio packets (`audio_payload` every 20 ms, `ts_step` apart; None for
    none) run from the start to `tail_ms` after the last digit; digit i
    starts `lead_ms` + i * `spacing_ms` in, its event timestamp that of the
    audio packet sent then (RFC 4733 2.1: one timestamp space), its packets
    at the pcap's own spacing. One SSRC and one sequence, numbered in
    sending order, except that the pcap's three end packets share one number
    as they do in sipp's files (a receiver takes the copies as duplicates).
    """
    check(lead_ms % 20 == 0 and spacing_ms % 20 == 0, "dtmf_stream: 20 ms steps")
    entries = []  # (time s, order, ts, marker, pt, payload, repeat of the previous)
    for i, symbol in enumerate(digits):
        start_ms = lead_ms + i * spacing_ms
        ts = first_ts + start_ms // 20 * ts_step
        packets = read_pcap(dtmf_2833_pcap(symbol))
        t0 = packets[0][0]
        prev_seq = None
        for n, (t, _, _, data) in enumerate(packets):
            rtp = Rtp(data)
            check(rtp.valid and rtp.pt == 101, f"{dtmf_2833_pcap(symbol)}: not an event packet")
            entries.append((start_ms / 1000 + (t - t0), 1, ts, rtp.marker, event_pt, rtp.payload,
                            rtp.seq == prev_seq, (i, n)))
            prev_seq = rtp.seq
    end_ms = lead_ms + max(len(digits) - 1, 0) * spacing_ms + 300 + tail_ms
    if audio_payload is not None:
        for k in range(end_ms // 20):
            entries.append((k * 0.020, 0, first_ts + k * ts_step, k == 0, audio_pt,
                            audio_payload, False, (k,)))
    entries.sort(key=lambda e: (e[0], e[1], e[7]))
    times, packets, seq = [], [], first_seq - 1
    for t, _, ts, marker, pt, payload, repeat, _ in entries:
        if not repeat:
            seq += 1
        packets.append(struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                                   ts & 0xFFFFFFFF, ssrc) + payload)
        times.append(t)
    return times, packets


class EventDigit:
    """The packets of one RFC 4733 event (one timestamp) as they arrived."""

    def __init__(self, ts):
        self.ts = ts
        self.events = []     # event codes, one per packet
        self.ends = 0        # packets with the E bit
        self.durations = []  # in arrival order
        self.first_marker = None
        self.packets = 0

    @property
    def symbol(self):
        codes = set(self.events)
        if len(codes) != 1:
            return "?"
        code = codes.pop()
        return EVENT_SYMBOLS[code] if code < len(EVENT_SYMBOLS) else "?"

    @property
    def duration(self):
        return max(self.durations, default=0)

    def __repr__(self):
        return (f"<{self.symbol} ts={self.ts} events={sorted(set(self.events))} "
                f"{self.packets} packets, {self.ends} ends, duration {self.duration}, "
                f"marker first: {self.first_marker}>")


def telephone_events(packets, pt):
    """The events of a captured stream's payload type `pt`, one per event
    timestamp (RFC 4733 2.5.2: updates and retransmitted ends share it), in
    sequence order."""
    events = [p for _, p in _unwrap_order([p for p in packets if p.valid and p.pt == pt])]
    out, by_ts = [], {}
    for p in events:
        e = parse_event(p.payload)
        if e is None:
            continue
        digit = by_ts.get(p.ts)
        if digit is None:
            digit = by_ts[p.ts] = EventDigit(p.ts)
            digit.first_marker = p.marker
            out.append(digit)
        digit.packets += 1
        digit.events.append(e[0])
        digit.ends += e[1]
        digit.durations.append(e[3])
    return out


def assert_digits(got, expected, who):
    """`got` is the digit string `expected`: none missed, doubled or changed."""
    check(got == expected, f"{who}: digits {got!r} arrived, expected {expected!r} "
          f"({_digit_difference(got, expected)})")


def _digit_difference(got, expected):
    if len(got) < len(expected):
        return f"{len(expected) - len(got)} missing"
    if len(got) > len(expected):
        return f"{len(got) - len(expected)} too many"
    wrong = [i for i, (a, b) in enumerate(zip(got, expected)) if a != b]
    return f"different at positions {wrong}"


def tones(build_dir, digits, on_ms=100, off_ms=100, lead_ms=200):
    """8000 Hz PCM of `digits` as DTMF tones (rtp_codec tones: the
    transcoder's tone_generator), `on_ms` each, `off_ms` of silence after
    each, `lead_ms` of silence first."""
    return pcm_from_bytes(rtp_codec(build_dir, "tones", digits, on_ms, off_ms, lead_ms))


def detect_tones(build_dir, pcm):
    """The DTMF tones in 8000 Hz PCM (rtp_codec detect: the transcoder's
    tone_detector, spandsp's dtmf_rx): (digit, start ms, duration ms) each."""
    out = []
    for line in rtp_codec(build_dir, "detect", stdin=pcm_bytes(pcm)).decode().splitlines():
        symbol, start, duration = line.split()
        out.append((symbol, int(start), int(duration)))
    return out


# --------------------------------------------------------------------------
# Energy envelopes


def envelope(pcm, rate=RATE, window_ms=ENVELOPE_WINDOW_MS):
    """RMS of each `window_ms` window."""
    n = rate * window_ms // 1000
    out = []
    for start in range(0, len(pcm) - n + 1, n):
        chunk = pcm[start:start + n]
        out.append(math.sqrt(sum(x * x for x in chunk) / n))
    return out


def _correlation(a, b):
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    num = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    den = math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))
    return num / den if den else 0.0


def best_lag(reference, got, max_lag):
    """(correlation, lag) of `got` against `reference` at the lag (in windows,
    positive: `got` late) that correlates best, over the windows both cover;
    lags leaving fewer than 3/4 of the reference's windows are not tried."""
    best = (-1.0, 0)
    need = max(3, len(reference) * 3 // 4)
    for lag in range(-max_lag, max_lag + 1):
        pairs = [(reference[i], got[i + lag]) for i in range(len(reference))
                 if 0 <= i + lag < len(got)]
        if len(pairs) < need:
            continue
        c = _correlation([p[0] for p in pairs], [p[1] for p in pairs])
        if c > best[0]:
            best = (c, lag)
    return best


def assert_same_speech(reference, got, who, threshold=MATCH_THRESHOLD, max_lag_s=MAX_LAG_S):
    """`got` (8000 Hz PCM) carries the speech of `reference`: not silence,
    at least 3/4 of its length, and energy envelopes that correlate above
    `threshold` at the best lag within +-max_lag_s. Returns (correlation, lag s)."""
    ref_env, got_env = envelope(reference), envelope(got)
    loud = sum(1 for v in got_env if v > SPEECH_RMS)
    check(loud >= sum(1 for v in ref_env if v > SPEECH_RMS) // 2,
          f"{who}: only {loud} of {len(got_env)} windows of {ENVELOPE_WINDOW_MS} ms carry "
          f"sound above RMS {SPEECH_RMS} (peak RMS {max(got_env, default=0):.0f}): "
          "silence or noise, not the speech sent")
    check(len(got_env) >= len(ref_env) * 3 // 4,
          f"{who}: {len(got) / RATE:.2f} s of audio arrived for {len(reference) / RATE:.2f} s sent")
    windows = int(max_lag_s * 1000 / ENVELOPE_WINDOW_MS)
    corr, lag = best_lag(ref_env, got_env, windows)
    lag_s = lag * ENVELOPE_WINDOW_MS / 1000
    check(corr >= threshold,
          f"{who}: the energy envelope of what arrived does not match the speech sent "
          f"(best normalized correlation {corr:.2f} at lag {lag_s:+.1f} s, "
          f"threshold {threshold})")
    return corr, lag_s
