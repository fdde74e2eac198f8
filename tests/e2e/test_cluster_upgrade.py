"""End-to-end test of a rolling upgrade of a redundant pair (issue 22: "A
rolling upgrade of a pair drops no call"), as conf/README.md's "Handing
calls over for an upgrade" tells an operator to do it: `sbcctl drain
--hand-over` on the active node, start it again (the upgraded binary; here
the same one) as standby, then the same on the other node.

The pair is cluster_net.py's, each node `standby: true` with a `cluster:`
section (test_cluster_calls.cluster_pair); the calls are sipp's
uac_failover_call.xml / uas_failover_call.xml, which hold and resume the
call by re-INVITE from both sides before the caller's BYE, so every call
is also checked to work in dialog on the node that holds it at the end.
"""

import time

import cluster_net
from harness import check, skip, skip_if_sanitized, wait_until
from test_cluster_calls import cluster_of, cluster_pair, role, wait_replicated, wait_taken_over

TESTS = []


def e2e_test(fn):
    TESTS.append(fn)
    return fn


# Calls up before the upgrade begins, and calls placed through b while a
# restarts. Their durations are long enough for all four steps (a dozen
# seconds on a quiet machine) and short enough for the callee's 60 s wait
# for the caller's hold (uas_failover_call.xml).
CALLS = 20
NEW_CALLS = 3
CALL_MS = 45000
NEW_CALL_MS = 40000
# No RTP flows: a media timeout must not end the calls meanwhile.
MEDIA_TIMEOUT_S = 600
RTP_KEY = ("-key", "rtp_port", str(cluster_net.RTP_PORT))


def check_roles(pair, active, standby):
    """`sbcctl cluster` on both nodes agrees with keepalived: `active` holds
    the addresses and is active, `standby` is standby with a warm copy of
    its partner's calls (read every second)."""
    check(wait_until(lambda: role(pair, active) == "active", 5.0, 0.05),
          f"node {active} is {role(pair, active)}, not active: {cluster_of(pair, active)}")
    check(role(pair, standby) == "standby",
          f"node {standby} is {role(pair, standby)}, not standby: {cluster_of(pair, standby)}")
    check(pair.holds_vips(active) and not pair.holds_vips(standby),
          f"the shared addresses are not (only) on {active}")


def wait_warm_copy(pair, name, calls, timeout=10.0):
    """Until standby node `name` holds a copy of its partner's `calls` calls."""
    check(wait_until(lambda: cluster_of(pair, name).get("partner_calls") == calls, timeout, 0.1),
          f"node {name} holds no warm copy of its partner's {calls} call(s): "
          f"{cluster_of(pair, name)}")


def hand_over(pair, name, calls):
    """`sbcctl drain --hand-over` on node `name`: its partner becomes master
    and takes its `calls` calls over, and its sbcd exits 0 by itself."""
    partner = pair.node(name).partner
    rc, _, raw = pair.sbcctl(name, "drain", "--hand-over")
    check(rc == 0, f"sbcctl drain --hand-over on {name} failed: {raw}")
    pair.wait_master(partner)
    took = wait_taken_over(pair, partner, calls)
    pair.wait_sbcd_exit(name)
    print(f"  {name} handed {calls} calls over: {partner} took them in {took['took_ms']:.1f} ms; "
          f"{name}'s sbcd exited 0")


def byes_answered(uac):
    """The calls (Call-IDs) whose BYE got 200: a retransmitted 200 counts once."""
    return {m.header("Call-ID") for m in uac.received(status=200)
            if "BYE" in (m.header("CSeq") or "")}


@e2e_test
def cluster_rolling_upgrade_drops_no_call(t):
    """20 calls up through a. (1) `sbcctl drain --hand-over` on a: b takes
    the addresses and the calls, a's sbcd exits. (2) a's sbcd starts again
    and comes up standby with a warm copy of b's calls; 3 new calls are
    placed through b meanwhile. (3) `sbcctl drain --hand-over` on b: a takes
    all 23 over, b exits. (4) b's sbcd starts again, standby. `sbcctl
    cluster` is checked against keepalived's roles between the steps. Then
    every call holds and resumes by re-INVITE from both sides and ends with
    the caller's BYE, all answered 200 through a; one CDR per call, a's."""
    why = cluster_net.missing_prerequisite()
    if why:
        skip(why)
    skip_if_sanitized(t, "two hand-overs and two restarts must fit in the calls' 45 s, which "
                      "an ASan build on a loaded machine does not keep to")
    total = CALLS + NEW_CALLS
    pair = cluster_pair(t, media_timeout=MEDIA_TIMEOUT_S)
    uas = pair.uas("callee", "uas_failover_call.xml", calls=total, timeout_s=150, extra=RTP_KEY)
    uac = pair.uac("caller", "uac_failover_call.xml", calls=CALLS, rate=10, limit=CALLS,
                   duration_ms=CALL_MS, timeout_s=150, extra=RTP_KEY)
    wait_replicated(pair, "a", CALLS)
    wait_warm_copy(pair, "b", CALLS)
    started = time.monotonic()

    # Step 1: a hands its calls over to b.
    hand_over(pair, "a", CALLS)
    check(role(pair, "b") == "active", f"b is not active: {cluster_of(pair, 'b')}")

    # Step 2: a's sbcd starts again while new calls come in through b.
    new_uac = pair.uac("caller-new", "uac_failover_call.xml", calls=NEW_CALLS, port=5061,
                       rate=10, limit=NEW_CALLS, duration_ms=NEW_CALL_MS, timeout_s=150,
                       extra=RTP_KEY)
    pair.restart_sbcd("a")
    check_roles(pair, "b", "a")
    wait_replicated(pair, "b", total)
    wait_warm_copy(pair, "a", total)

    # Step 3: b hands everything over to a, the new calls too.
    hand_over(pair, "b", total)
    check(role(pair, "a") == "active", f"a is not active: {cluster_of(pair, 'a')}")

    # Step 4: b's sbcd starts again; the pair is whole, a active.
    pair.restart_sbcd("b")
    check_roles(pair, "a", "b")
    wait_replicated(pair, "a", total)
    wait_warm_copy(pair, "b", total)
    # Every call is still up on a: none ended before the upgrade was done.
    check(cluster_of(pair, "a")["calls"] == total,
          f"a holds {cluster_of(pair, 'a')['calls']} of {total} calls after the upgrade")
    print(f"  upgrade done in {time.monotonic() - started:.1f} s with {total} calls up on a")

    # The calls end: hold and resume both ways, then the caller's BYE,
    # every request through a.
    uac.finish(timeout=90)
    new_uac.finish(timeout=60)
    uas.finish(timeout=30)
    for sipp, calls in ((uac, CALLS), (new_uac, NEW_CALLS)):
        answered = byes_answered(sipp)
        check(len(answered) == calls, f"{sipp.name}: {len(answered)} of {calls} BYEs got 200")
    byes = {m.header("Call-ID") for m in uas.received("BYE")}
    check(len(byes) == total, f"the callee got BYEs in {len(byes)} of {total} calls")

    # One CDR per call, written by a, which ended them; none by b nor by
    # a's first run, which handed its calls over.
    cdrs = pair.cdrs("a") + pair.cdrs("b")
    call_ids = {c.get("call_id") for c in cdrs}
    check(len(cdrs) == total and len(call_ids) == total,
          f"{len(cdrs)} CDRs ({len(call_ids)} calls) for {total} calls: a wrote "
          f"{len(pair.cdrs('a'))}, b {len(pair.cdrs('b'))}")
    check(not pair.cdrs("b"), f"b wrote CDRs: {pair.cdrs('b')}")
    check(all(c.get("status") == 200 for c in cdrs),
          f"CDRs of calls not answered 200: {[c for c in cdrs if c.get('status') != 200]}")
    check(wait_until(lambda: cluster_of(pair, "a")["calls"] == 0, 10.0, 0.1),
          f"calls left on a: {cluster_of(pair, 'a')}")
    print(f"  {total} calls ended through a with BYE answered 200; {len(cdrs)} CDRs, one per call")
