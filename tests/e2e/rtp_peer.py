#!/usr/bin/python3
"""An RTP end point that measures gaps in the media it receives (issue 22).

A failover is judged by what the phones hear: how long the media stopped at
each end. This program stands in for one phone: it sends a G.711 A-law RTP
packet every 20 ms (on an absolute schedule, so a late wake-up does not
shift every later packet) from the socket it receives on (the SBC latches
to that source), records the arrival time of every packet that comes back,
and when its time is up writes a JSON report: packets sent and received,
the longest gap between two arrivals and when it began, every gap above a
threshold, and the silence from the last arrival to the end (media that
never came back shows there, not as a gap).

    rtp_peer.py --bind IP:PORT --to IP:PORT --seconds S --report FILE
    rtp_peer.py --bind IP:PORT --echo --seconds S --report FILE
    rtp_peer.py --bind IP:PORT --sniff --seconds S --report FILE

`--to` sends to a fixed address (a peer behind the SBC's media port);
`--echo` sends nothing of its own and returns every packet to its source (a
stand-in for a media relay, to measure the network's share of a failover);
with `--echo-seq-from N` it renumbers what it returns N, N+1, ... (modulo
2^16), so a test can make the stream it echoes wrap when it likes (an SRTP
rollover, RFC 3711 3.3.1, downstream of the SBC).
`--to` may be given later: without it and without --echo, the peer sends to
the source of the first packet it receives. `--sniff` sends nothing and
binds nothing: it watches, on a packet socket, the RTP that arrives for
IP:PORT (PORT 0: any port of IP), to measure the gaps a peer that owns
its socket sees (baresip, whose SRTP it cannot decrypt; the headers are
clear, RFC 3711 3.1). Run it in a network namespace
with `ip netns exec`; it stops by itself after --seconds, or on SIGTERM,
writing its report either way. Standard library only.
"""

import argparse
import json
import os
import select
import signal
import socket
import struct
import sys
import time

PTIME = 0.020
PAYLOAD_TYPE = 8  # PCMA/8000, the e2e scenarios' codec
SAMPLES_PER_PACKET = 160
SILENCE = b"\xd5" * SAMPLES_PER_PACKET  # A-law silence


def address(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected IP:PORT, got {text!r}")
    return host, int(port)


class Report:
    """Arrival times, reduced to the figures a test asserts on and prints."""

    def __init__(self, gap_threshold):
        self.gap_threshold = gap_threshold
        self.started = time.monotonic()
        self.sent = 0
        self.received = 0
        self.first = None
        self.last = None
        self.longest = (0.0, None)  # (gap s, arrival before it, s since start)
        self.gaps = []  # (start s since start, length s) above the threshold
        self.sources = set()

    def arrival(self, now, source):
        self.received += 1
        self.sources.add(f"{source[0]}:{source[1]}")
        if self.last is not None:
            gap = now - self.last
            if gap > self.longest[0]:
                self.longest = (gap, self.last - self.started)
            if gap > self.gap_threshold:
                self.gaps.append((self.last - self.started, gap))
        else:
            self.first = now
        self.last = now

    def as_json(self, stopped):
        def ms(seconds):
            return None if seconds is None else round(seconds * 1000.0, 1)

        return {
            "sent": self.sent,
            "received": self.received,
            "seconds": round(stopped - self.started, 3),
            "first_arrival_s": None if self.first is None else round(self.first - self.started, 3),
            "longest_gap_ms": ms(self.longest[0]),
            "longest_gap_at_s": None if self.longest[1] is None else round(self.longest[1], 3),
            "gaps_over_threshold": [{"at_s": round(at, 3), "ms": ms(length)}
                                    for at, length in self.gaps],
            "gap_threshold_ms": ms(self.gap_threshold),
            "silence_at_end_ms": ms(None if self.last is None else stopped - self.last),
            "sources": sorted(self.sources),
        }


def rtp_packet(seq, ssrc):
    header = struct.pack("!BBHII", 0x80, PAYLOAD_TYPE, seq & 0xFFFF,
                         (seq * SAMPLES_PER_PACKET) & 0xFFFFFFFF, ssrc)
    return header + SILENCE


ETH_P_IP = 0x0800


def rtp_of_ip_packet(packet, want_ip, want_port):
    """(payload, (source ip, port)) of an IPv4 UDP datagram to want_ip:want_port
    (0: any port) that looks like RTP, else None."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != socket.IPPROTO_UDP:
        return None
    header = (packet[0] & 0x0F) * 4
    if socket.inet_ntoa(packet[16:20]) != want_ip or len(packet) < header + 8:
        return None
    sport, dport = struct.unpack("!HH", packet[header:header + 4])
    if want_port and dport != want_port:
        return None
    data = packet[header + 8:]
    # RFC 5761 4: payload types 72-76 (with the marker bit) are RTCP's 200-204.
    if len(data) < 12 or data[0] >> 6 != 2 or 72 <= (data[1] & 0x7F) <= 76:
        return None
    return data, (socket.inet_ntoa(packet[12:16]), sport)


def sniff(args):
    """--sniff: arrivals only, from a packet socket of the namespace."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    report = Report(args.gap_threshold_ms / 1000.0)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    end = report.started + args.seconds
    if args.ready:
        with open(args.ready, "w") as f:
            f.write(f"{os.getpid()}\n")
    while not stop and time.monotonic() < end:
        if not select.select([sock], [], [], max(0.0, min(end - time.monotonic(), 0.05)))[0]:
            continue
        packet, meta = sock.recvfrom(65535)
        if meta[2] == socket.PACKET_OUTGOING:
            continue
        rtp = rtp_of_ip_packet(packet, *args.bind)
        if rtp:
            report.arrival(time.monotonic(), rtp[1])
    write_report(args.report, report.as_json(time.monotonic()))
    return 0


def write_report(path, result):
    with open(path + ".tmp", "w") as f:
        json.dump(result, f)
    os.replace(path + ".tmp", path)


def run(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(args.bind)
    sock.setblocking(False)
    report = Report(args.gap_threshold_ms / 1000.0)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    ssrc = int.from_bytes(os.urandom(4), "big")
    target = args.to
    end = report.started + args.seconds
    next_send = report.started
    seq = 0
    echo_seq = args.echo_seq_from
    # Tells the test the socket is bound (it waits for this file).
    if args.ready:
        with open(args.ready, "w") as f:
            f.write(f"{os.getpid()}\n")
    while not stop:
        now = time.monotonic()
        if now >= end:
            break
        if not args.echo and target and now >= next_send:
            try:
                sock.sendto(rtp_packet(seq, ssrc), target)
                report.sent += 1
            except OSError:
                pass  # unreachable for now (the address is moving): the gap shows it
            seq += 1
            # Catch up without a burst: a peer that woke late skips slots.
            next_send += PTIME * max(1, int((now - next_send) / PTIME) + 1)
        wake = min(end, next_send) if (target and not args.echo) else end
        timeout = max(0.0, min(wake - time.monotonic(), 0.05))
        if not select.select([sock], [], [], timeout)[0]:
            continue
        while True:
            try:
                data, source = sock.recvfrom(2048)
            except BlockingIOError:
                break
            if len(data) < 12 or data[0] >> 6 != 2:
                continue  # not RTP
            report.arrival(time.monotonic(), source)
            if args.echo:
                if echo_seq is not None:
                    data = data[:2] + struct.pack("!H", echo_seq & 0xFFFF) + data[4:]
                    echo_seq += 1
                try:
                    sock.sendto(data, source)
                    report.sent += 1
                except OSError:
                    pass
            elif target is None:
                target = source
    write_report(args.report, report.as_json(time.monotonic()))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bind", type=address, required=True, help="local IP:PORT")
    ap.add_argument("--to", type=address, help="send to IP:PORT (default: the first sender)")
    ap.add_argument("--echo", action="store_true", help="return every packet to its source")
    ap.add_argument("--echo-seq-from", type=int, metavar="N",
                    help="with --echo: renumber the returned packets from N on")
    ap.add_argument("--sniff", action="store_true",
                    help="only watch the RTP arriving for IP:PORT (PORT 0: any); needs root")
    ap.add_argument("--seconds", type=float, required=True, help="run this long, then report")
    ap.add_argument("--gap-threshold-ms", type=float, default=60.0,
                    help="list every gap longer than this (default 60 ms: two lost packets)")
    ap.add_argument("--report", required=True, help="write the JSON report here")
    ap.add_argument("--ready", help="write this file once the socket is bound")
    args = ap.parse_args()
    if args.echo and args.to:
        ap.error("--echo and --to exclude each other")
    if args.echo_seq_from is not None and not (args.echo and 0 <= args.echo_seq_from <= 0xFFFF):
        ap.error("--echo-seq-from needs --echo and a sequence number (0-65535)")
    if args.sniff and (args.echo or args.to):
        ap.error("--sniff excludes --echo and --to")
    if not args.sniff and args.bind[1] == 0:
        ap.error("--bind needs a port, unless with --sniff")
    if not 0 < args.seconds <= 600:
        ap.error("--seconds must be in (0, 600]")
    return sniff(args) if args.sniff else run(args)


if __name__ == "__main__":
    sys.exit(main())
