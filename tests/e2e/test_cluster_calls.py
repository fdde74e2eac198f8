"""End-to-end tests of calls that outlive the node they were set up on
(issue 22): a redundant pair (cluster_net.py) whose sbcds replicate their
calls to Redis, sealed, and take their partner's over when keepalived makes
them master (tools/sbc-vrrp-notify -> `sbcctl cluster active`).

Each node is configured `standby: true`: keepalived's notify makes the
master active and keeps the backup silent on the shared addresses.
"""

import signal
import time

import cluster_net
from cluster_net import RTP_PORT, PairNet
from harness import check, skip, wait_until

TESTS = []


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def cluster_pair(t, **up):
    """The pair up with each node's cluster section, a master and active."""
    why = cluster_net.missing_prerequisite()
    if why:
        skip(why)
    pair = PairNet(t)

    def extra(name):
        return pair.cluster_section(name) + ["  standby: true"]

    pair.up(sbcd_extra=extra, **up)
    wait_until(lambda: role(pair, "a") == "active", 5.0, 0.05)
    check(role(pair, "a") == "active" and role(pair, "b") == "standby",
          f"roles after start: a {role(pair, 'a')}, b {role(pair, 'b')}")
    return pair


def cluster_of(pair, name):
    rc, data, raw = pair.sbcctl(name, "cluster")
    check(rc == 0 and isinstance(data, dict), f"sbcctl cluster on {name} failed: {raw}")
    return data


def role(pair, name):
    rc, data, _ = pair.sbcctl(name, "cluster")
    return data.get("role") if rc == 0 and isinstance(data, dict) else None


def wait_replicated(pair, name, calls, timeout=10.0):
    """Until node `name` has `calls` calls and every change written."""
    def done():
        c = cluster_of(pair, name)
        s = c["store"]
        return c["calls"] == calls and s["up"] and s["queue"] == 0 and s["in_flight"] == 0 and \
            s["written"] >= calls
    check(wait_until(done, timeout, 0.05),
          f"node {name} did not write its {calls} call(s) to the store: {cluster_of(pair, name)}")


def wait_taken_over(pair, name, calls, timeout=10.0):
    def done():
        last = cluster_of(pair, name).get("last_take_over") or {}
        return not last.get("in_progress", True) and last.get("restored", 0) + \
            last.get("failed", 0) >= calls
    check(wait_until(done, timeout, 0.05),
          f"node {name} did not take {calls} call(s) over: {cluster_of(pair, name)}")
    last = cluster_of(pair, name)["last_take_over"]
    check(last["restored"] == calls and last["failed"] == 0,
          f"node {name} took over {last['restored']} of {calls} call(s): {last}")
    return last


def describe(peer, report):
    return (f"{peer}: {report['received']} packets, longest gap {report['longest_gap_ms']} ms "
            f"at {report['longest_gap_at_s']} s, silence at the end {report['silence_at_end_ms']} ms")


@e2e_test
def cluster_call_survives_node_loss(t):
    """A call through a with RTP both ways; a dies mid-call (kill -9 of sbcd
    and keepalived, its link down). b becomes master, takes the call over
    from the store, and the peers' media resumes through it: the longest gap
    each peer saw is printed. Then each side holds and resumes by re-INVITE
    and the caller hangs up, all through b; one CDR, b's."""
    pair = cluster_pair(t)
    key = ("-key", "rtp_port", str(RTP_PORT))
    uas = pair.uas("callee", "uas_failover_call.xml", extra=key)
    uac = pair.uac("caller", "uac_failover_call.xml", duration_ms=5000, extra=key)
    seconds = 6.0
    caller_rtp, callee_rtp = pair.call_media("a", seconds)
    wait_replicated(pair, "a", 1)
    time.sleep(1.0)  # media through a for a while, so the gap has media on both sides
    pair.kill_node("a")
    pair.wait_master("b")
    took = wait_taken_over(pair, "b", 1)
    print(f"  b took the call over in {took['took_ms']:.1f} ms after it was made active")
    for peer, rtp in (("caller", caller_rtp), ("callee", callee_rtp)):
        report = rtp.result()
        print(f"  media at the {describe(peer, report)}")
        check(report["silence_at_end_ms"] < 1500,
              f"the {peer}'s media did not resume through b: {report}")
    uac.finish(timeout=30)
    uas.finish(timeout=10)
    cdrs = pair.cdrs("b")
    check(len(cdrs) == 1 and not pair.cdrs("a"),
          f"one CDR expected, b's: a wrote {pair.cdrs('a')}, b wrote {cdrs}")
    check(cdrs[0].get("status") == 200, f"the CDR's status: {cdrs[0]}")
    wait_until(lambda: cluster_of(pair, "b")["calls"] == 0, 5.0, 0.05)
    check(wait_until(lambda: not stored_calls(pair), 5.0, 0.05),
          f"calls left in the store after the call ended: {stored_calls(pair)}")


def stored_calls(pair):
    rc, out = pair.redis_cli("--scan", "--pattern", "sbc:call:*")
    check(rc == 0, f"redis-cli --scan failed: {out}")
    return out.split()


@e2e_test
def cluster_drain_hands_calls_over(t):
    """`sbcctl drain --hand-over` on a, with a call up and media both ways:
    a refuses new calls, writes its calls, and writes 1 to keepalived's
    track_file; its instance goes to FAULT, b becomes master and takes the
    call over from the store; a, seeing its copies gone, drops the call
    without a BYE and exits 0. The call then holds, resumes and ends through
    b; one CDR, b's. The media gap each peer saw is printed."""
    pair = cluster_pair(t)
    key = ("-key", "rtp_port", str(RTP_PORT))
    uas = pair.uas("callee", "uas_failover_call.xml", extra=key)
    uac = pair.uac("caller", "uac_failover_call.xml", duration_ms=5000, extra=key)
    caller_rtp, callee_rtp = pair.call_media("a", 6.0)
    wait_replicated(pair, "a", 1)
    time.sleep(1.0)
    rc, reply, raw = pair.sbcctl("a", "drain", "--hand-over")
    check(rc == 0, f"sbcctl drain --hand-over on a failed: {raw}")
    pair.wait_master("b")
    took = wait_taken_over(pair, "b", 1)
    print(f"  b took the call over in {took['took_ms']:.1f} ms after it was made active")
    sbcd_a = pair.node("a").sbcd
    check(sbcd_a.wait(10.0) == 0, f"a's sbcd did not exit 0 after the hand-over: "
          f"{sbcd_a.popen.returncode}, {sbcd_a.stderr_tail()}")
    sbcd_a.stopped = True
    for peer, rtp in (("caller", caller_rtp), ("callee", callee_rtp)):
        report = rtp.result()
        print(f"  media at the {describe(peer, report)}")
        check(report["silence_at_end_ms"] < 1500,
              f"the {peer}'s media did not resume through b: {report}")
    uac.finish(timeout=30)
    uas.finish(timeout=10)
    check(len(pair.cdrs("b")) == 1 and not pair.cdrs("a"),
          f"one CDR expected, b's: a wrote {pair.cdrs('a')}, b wrote {pair.cdrs('b')}")
    byes_from_a = [m for m in uas.received("BYE")]
    check(len(byes_from_a) == 1, f"the callee got {len(byes_from_a)} BYEs, expected the caller's")


@e2e_test
def cluster_take_over_with_store_down(t):
    """The standby keeps a copy of its partner's calls, read every second:
    with a call up through a and b holding its copy, Redis dies, then a
    dies. b, made master, cannot read the store and takes the call over
    from its copy; the call holds, resumes and ends through b."""
    pair = cluster_pair(t)
    key = ("-key", "rtp_port", str(RTP_PORT))
    uas = pair.uas("callee", "uas_failover_call.xml", extra=key)
    uac = pair.uac("caller", "uac_failover_call.xml", duration_ms=5000, extra=key)
    caller_rtp, callee_rtp = pair.call_media("a", 6.0)
    wait_replicated(pair, "a", 1)
    check(wait_until(lambda: cluster_of(pair, "b").get("partner_calls") == 1, 5.0, 0.05),
          f"b holds no copy of a's call: {cluster_of(pair, 'b')}")
    pair.redis.signal(signal.SIGKILL)
    pair.redis.wait(5.0)
    pair.kill_node("a")
    pair.wait_master("b")
    took = wait_taken_over(pair, "b", 1)
    check(any("copy was used" in e for e in took["errors"]),
          f"b's take-over does not say it used its copy: {took}")
    for peer, rtp in (("caller", caller_rtp), ("callee", callee_rtp)):
        report = rtp.result()
        print(f"  media at the {describe(peer, report)}")
        check(report["silence_at_end_ms"] < 1500,
              f"the {peer}'s media did not resume through b: {report}")
    uac.finish(timeout=30)
    uas.finish(timeout=10)
    check(len(pair.cdrs("b")) == 1, f"one CDR expected on b: {pair.cdrs('b')}")
