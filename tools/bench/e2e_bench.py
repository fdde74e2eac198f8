#!/usr/bin/python3
"""e2e_bench: RTP through a running sbcd, for each media backend.

For a backend it starts sbcd, sets up N calls with sipp (the pbx side calls
the carrier side; both peers' SDP name fixed media ports), reads each call's
SBC media ports from `sbcctl stats`, and drives tools/bench/rtp_blast: RTP
from the pbx peer to the SBC, relayed to the carrier peer's sink. It raises
the total packet rate until more than 0.1% is lost, narrows the highest
rate that loses less, and measures the latency at half of it, next to the
same generator and sink talking directly (the path without the SBC). One
worker (kernel: media.workers 1; dpdk: one lcore).

    tools/bench/e2e_bench.py [--build build]
                             [--backend kernel|dpdk|dpdk-memif|rtpengine|all]
                             [--calls 50] [--seconds 2]

kernel: on loopback (127.0.1.x / 127.0.2.x, as the e2e tests). dpdk: in
network namespaces over veth pairs and net_af_packet, as
tests/e2e/test_dpdk.py (root); af_packet makes it a kernel path on both
ends. dpdk-memif: the media path without a kernel (root): sbcd's two DPDK
ports are net_memif servers, and tools/bench/memif_blast, a DPDK program,
is the generator and sink on their client ends; the peer addresses live on
the host's lo (/32, for the run) so that SIP from sipp reaches sbcd's TAP
addresses by local delivery, and static neighbour entries on the TAPs give
sbcd's workers memif_blast's MACs (the kernel never resolves an address it
holds itself). Its direct baseline is memif_blast alone, generator to sink
through one memif. rtpengine: Debian's rtpengine-daemon as the
yardstick, its userspace relay (no kernel forwarding table) with one
thread, calls set up over its ng control protocol, the same generator and
sink on loopback. Prints a table; every run is bounded.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

import harness  # noqa: E402
import test_dpdk  # noqa: E402
from harness import SCENARIOS, TestContext, check, wait_until  # noqa: E402

SINK_PORT = 40000
SOURCE_PORT = 40002
MAX_LOSS = 0.001
# memif_blast's fixed port MACs (tools/bench/memif_blast.cpp).
MEMIF_GEN_MAC = "02:00:5b:00:00:01"
MEMIF_SINK_MAC = "02:00:5b:00:00:02"


def scenarios(workdir):
    uas = (SCENARIOS / "uas_answer.xml").read_text()
    uas = uas.replace("m=audio [media_port]", f"m=audio {SINK_PORT}")
    uas = uas.replace('timeout="25000"', 'timeout="600000"')
    uac = (SCENARIOS / "uac_call.xml").read_text()
    uac = uac.replace("m=audio [media_port]", f"m=audio {SOURCE_PORT}")
    (Path(workdir) / "uas_bench.xml").write_text(uas)
    (Path(workdir) / "uac_bench.xml").write_text(uac)
    return Path(workdir) / "uac_bench.xml", Path(workdir) / "uas_bench.xml"


def blast(build, targets, rate, seconds, from_ip, sink, send_ns=None, recv_ns=None):
    argv = [str(Path(build) / "tools" / "bench" / "rtp_blast"), "--from", from_ip, "--sink", sink,
            "--rate", str(int(rate)), "--seconds", str(seconds)]
    for t in targets:
        argv += ["--target", t]
    if send_ns:
        argv += ["--send-netns", send_ns]
    if recv_ns:
        argv += ["--recv-netns", recv_ns]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    check(r.returncode == 0, f"rtp_blast failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


def memif_blast(build, sockets, targets, rate, seconds, from_ip, sink, direct=False):
    """memif_blast's figures; `sockets` are the generator's and the sink's
    memif sockets (one, with direct)."""
    argv = [str(Path(build) / "tools" / "bench" / "memif_blast"), "--gen-socket", sockets[0],
            "--from", from_ip, "--sink", sink, "--rate", str(int(rate)), "--seconds", str(seconds)]
    argv += ["--direct"] if direct else ["--sink-socket", sockets[1]]
    for t in targets:
        argv += ["--target", t]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    check(r.returncode == 0, f"memif_blast failed: {r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def search(run_at, start=5000, limit=4_000_000):
    """The highest rate (packets/s) with loss under MAX_LOSS: doubling, then
    bisecting between the last good and the first bad rate."""
    good, bad = 0, None
    rate = start
    while rate <= limit:
        if run_at(rate)["loss"] < MAX_LOSS:
            good = rate
            rate *= 2
        else:
            bad = rate
            break
    if bad is None:
        return good
    for _ in range(4):
        mid = (good + bad) // 2
        if run_at(mid)["loss"] < MAX_LOSS:
            good = mid
        else:
            bad = mid
    return good


def calls_ready(sbcd, calls):
    rc, data, _ = sbcd.control.ctl("stats")
    if rc != 0 or not isinstance(data, dict):
        return None
    got = [c for c in data.get("calls", []) if c.get("state") == "established"]
    return got if len(got) >= calls else None


run = test_dpdk.run


def memif_missing_prerequisite():
    if os.geteuid() != 0:
        return "needs root (DPDK, addresses on lo)"
    if shutil.which("ip") is None:
        return "needs ip (iproute2)"
    routes = run("ip", "route", "show", "table", "all").stdout
    for prefix in ("203.0.113.", "198.51.100."):
        if prefix in routes:
            return f"the host routes {prefix}0/24 already (a leftover test?)"
    return None


def memif_config(t):
    """test_dpdk's configuration with the two ports on memif servers whose
    sockets are in the run's directory."""
    text = test_dpdk.dpdk_config(t.socket_path())
    sockets = {}
    for i, (ns, side) in enumerate(((test_dpdk.CARRIER_NS, "carrier"), (test_dpdk.PBX_NS, "pbx"))):
        old = f"net_af_packet{i},iface={test_dpdk.LINKS[ns][0]}"
        check(old in text, f"test_dpdk.dpdk_config() no longer names {old}")
        sockets[side] = str(Path(t.workdir) / f"memif-{side}.sock")
        text = text.replace(old, f"net_memif{i},role=server,id=0,socket-abstract=no,rsize=12,"
                                 f"socket={sockets[side]}")
    return t.config_path(text), sockets


def start_memif(t):
    """sbcd on memif ports, the peers' addresses on lo and static neighbour
    entries; everything added is removed when `t` closes."""
    why = memif_missing_prerequisite()
    check(why is None, f"dpdk-memif: {why}")
    peers = (test_dpdk.CARRIER_PEER, test_dpdk.PBX_PEER)

    def remove_peers():
        for ip in peers:
            run("ip", "addr", "del", f"{ip}/32", "dev", "lo", check_rc=False)

    t.on_close(remove_peers)
    for ip in peers:
        run("ip", "addr", "add", f"{ip}/32", "dev", "lo")
    config, sockets = memif_config(t)
    sbcd = t.start_sbcd(config, sip_addresses=(test_dpdk.CARRIER_SBC, test_dpdk.PBX_SBC),
                        ready_timeout=30.0)
    # The TAPs (and these entries with them) go when sbcd does.
    run("ip", "neigh", "replace", test_dpdk.CARRIER_PEER, "lladdr", MEMIF_SINK_MAC, "dev",
        "sbc-carrier", "nud", "permanent")
    run("ip", "neigh", "replace", test_dpdk.PBX_PEER, "lladdr", MEMIF_GEN_MAC, "dev", "sbc-pbx",
        "nud", "permanent")
    return sbcd, sockets


def bench_backend(args, backend):
    t = TestContext(f"bench-{backend}", Path(args.build) / "sbc" / "sbcd",
                    Path(args.build) / "tools" / "sbcctl" / "sbcctl", keep=False)
    try:
        uac_xml, uas_xml = scenarios(t.workdir)
        if backend == "kernel":
            sbcd = t.start_sbcd()
            carrier_peer, pbx_peer = harness.CARRIER_PEER, harness.PBX_PEER
            ns_carrier = ns_pbx = None
            pbx_sbc = harness.PBX_SBC
        elif backend == "dpdk-memif":
            sbcd, sockets = start_memif(t)
            carrier_peer, pbx_peer = test_dpdk.CARRIER_PEER, test_dpdk.PBX_PEER
            ns_carrier = ns_pbx = None
            pbx_sbc = test_dpdk.PBX_SBC
        else:
            why = test_dpdk.missing_prerequisite()
            check(why is None, f"dpdk: {why}")
            test_dpdk.setup_network()
            t.on_close(test_dpdk.teardown_network)
            config = t.config_path(test_dpdk.dpdk_config(t.socket_path()))
            sbcd = t.start_sbcd(config, sip_addresses=(test_dpdk.CARRIER_SBC, test_dpdk.PBX_SBC),
                                ready_timeout=30.0)
            carrier_peer, pbx_peer = test_dpdk.CARRIER_PEER, test_dpdk.PBX_PEER
            ns_carrier, ns_pbx = test_dpdk.CARRIER_NS, test_dpdk.PBX_NS
            pbx_sbc = test_dpdk.PBX_SBC
        hold_ms = 600_000
        uas = harness.Sipp(t, "carrier", uas_xml, carrier_peer, calls=args.calls,
                           timeout_s=900, netns=ns_carrier)
        t._processes.append(uas)
        time.sleep(1.0)
        uac = harness.Sipp(t, "pbx", uac_xml, pbx_peer, remote=f"{pbx_sbc}:5060",
                           calls=args.calls, rate=50, duration_ms=hold_ms, timeout_s=900,
                           netns=ns_pbx)
        t._processes.append(uac)
        established = wait_until(lambda: calls_ready(sbcd, args.calls), 30.0, 0.5)
        check(established, f"the {args.calls} calls did not come up")
        # Side a is the pbx leg (the caller's): the generator sends to its port.
        targets = [c["legs"]["a"]["local"] for c in established]
        sink = f"{carrier_peer}:{SINK_PORT}"

        def through_sbc(rate):
            if backend == "dpdk-memif":
                r = memif_blast(args.build, (sockets["pbx"], sockets["carrier"]), targets, rate,
                                args.seconds, f"{pbx_peer}:{SOURCE_PORT}", sink)
            else:
                r = blast(args.build, targets, rate, args.seconds, f"{pbx_peer}:{SOURCE_PORT}",
                          sink, ns_pbx, ns_carrier)
            full = f" ({r['ring_full']} refused by the memif ring)" if "ring_full" in r else ""
            print(f"  {backend}: {rate:>8} pkt/s offered, {r['loss'] * 100:.3f}% lost{full}, "
                  f"p50 {r['p50_us']:.1f} us, p99 {r['p99_us']:.1f} us", file=sys.stderr)
            return r

        best = search(through_sbc)
        at_half = through_sbc(max(best // 2, 1000))
        # The same generator and sink without the SBC: the baseline latency.
        direct_sink = f"{carrier_peer}:{SINK_PORT + 10}"
        if backend == "dpdk-memif":
            direct = memif_blast(args.build, (str(Path(t.workdir) / "memif-direct.sock"),),
                                 [direct_sink] * len(targets), max(best // 2, 1000), args.seconds,
                                 f"{carrier_peer}:{SINK_PORT + 12}", direct_sink, direct=True)
        else:
            direct = blast(args.build, [direct_sink] * len(targets), max(best // 2, 1000),
                           args.seconds, f"{carrier_peer}:{SINK_PORT + 12}", direct_sink,
                           ns_carrier, ns_carrier)
        ports = json.loads(json.dumps(sbcd.control.ctl("stats")[1]["media"].get("ports", [])))
        return {"backend": backend, "calls": args.calls, "max_pps": best,
                "p50_us": at_half["p50_us"], "p99_us": at_half["p99_us"],
                "direct_p50_us": direct["p50_us"], "direct_p99_us": direct["p99_us"],
                "ports": ports}
    finally:
        t.close(True)


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"


def bdecode(data, i=0):
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c in (b"l", b"d"):
        i += 1
        items = []
        while data[i:i + 1] != b"e":
            item, i = bdecode(data, i)
            items.append(item)
        if c == b"l":
            return items, i + 1
        return {items[k].decode(): items[k + 1] for k in range(0, len(items), 2)}, i + 1
    colon = data.index(b":", i)
    n = int(data[i:colon])
    return data[colon + 1:colon + 1 + n], colon + 1 + n


def ng(sock, address, command):
    cookie = b"%d" % time.monotonic_ns()
    sock.sendto(cookie + b" " + bencode(command), address)
    reply, _ = sock.recvfrom(65536)
    answer, _ = bdecode(reply, len(cookie) + 1)
    check(answer.get("result") == b"ok", f"rtpengine {command['command']}: {answer}")
    return answer["sdp"].decode()


def sdp_port(sdp):
    return int(next(line for line in sdp.splitlines() if line.startswith("m=audio")).split()[1])


def bench_rtpengine(args):
    binary = shutil.which("rtpengine")
    check(binary is not None, "rtpengine: not installed (apt-get install rtpengine-daemon)")
    t = TestContext("bench-rtpengine", Path(args.build) / "sbc" / "sbcd",
                    Path(args.build) / "tools" / "sbcctl" / "sbcctl", keep=False)
    try:
        address = "127.0.3.1"
        control = (address, 22222)
        t.start("rtpengine", [binary, "--foreground", "--log-stderr", f"--interface={address}",
                              f"--listen-ng={address}:{control[1]}", "--table=-1",
                              "--port-min=30000", "--port-max=31999", "--num-threads=1",
                              "--delete-delay=0", "--timeout=600"])
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(2.0)
        caller, callee = harness.PBX_PEER, harness.CARRIER_PEER
        sdp = ("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
               "m=audio {port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n")
        targets = []
        for i in range(args.calls):
            ok = False
            for _ in range(50):  # until rtpengine listens
                try:
                    ng(sock, control, {"command": "offer", "call-id": f"bench{i}",
                                       "from-tag": "caller",
                                       "sdp": sdp.format(ip=caller, port=SOURCE_PORT)})
                    ok = True
                    break
                except (socket.timeout, ConnectionRefusedError):
                    time.sleep(0.1)
            check(ok, "rtpengine did not answer on its ng port")
            answer = ng(sock, control, {"command": "answer", "call-id": f"bench{i}",
                                        "from-tag": "caller", "to-tag": "callee",
                                        "sdp": sdp.format(ip=callee, port=SINK_PORT)})
            targets.append(f"{address}:{sdp_port(answer)}")
        sink = f"{callee}:{SINK_PORT}"

        def through(rate):
            r = blast(args.build, targets, rate, args.seconds, f"{caller}:{SOURCE_PORT}", sink)
            print(f"  rtpengine: {rate:>8} pkt/s offered, {r['loss'] * 100:.3f}% lost, "
                  f"p50 {r['p50_us']:.1f} us, p99 {r['p99_us']:.1f} us", file=sys.stderr)
            return r

        best = search(through)
        at_half = through(max(best // 2, 1000))
        direct_sink = f"{callee}:{SINK_PORT + 10}"
        direct = blast(args.build, [direct_sink] * len(targets), max(best // 2, 1000),
                       args.seconds, f"{callee}:{SINK_PORT + 12}", direct_sink)
        return {"backend": "rtpengine", "calls": args.calls, "max_pps": best,
                "p50_us": at_half["p50_us"], "p99_us": at_half["p99_us"],
                "direct_p50_us": direct["p50_us"], "direct_p99_us": direct["p99_us"]}
    finally:
        t.close(True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--backend", default="all",
                    choices=["kernel", "dpdk", "dpdk-memif", "rtpengine", "all"])
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    backends = (["kernel", "dpdk", "dpdk-memif", "rtpengine"] if args.backend == "all"
                else [args.backend])
    results = []
    for b in backends:
        try:
            results.append(bench_rtpengine(args) if b == "rtpengine" else bench_backend(args, b))
        except harness.TestFailure as e:
            print(f"{b}: {e}", file=sys.stderr)
    print(f"e2e_bench: {args.calls} calls, one worker, RTP 172 octets, loss < {MAX_LOSS:.1%}")
    print(f"{'backend':<10} {'max pkt/s':>10} {'p50 us':>8} {'p99 us':>8} "
          f"{'direct p50':>11} {'direct p99':>11}")

    def us(v, width):
        return f"{'-':>{width}}" if v is None else f"{v:>{width}.1f}"

    for r in results:
        print(f"{r['backend']:<10} {r['max_pps']:>10} {us(r['p50_us'], 8)} {us(r['p99_us'], 8)} "
              f"{us(r.get('direct_p50_us'), 11)} {us(r.get('direct_p99_us'), 11)}")
    return 0 if len(results) == len(backends) else 1


if __name__ == "__main__":
    sys.exit(main())
