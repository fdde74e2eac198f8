"""End-to-end tests of calls that outlive the node they were set up on
(issue 22): a redundant pair (cluster_net.py) whose sbcds replicate their
calls to Redis, sealed, and take their partner's over when keepalived makes
them master (tools/sbc-vrrp-notify -> `sbcctl cluster active`).

Each node is configured `standby: true`: keepalived's notify makes the
master active and keeps the backup silent on the shared addresses.
"""

import os
import signal
import time
from pathlib import Path

import cluster_net
from cluster_net import RTP_PORT, PairNet
from harness import check, skip, skip_if_sanitized, wait_until

TESTS = []


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def cluster_pair(t, **up):
    """The pair up with each node's cluster section, a master and active."""
    why = cluster_net.missing_prerequisite()
    if why:
        skip(why)
    skip_if_sanitized(t, "a failover's sub-second timings (VRRP at 0.1 s, the store's 1 s "
                      "timeout) do not hold under ASan on a loaded machine")
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


def wait_replicated(pair, name, calls, timeout=30.0):
    """Until node `name` has `calls` calls and every change written."""
    def done():
        c = cluster_of(pair, name)
        s = c["store"]
        return c["calls"] == calls and s["up"] and s["queue"] == 0 and s["in_flight"] == 0 and \
            s["written"] >= calls
    check(wait_until(done, timeout, 0.05),
          f"node {name} did not write its {calls} call(s) to the store: {cluster_of(pair, name)}")


def wait_taken_over(pair, name, calls, timeout=30.0):
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


def check_resumed(peer, report):
    """The media came back through b: at least half a second of it (25 of
    the 20 ms packets) arrived after the failover's gap. How long the end
    was silent is no measure: the call goes on hold near its end, and a
    loaded machine (CI's sanitized builds) delays the last packets."""
    gap_at = report["longest_gap_at_s"]
    first = report["first_arrival_s"]
    check(gap_at is not None and first is not None,
          f"the {peer} received no media, or no gap to measure: {report}")
    before = (gap_at - first) / 0.020 + 1
    check(report["received"] - before >= 25,
          f"the {peer}'s media did not resume through b: {report}")


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
        check_resumed(peer, report)
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
def cluster_srtp_call_survives_node_loss(t):
    """An SRTP-to-RTP call through a: baresip (srtp-mand) calls the shared
    address, the callee answers plain RTP and echoes what it gets (rtp_peer
    --echo), so baresip's tone makes the round trip. a dies mid-call; b
    takes the call over with its stored keys: baresip's SRTP is decrypted by
    b with no authentication failure, b's SRTP towards baresip is decoded by
    it (its dump holds the tone for the whole call), and baresip's BYE at
    its end completes through b. The gap each end saw is printed (baresip's
    from a packet socket in its namespace: it owns its RTP socket). The
    callee renumbers what it echoes from 65476 on, so the SBC's SRTP stream
    to baresip wraps before a dies: b goes on with its rollover counter
    (RFC 3711 3.3.1) from the document, or baresip would fail to
    authenticate every packet b sends it."""
    from test_srtp import BARESIP, RATE, TONE_HZ, Baresip, tone_fraction

    if not os.path.exists(BARESIP):
        skip("needs baresip")
    pair = cluster_pair(t, carrier_extra=["srtp: required"])
    seconds = 8
    key = ("-key", "rtp_port", str(RTP_PORT))
    uas = pair.uas("callee", "uas_answer_keyed_media.xml", extra=key)
    # Echoes numbered from 60 below the wrap: the SBC's SRTP stream to
    # baresip rolls over about a second into the call.
    callee_rtp = pair.rtp_peer("callee-rtp", "callee", RTP_PORT, seconds + 2, echo=True,
                               extra=("--echo-seq-from", 0x10000 - 60))
    caller_rtp = pair.rtp_peer("caller-rtp", "caller", 0, seconds + 1, sniff=True)
    baresip = Baresip(t, cluster_net.ADDRESSES["caller"], dial=f"sip:1000@{cluster_net.VIP_CARRIER}",
                      seconds=seconds, netns=pair.ns("caller"))
    pair.established_call("a")
    wait_replicated(pair, "a", 1)
    # SRTP through a for a while, so the gap has media on both sides.
    check(wait_until(lambda: srtp_leg(pair, "a")["rtp_rx_packets"] > 50, 5.0, 0.1),
          f"baresip's SRTP does not reach a [{baresip.log(5)}]")
    # The stream to baresip rolled over on a, and a wrote it to the store.
    check(wait_until(lambda: (srtp_state(pair, "a").get("local_stream") or {}).get("roc") == 1,
                     5.0, 0.1),
          f"a's SRTP to baresip did not roll over: {srtp_state(pair, 'a')}")
    wait_replicated(pair, "a", 1)
    pair.kill_node("a")
    pair.wait_master("b")
    took = wait_taken_over(pair, "b", 1)
    print(f"  b took the call over in {took['took_ms']:.1f} ms after it was made active")

    def relayed(legs):
        return all(legs[leg]["rtp_rx_packets"] > 50 and legs[leg]["tx_packets"] > 50
                   for leg in ("a", "b"))

    check(wait_until(lambda: relayed(pair.established_call("b")["legs"]), 5.0, 0.1),
          f"b does not relay the call's media both ways: {pair.established_call('b')['legs']}")
    legs = pair.established_call("b")["legs"]
    check(legs["a"]["drops"]["srtp_auth"] == 0 and legs["a"]["drops"]["srtp_replay"] == 0,
          f"b cannot authenticate baresip's SRTP (keys not carried over?): {legs['a']}")
    carried = srtp_state(pair, "b").get("local_stream") or {}
    check(carried.get("roc") == 1, f"b did not take the rollover counter over: {carried}")
    baresip.proc.wait(seconds + 5.0)  # it hangs up as it quits
    uas.finish(timeout=10)
    for peer, rtp in (("caller", caller_rtp), ("callee", callee_rtp)):
        report = rtp.result()
        print(f"  media at the {describe(peer, report)}")
        check(report["received"] > 100 and report["longest_gap_at_s"] is not None,
              f"the {peer} got too little media: {report}")
    caller_report = caller_rtp.result()
    check(caller_report["silence_at_end_ms"] < 2500,
          f"the SRTP towards baresip did not resume through b: {caller_report}")
    # baresip decodes as packets arrive: a dump that covers the packets that
    # reached it, tone all through, means it decrypted b's SRTP as well.
    fraction, samples = tone_fraction(baresip.decoded_dump())
    decoded_s, arrived_s = samples / RATE, caller_report["received"] * 0.020
    print(f"  baresip decoded {decoded_s:.1f} s of audio ({fraction:.2f} of it at {TONE_HZ} Hz) "
          f"of the {arrived_s:.1f} s that reached it")
    check(decoded_s > 0.8 * arrived_s and fraction > 0.5,
          f"baresip did not decode b's SRTP: {decoded_s:.1f} s decoded of {arrived_s:.1f} s "
          f"received, {fraction:.2f} tone [{baresip.log(5)}]")
    check(uas.received("BYE"), "baresip's BYE did not reach the callee through b")
    cdrs = pair.cdrs("b")
    check(len(cdrs) == 1 and not pair.cdrs("a"),
          f"one CDR expected, b's: a wrote {pair.cdrs('a')}, b wrote {cdrs}")
    check(wait_until(lambda: not stored_calls(pair), 5.0, 0.05),
          f"calls left in the store after the call ended: {stored_calls(pair)}")


def srtp_state(pair, name):
    """The SRTP part of leg a (baresip's) in node `name`'s document of its
    established call (sbcctl call-state: keys redacted)."""
    pair.established_call(name)
    rc, data, raw = pair.sbcctl(name, "calls")
    check(rc == 0 and isinstance(data, dict) and len(data.get("calls") or []) == 1,
          f"sbcctl calls on {name}: not one call (rc={rc}): {raw[:300]}")
    rc, data, raw = pair.sbcctl(name, "call-state", str(data["calls"][0]["id"]))
    check(rc == 0 and isinstance(data, dict) and "call" in data,
          f"sbcctl call-state on {name} failed (rc={rc}): {raw[:300]}")
    return data["call"]["media"]["legs"][0]["srtp"] or {}


def srtp_leg(pair, name):
    """Leg a (baresip's) of node `name`'s established call."""
    return pair.established_call(name)["legs"]["a"]


CALLS = 200


@e2e_test
def cluster_200_calls_survive_failover(t):
    """200 calls set up through a at 100 per second, no media; once a wrote
    them all, a dies. b takes all 200 over, and every one is then ended by
    the caller's BYE, answered 200 through b: sipp's caller and callee each
    count 200 successful calls, and b writes 200 CDRs."""
    # The sanitized build (CI's asan stage) sets calls up at a tenth of the
    # plain build's rate on a loaded machine, and its callee then times out:
    # there it shows the same with 50 calls at 10 per second. The plain
    # build shows the 200.
    sanitized = b"__asan_init" in Path(t.sbcd_bin).read_bytes()
    calls, rate = (50, 10) if sanitized else (CALLS, 100)
    pair = cluster_pair(t)
    uas = pair.uas("callee", "uas_answer.xml", calls=calls, timeout_s=90)
    # 25 s: the set-up (2 s here, up to 20 s in CI's sanitized build on a
    # loaded machine), the replication, the failover and the take-over all
    # fit before the first BYE.
    uac = pair.uac("caller", "uac_call.xml", calls=calls, rate=rate, limit=calls,
                   duration_ms=25000, timeout_s=90)
    wait_replicated(pair, "a", calls, timeout=30.0)
    killed = time.monotonic()
    pair.kill_node("a")
    pair.wait_master("b")
    took = wait_taken_over(pair, "b", calls, timeout=30.0)
    print(f"  b master {took_since(killed)} after a died; took {calls} calls over in "
          f"{took['took_ms']:.1f} ms")
    uac.finish(timeout=90)
    uas.finish(timeout=30)
    byes_ok = [m for m in uac.received(status=200) if "BYE" in (m.header("CSeq") or "")]
    check(len(byes_ok) == calls, f"{len(byes_ok)} of {calls} BYEs got 200")
    check(len(uas.received("BYE")) >= calls, "fewer BYEs reached the callee than calls")
    cdrs = pair.cdrs("b")
    check(len(cdrs) == calls, f"b wrote {len(cdrs)} CDRs for {calls} calls")
    check(wait_until(lambda: cluster_of(pair, "b")["calls"] == 0, 10.0, 0.1),
          f"calls left on b: {cluster_of(pair, 'b')}")
    print(f"  caller and callee: {CALLS} calls successful, 0 failed; b wrote {len(cdrs)} CDRs")


def took_since(start):
    return f"{(time.monotonic() - start) * 1000.0:.0f} ms"


OUTAGE_SECONDS = 20.0


@e2e_test
def cluster_store_outage_costs_no_call(t):
    """Redis dies (SIGKILL: connections reset, its memory lost, as a crashed
    store host) for 20 s while calls of 3 s are set up and ended through a
    at 4 per second, beside two long calls written before the outage. No
    call fails; a shows the store down and changes queued meanwhile.
    redis-server comes back empty (no persistence): a's queue drains, and
    the store then holds exactly the calls a has up, the long ones
    included, which only a rewrite of every live call on reconnection puts
    back. (SIGSTOP would have kept the keys, so it could not show that;
    it would test the command timeout instead.)"""
    pair = cluster_pair(t)
    long_calls, rate, hold_ms = 2, 4, 3000
    total = int(rate * (OUTAGE_SECONDS + 4))
    uas = pair.uas("callee", "uas_answer.xml", calls=total + long_calls, timeout_s=55)
    # From a port of their own: the carrier trunk knows its peer by address.
    long_uac = pair.uac("caller-long", "uac_call.xml", calls=long_calls, port=5061,
                        duration_ms=int((OUTAGE_SECONDS + 12) * 1000), timeout_s=55)
    wait_replicated(pair, "a", long_calls)
    uac = pair.uac("caller", "uac_call.xml", calls=total, rate=rate, duration_ms=hold_ms,
                   timeout_s=55)
    pair.stop_redis()
    stopped = time.monotonic()
    seen = {"down": False, "max_queue": 0}

    def watch():
        c = cluster_of(pair, "a")
        seen["down"] = seen["down"] or not c["store"]["up"]
        seen["max_queue"] = max(seen["max_queue"], c["store"]["queue"])
        return time.monotonic() - stopped >= OUTAGE_SECONDS

    wait_until(watch, OUTAGE_SECONDS + 2.0, 0.5)
    during = cluster_of(pair, "a")
    print(f"  store down for {OUTAGE_SECONDS:.0f} s: a saw it down {seen['down']}, queue up to "
          f"{seen['max_queue']}; at the end {during['store']}")
    check(seen["down"] and seen["max_queue"] > 0,
          f"a did not report the store down with changes queued: {during}")
    pair.start_redis()
    restarted = time.monotonic()

    def caught_up():
        s = cluster_of(pair, "a")["store"]
        return s["up"] and s["queue"] == 0 and s["in_flight"] == 0 and s["lag_ms"] == 0

    check(wait_until(caught_up, 10.0, 0.1), f"a did not catch up: {cluster_of(pair, 'a')}")
    print(f"  caught up {took_since(restarted)} after redis-server came back: "
          f"{cluster_of(pair, 'a')['store']}")
    # While calls come and go the two counts move: compare them in a moment
    # when both agree, and that moment must come.
    compared = []

    def store_matches():
        before = cluster_of(pair, "a")["calls"]
        keys = stored_calls(pair)
        after = cluster_of(pair, "a")["calls"]
        compared.append((before, len(keys), after))
        return before == after == len(keys) and before >= long_calls
    check(wait_until(store_matches, 5.0, 0.05),
          f"the store does not hold a's live calls (calls, keys, calls): {compared[-5:]}")
    print(f"  then a has {compared[-1][0]} calls up and the store {compared[-1][1]} keys")
    uac.finish(timeout=30)
    long_uac.finish(timeout=30)
    uas.finish(timeout=10)
    check(len(pair.cdrs("a")) == total + long_calls,
          f"a wrote {len(pair.cdrs('a'))} CDRs for {total + long_calls} calls")
    check(wait_until(lambda: not stored_calls(pair), 5.0, 0.05),
          f"calls left in the store after every call ended: {stored_calls(pair)}")


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
    # Long enough that the drain comes while the call is up on a loaded CI
    # machine too (with 5 s it once ended before the drain began).
    uac = pair.uac("caller", "uac_failover_call.xml", duration_ms=9000, extra=key)
    caller_rtp, callee_rtp = pair.call_media("a", 10.0)
    wait_replicated(pair, "a", 1)
    time.sleep(1.0)
    check(cluster_of(pair, "a").get("calls") == 1,
          f"the call is no longer up on a before the drain: {cluster_of(pair, 'a')}")
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
        check_resumed(peer, report)
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
    uac = pair.uac("caller", "uac_failover_call.xml", duration_ms=9000, extra=key)
    caller_rtp, callee_rtp = pair.call_media("a", 10.0)
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
        check_resumed(peer, report)
    uac.finish(timeout=30)
    uas.finish(timeout=10)
    check(len(pair.cdrs("b")) == 1, f"one CDR expected on b: {pair.cdrs('b')}")
