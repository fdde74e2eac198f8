#!/usr/bin/python3
"""Runs the end-to-end tests (test_sbc.py, test_tls.py, test_failover.py,
test_srtp.py, test_transcoding.py, test_dtmf.py, test_dpdk.py,
test_media_security.py, test_payload_types.py) one after the other.

    tests/e2e/run_e2e.py [--build DIR] [-k SUBSTRING]... [--keep] [--list]
    tests/e2e/run_e2e.py --selftest

Prints "PASS name" or "FAIL name: reason" per test and "N passed, M failed"
last; exits 0 iff nothing failed. The tests bind the fixed addresses of the
default configuration (127.0.1.x, 127.0.2.x port 5060), so they run one at a
time. --selftest plays each caller scenario directly against its callee
scenario (no sbcd) to check the sipp XML itself.
"""

import argparse
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from harness import PBX_PEER, SIP_PORT, TestContext, TestFailure, check  # noqa: E402

DEFAULT_BUILD = harness.REPO / "build"


def binaries(build_dir):
    build_dir = Path(build_dir).resolve()
    return build_dir / "sbc" / "sbcd", build_dir / "tools" / "sbcctl" / "sbcctl"


def run_one(fn, sbcd_bin, sbcctl_bin, keep=False):
    """Runs one test function; returns (passed, reason)."""
    name = fn.__name__
    ctx = TestContext(name, sbcd_bin, sbcctl_bin, keep=keep)
    passed = False
    reason = ""
    try:
        fn(ctx)
        ctx.finish()
        passed = True
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

    import test_dpdk
    import test_dtmf
    import test_failover
    import test_policy
    import test_auth
    import test_dialog
    import test_media_security
    import test_payload_types
    import test_srtp
    import test_tls
    import test_transcoding

    tests = (list(test_sbc.TESTS) + list(test_tls.TESTS) + list(test_failover.TESTS) +
             list(test_srtp.TESTS) + list(test_transcoding.TESTS) + list(test_dtmf.TESTS) +
             list(test_policy.TESTS) + list(test_auth.TESTS) + list(test_dialog.TESTS) +
             list(test_dpdk.TESTS) + list(test_media_security.TESTS) +
             list(test_payload_types.TESTS))
    trunking = Path(__file__).resolve().parent / "test_trunking.py"
    if trunking.is_file():
        import test_trunking

        tests += test_trunking.TESTS
    return tests


def run_tests(build_dir=DEFAULT_BUILD, patterns=(), keep=False, report=None):
    """Runs the selected tests; calls report(name, passed, reason) after each and
    returns the list of (name, passed, reason)."""
    sbcd_bin, sbcctl_bin = binaries(build_dir)
    results = []
    for fn in all_tests():
        name = fn.__name__
        if patterns and not any(p in name for p in patterns):
            continue
        if not sbcd_bin.is_file() or not sbcctl_bin.is_file():
            missing = sbcd_bin if not sbcd_bin.is_file() else sbcctl_bin
            passed, reason = False, f"{missing} is not built"
        else:
            passed, reason = run_one(fn, sbcd_bin, sbcctl_bin, keep)
        results.append((name, passed, reason))
        if report:
            report(name, passed, reason)
    return results


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
        uac = ctx.uac("uac", uac_sf, remote=f"{PBX_PEER}:{SIP_PORT}", calls=calls,
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
            print(f"PASS {name}", flush=True)
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
        run_tests(args.build, args.k, args.keep, report)
    sys.stdout.flush()
    print(f"e2e time: {time.monotonic() - start:.1f} s", file=sys.stderr, flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
