#!/usr/bin/python3
"""Runs the end-to-end tests (test_sbc.py, test_tls.py, test_failover.py, test_dns_peers.py,
test_srtp.py, test_rtcp_mux.py, test_ice_lite.py, test_transcoding.py, test_dtmf.py, test_dpdk.py,
test_media_security.py, test_payload_types.py, test_policy.py, test_auth.py,
test_dialog.py, test_ringback.py, test_hold.py, test_cloud_profiles.py,
test_ms_transfer.py, test_cluster.py, test_cluster_calls.py, test_cluster_limits.py,
test_drain.py), several at once.

    tests/e2e/run_e2e.py [--build DIR] [-j N] [-k SUBSTRING]... [--keep] [--list]
                         [--times]
    tests/e2e/run_e2e.py --selftest

Prints "PASS name" or "FAIL name: reason" per test, in the order they end
("SKIP name: reason" for one that cannot run here, counted as passed), and
"N passed, M failed" last; exits 0 iff nothing failed. Each test runs in
a slot of its own (harness.Net: its own loopback blocks and control socket),
so -j N runs N tests at a time, each in a worker process (the media tests'
analysis is Python and would contend for one interpreter lock in threads).
Tests marked `serial` (fixed names or addresses outside any slot, or packet
timing that others' load would disturb) run afterwards, one at a time.
--times prints each test's wall time to stderr. --selftest plays each caller
scenario directly against its callee scenario (no sbcd) to check the sipp XML
itself.
"""

import argparse
import concurrent.futures
import multiprocessing
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from harness import SIP_PORT, TestContext, TestFailure, TestSkipped, check  # noqa: E402

DEFAULT_BUILD = harness.REPO / "build"


def binaries(build_dir):
    build_dir = Path(build_dir).resolve()
    return build_dir / "sbc" / "sbcd", build_dir / "tools" / "sbcctl" / "sbcctl"


def run_one(fn, sbcd_bin, sbcctl_bin, keep=False, slot=0):
    """Runs one test function in `slot`; returns (passed, reason). A test that
    skips (harness.skip) passes with the reason "skipped: why"."""
    name = fn.__name__
    ctx = TestContext(name, sbcd_bin, sbcctl_bin, keep=keep, slot=slot)
    passed = False
    reason = ""
    try:
        fn(ctx)
        ctx.finish()
        passed = True
    except TestSkipped as e:  # cannot run here: passed, with the reason shown
        passed = True
        reason = f"skipped: {e}"
    except TestFailure as e:
        reason = str(e)
    except Exception as e:  # a bug in the test itself is a failure too, not a crash
        frame = traceback.extract_tb(e.__traceback__)[-1]
        reason = f"{type(e).__name__}: {e} (at {Path(frame.filename).name}:{frame.lineno})"
    finally:
        ctx.close(passed)
    if not passed:
        reason = " ".join(reason.split()) + f" [logs: {ctx.workdir}]"
    return passed, reason


def all_tests():
    import test_sbc

    import test_dns_peers
    import test_drain
    import test_dpdk
    import test_dtmf
    import test_failover
    import test_ice_lite
    import test_policy
    import test_auth
    import test_capture
    import test_cloud_profiles
    import test_cluster
    import test_cluster_calls
    import test_cluster_limits
    import test_cluster_registrations
    import test_cluster_upgrade
    import test_dialog
    import test_hold
    import test_media_security
    import test_metrics
    import test_ms_transfer
    import test_payload_types
    import test_quality
    import test_ringback
    import test_rtcp_mux
    import test_srtp
    import test_systemd
    import test_tls
    import test_transcoding

    tests = (list(test_sbc.TESTS) + list(test_tls.TESTS) + list(test_failover.TESTS) +
             list(test_srtp.TESTS) + list(test_transcoding.TESTS) + list(test_dtmf.TESTS) +
             list(test_policy.TESTS) + list(test_auth.TESTS) + list(test_dialog.TESTS) +
             list(test_hold.TESTS) +
             list(test_dpdk.TESTS) + list(test_media_security.TESTS) +
             list(test_payload_types.TESTS) + list(test_dns_peers.TESTS) +
             list(test_rtcp_mux.TESTS) + list(test_ringback.TESTS) +
             list(test_cloud_profiles.TESTS) + list(test_ms_transfer.TESTS) +
             list(test_ice_lite.TESTS) + list(test_cluster.TESTS) +
             list(test_cluster_calls.TESTS) + list(test_cluster_limits.TESTS) +
             list(test_cluster_registrations.TESTS) + list(test_cluster_upgrade.TESTS) +
             list(test_drain.TESTS) + list(test_systemd.TESTS) + list(test_metrics.TESTS) +
             list(test_capture.TESTS) + list(test_quality.TESTS))
    trunking = Path(__file__).resolve().parent / "test_trunking.py"
    if trunking.is_file():
        import test_trunking

        tests += test_trunking.TESTS
    return tests


def _run_in_worker(index, sbcd_bin, sbcctl_bin, keep, slot):
    """A pool worker's task: test number `index` of all_tests() in `slot`;
    returns (passed, reason, seconds). The worker imports the tests itself,
    so nothing but numbers and strings crosses the process boundary."""
    start = time.monotonic()
    passed, reason = run_one(all_tests()[index], sbcd_bin, sbcctl_bin, keep, slot)
    return passed, reason, time.monotonic() - start


def run_tests(build_dir=DEFAULT_BUILD, patterns=(), keep=False, report=None, jobs=1,
              times=None, kinds=("parallel", "serial"), sbcctl_build=None):
    """Runs the selected tests, up to `jobs` at a time (then the serial ones
    alone); calls report(name, passed, reason) as each ends and returns the
    list of (name, passed, reason). `times(name, seconds)`, if given, hears
    each test's wall time. `kinds` picks the parallel tests, the serial ones
    or both, for a caller that runs the serial ones later, on a machine that
    is quiet by then. `sbcctl_build`: the build whose sbcctl the tests run
    (default: build_dir's). The tests poll sbcd with sbcctl every half
    second; a sanitized sbcctl costs 80 ms of CPU a run (its start and its
    leak check at exit: 4,300 page faults against 180), most of the
    sanitized suite's CPU time, so tests/run_all.py runs the sanitized sbcd
    with the plain sbcctl (sbcctl's own code is tested under the sanitizers
    by its unit tests)."""
    sbcd_bin, sbcctl_bin = binaries(build_dir)
    if sbcctl_build is not None:
        sbcctl_bin = binaries(sbcctl_build)[1]
    results = []

    def done(name, passed, reason, seconds=None):
        results.append((name, passed, reason))
        if report:
            report(name, passed, reason)
        if times and seconds is not None:
            times(name, seconds)

    tests = all_tests()
    chosen = [i for i, fn in enumerate(tests)
              if not patterns or any(p in fn.__name__ for p in patterns)]
    chosen = [i for i in chosen
              if ("serial" if getattr(tests[i], "serial", False) else "parallel") in kinds]
    if not sbcd_bin.is_file() or not sbcctl_bin.is_file():
        missing = sbcd_bin if not sbcd_bin.is_file() else sbcctl_bin
        for i in chosen:
            done(tests[i].__name__, False, f"{missing} is not built")
        return results
    parallel = [i for i in chosen if not getattr(tests[i], "serial", False)]
    serial = [i for i in chosen if getattr(tests[i], "serial", False)]
    jobs = max(1, min(jobs, len(parallel) or 1))
    if jobs == 1:
        serial = parallel + serial
        parallel = []
    if parallel:
        _run_pool(parallel, tests, jobs, (sbcd_bin, sbcctl_bin, keep), done)
    for i in serial:
        start = time.monotonic()
        passed, reason = run_one(tests[i], sbcd_bin, sbcctl_bin, keep)
        done(tests[i].__name__, passed, reason, time.monotonic() - start)
    return results


def _run_pool(indices, tests, jobs, args, done):
    """Runs tests[i] for i in `indices` on `jobs` worker processes, each task
    in a slot no running task holds."""
    free_slots = list(range(jobs))
    pending = list(indices)
    running = {}  # future -> (test index, slot)
    # fork: the workers inherit the imported tests and sys.path as they are.
    ctx = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        while pending or running:
            while pending and free_slots:
                i, slot = pending.pop(0), free_slots.pop(0)
                running[pool.submit(_run_in_worker, i, *args, slot)] = (i, slot)
            finished, _ = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                i, slot = running.pop(future)
                free_slots.append(slot)
                try:
                    passed, reason, seconds = future.result()
                except Exception as e:  # a worker that died is that test's failure
                    passed, reason, seconds = False, f"worker failed: {type(e).__name__}: {e}", None
                done(tests[i].__name__, passed, reason, seconds)


# --------------------------------------------------------------------------
# Self-test of the scenarios, sipp against sipp.

SELFTEST_PAIRS = [
    # (name, uac scenario, uas scenario, extra uac/uas settings)
    ("call_media", "uac_call_media.xml", "uas_answer_media.xml", {"duration_ms": 2000}),
    ("call", "uac_call.xml", "uas_answer.xml", {"duration_ms": 300}),
    ("bye_from_callee", "uac_recv_bye.xml", "uas_send_bye.xml", {"uas_duration_ms": 300}),
    ("cancel", "uac_cancel.xml", "uas_cancel.xml", {}),
    ("busy", "uac_reject.xml", "uas_486.xml", {}),
    ("hold_resume_caller", "uac_hold_resume.xml", "uas_hold_resume.xml", {}),
    ("hold_resume_callee", "uac_accept_reinvite.xml", "uas_send_reinvite.xml", {}),
    ("hold_inactive", "uac_hold_inactive_resume.xml", "uas_held_inactive.xml",
     {"duration_ms": 300}),
    ("options", "uac_options.xml", "selftest/uas_options.xml", {}),
    ("five_calls", "uac_call.xml", "uas_answer.xml",
     {"duration_ms": 1000, "calls": 5, "rate": 10}),
    # The callees of test_transcoding.py, here playing sipp's own pcap.
    *[(f"answer_{codec}_pcap", "uac_call_media.xml", f"uas_answer_{codec}_pcap.xml",
       {"duration_ms": 1000, "uas_extra": ["-key", "pcap", "/usr/share/sip-tester/g711a.pcap"]})
      for codec in ("pcma", "g729", "opus")],
    # The peers of test_dtmf.py: callees answering telephone-event, playing
    # sipp's own pcap; the INFO senders and receivers against stand-ins.
    *[(f"dtmf_answer_{codec}", "uac_call_pcap_dtmf.xml", f"uas_answer_{codec}_dtmf.xml",
       {"duration_ms": 1000,
        "uac_extra": ["-key", "pcap", "/usr/share/sip-tester/dtmf_2833_1.pcap"],
        "uas_extra": ["-key", "pcap", "/usr/share/sip-tester/dtmf_2833_pound.pcap"]})
      for codec in ("pcma", "g729")],
    # The peers of test_payload_types.py: Opus offered at 111, answered at 107.
    ("opus_renumbered", "uac_call_pcap_opus.xml", "uas_answer_opus_107_pcap.xml",
     {"duration_ms": 1000, "uac_extra": ["-key", "pcap", "/usr/share/sip-tester/g711a.pcap"],
      "uas_extra": ["-key", "pcap", "/usr/share/sip-tester/g711a.pcap"]}),
    # The peers of test_cluster.py, whose SDP names an RTP port of the test's.
    ("call_keyed_media", "uac_call_keyed_media.xml", "uas_answer_keyed_media.xml",
     {"duration_ms": 300, "uac_extra": ["-key", "rtp_port", "40000"],
      "uas_extra": ["-key", "rtp_port", "40002"]}),
    ("dtmf_send_info", "uac_send_info_dtmf.xml", "selftest/uas_recv_info_dtmf.xml",
     {"duration_ms": 300}),
    ("dtmf_recv_info", "uac_recv_info_dtmf.xml", "selftest/uas_send_info_dtmf.xml", {}),
]


def selftest_one(name, uac_sf, uas_sf, opts):
    ctx = TestContext(f"selftest-{name}", "/bin/false", "/bin/false")
    passed = False
    try:
        calls = opts.get("calls", 1)
        uas = ctx.uas("uas", uas_sf, calls=calls, duration_ms=opts.get("uas_duration_ms"),
                      extra=opts.get("uas_extra", ()))
        uac = ctx.uac("uac", uac_sf, remote=f"{ctx.pbx_peer}:{SIP_PORT}", calls=calls,
                      duration_ms=opts.get("duration_ms"), rate=opts.get("rate"),
                      extra=opts.get("uac_extra", ()))
        uac.finish()
        uas.finish()
        check(any(m.direction == "received" for m in uac.messages()), "empty uac trace")
        passed = True
        return True, ""
    except TestFailure as e:
        return False, f"{e} [logs: {ctx.workdir}]"
    finally:
        ctx.close(passed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=str(DEFAULT_BUILD), help="meson build directory")
    ap.add_argument("--sbcctl-build", help="the build whose sbcctl to run (default: --build's)")
    ap.add_argument("-j", "--jobs", type=int, default=1,
                    help="run up to this many tests at once, each in its own slot")
    ap.add_argument("--times", action="store_true", help="print each test's wall time to stderr")
    ap.add_argument("-k", action="append", default=[], help="run tests whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the logs of passing tests too")
    ap.add_argument("--list", action="store_true", help="list the tests and exit")
    ap.add_argument("--selftest", action="store_true",
                    help="check the sipp scenarios against each other, without sbcd")
    args = ap.parse_args()

    if args.list:
        for fn in all_tests():
            print(fn.__name__)
        return 0

    passed = failed = 0
    start = time.monotonic()

    def report(name, ok, reason):
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"SKIP {name}: {reason.removeprefix('skipped: ')}" if reason else f"PASS {name}",
                  flush=True)
        else:
            failed += 1
            print(f"FAIL {name}: {reason}", flush=True)

    if args.selftest:
        for name, uac_sf, uas_sf, opts in SELFTEST_PAIRS:
            if args.k and not any(p in name for p in args.k):
                continue
            ok, reason = selftest_one(name, uac_sf, uas_sf, opts)
            report(f"selftest:{name}", ok, reason)
    else:
        def times(name, seconds):
            print(f"e2e time of {name}: {seconds:.1f} s", file=sys.stderr, flush=True)

        run_tests(args.build, args.k, args.keep, report, jobs=args.jobs,
                  times=times if args.times else None, sbcctl_build=args.sbcctl_build)
    sys.stdout.flush()
    print(f"e2e time: {time.monotonic() - start:.1f} s", file=sys.stderr, flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
