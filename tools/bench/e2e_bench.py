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

    tools/bench/e2e_bench.py [--build build] [--backend kernel|dpdk|all]
                             [--calls 50] [--seconds 2]

kernel: on loopback (127.0.1.x / 127.0.2.x, as the e2e tests). dpdk: in
network namespaces over veth pairs and net_af_packet, as
tests/e2e/test_dpdk.py (root). Prints a table; every run is bounded.
"""

import argparse
import json
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


def search(run_at, start=5000, limit=2_000_000):
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
            r = blast(args.build, targets, rate, args.seconds, f"{pbx_peer}:{SOURCE_PORT}", sink,
                      ns_pbx, ns_carrier)
            print(f"  {backend}: {rate:>8} pkt/s offered, {r['loss'] * 100:.3f}% lost, "
                  f"p50 {r['p50_us']:.0f} us, p99 {r['p99_us']:.0f} us", file=sys.stderr)
            return r

        best = search(through_sbc)
        at_half = through_sbc(max(best // 2, 1000))
        # The same generator and sink without the SBC: the baseline latency.
        direct_sink = f"{carrier_peer}:{SINK_PORT + 10}"
        direct = blast(args.build, [direct_sink] * len(targets), max(best // 2, 1000),
                       args.seconds, f"{carrier_peer}:{SINK_PORT + 12}", direct_sink, ns_carrier,
                       ns_carrier)
        ports = json.loads(json.dumps(sbcd.control.ctl("stats")[1]["media"].get("ports", [])))
        return {"backend": backend, "calls": args.calls, "max_pps": best,
                "p50_us": at_half["p50_us"], "p99_us": at_half["p99_us"],
                "direct_p50_us": direct["p50_us"], "direct_p99_us": direct["p99_us"],
                "ports": ports}
    finally:
        t.close(True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--backend", default="all", choices=["kernel", "dpdk", "all"])
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    backends = ["kernel", "dpdk"] if args.backend == "all" else [args.backend]
    results = []
    for b in backends:
        try:
            results.append(bench_backend(args, b))
        except harness.TestFailure as e:
            print(f"{b}: {e}", file=sys.stderr)
    print(f"e2e_bench: {args.calls} calls, one worker, RTP 172 octets, loss < {MAX_LOSS:.1%}")
    print(f"{'backend':<8} {'max pkt/s':>10} {'p50 us':>8} {'p99 us':>8} "
          f"{'direct p50':>11} {'direct p99':>11}")
    for r in results:
        print(f"{r['backend']:<8} {r['max_pps']:>10} {r['p50_us']:>8.0f} {r['p99_us']:>8.0f} "
              f"{r['direct_p50_us']:>11.0f} {r['direct_p99_us']:>11.0f}")
    return 0 if len(results) == len(backends) else 1


if __name__ == "__main__":
    sys.exit(main())
