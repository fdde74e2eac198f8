"""End-to-end tests of a redundant pair of sbcd nodes (issue 22).

The pair, its peers and its Redis run in network namespaces of their own
(cluster_net.py): node a and node b each run sbcd and keepalived, and share
192.0.2.100 (carrier side) and 192.0.2.101 (pbx side) by VRRP. sipp (or
baresip, for SRTP) calls the shared carrier-side address from the caller's
namespace; the callee answers in its own. Media comes from rtp_peer.py,
which reports the longest gap in what each end received: the figure a
failover is judged by, printed by each test.

These tests need no cluster support in sbcd: they prove the network the
later ones stand on. Both sbcds listen on the shared addresses from the
start (ip_nonlocal_bind), so when a dies (kill_node: its processes killed
and its link down, as a host dies) and keepalived on b takes the
addresses, b's sbcd serves the next call without being restarted.

Each test skips (passes, saying why) when not run as root or when
keepalived, redis-server or redis-tools is missing.
"""

import os
import socket
import subprocess
import time
from pathlib import Path

import cluster_net
from cluster_net import ADDRESSES, RTP_PORT, VIP_CARRIER, PairNet
from harness import check, skip, skip_if_sanitized, wait_until

TESTS = []


def e2e_test(fn):
    """Registers a cluster test. They run beside others: every name they make
    on the machine (namespaces, interfaces, VRRP router id) is their run's
    own."""
    TESTS.append(fn)
    return fn


def pair_or_skip(t, **up):
    why = cluster_net.missing_prerequisite()
    if why:
        skip(why)
    skip_if_sanitized(t, "a failover's sub-second timings (VRRP at 0.1 s) do not hold under "
                      "ASan on a loaded machine")
    return PairNet(t).up(**up)


def describe(peer, report):
    """One line of a media report, for the test's output."""
    return (f"{peer}: {report['received']} of the other end's packets, longest gap "
            f"{report['longest_gap_ms']} ms at {report['longest_gap_at_s']} s, "
            f"silence at the end {report['silence_at_end_ms']} ms, "
            f"gaps over {report['gap_threshold_ms']:.0f} ms: {report['gaps_over_threshold']}")


def call_with_media(pair, node, name, seconds=2.0):
    """One call caller -> shared address -> callee, served by `node`, with RTP
    both ways for `seconds`; returns the two ends' media reports."""
    rtp_key = ("-key", "rtp_port", str(RTP_PORT))
    uas = pair.uas(f"{name}-callee", "uas_answer_keyed_media.xml", extra=rtp_key)
    uac = pair.uac(f"{name}-caller", "uac_call_keyed_media.xml",
                   duration_ms=int(seconds * 1000) + 1500, extra=rtp_key)
    caller_rtp, callee_rtp = pair.call_media(node, seconds, tag=f"-{name}")
    reports = caller_rtp.result(), callee_rtp.result()
    uac.finish()
    uas.finish()
    for peer, report in zip(("caller", "callee"), reports):
        print(f"  {name} through node {node}, {describe(peer, report)}")
        # 2 s of 20 ms packets is 100: most must have crossed, from the SBC's
        # address of that end's leg only.
        check(report["received"] >= seconds * 25,
              f"{name}: the {peer} received {report['received']} RTP packets in {seconds} s "
              f"through node {node}: {report}")
        check(len(report["sources"]) == 1,
              f"{name}: the {peer} got RTP from several sources: {report['sources']}")
    return reports


@e2e_test
def cluster_partner_serves_new_calls_after_node_loss(t):
    """The pair up: a is master and holds the shared addresses, b is backup
    and its sbcd listens on them anyway. A call through the shared address is
    served by a (its CDR, none on b), media both ways. a dies (kill_node);
    keepalived makes b master, and a new call through the same address is
    served by b's sbcd, which was never restarted. a comes back and stays
    backup (nopreempt): b keeps the addresses."""
    pair = pair_or_skip(t)
    check(pair.holds_vips("a") and not pair.holds_vips("b"),
          "after start, a should hold the shared addresses and b not")
    for name in ("a", "b"):
        rc, status, raw = pair.sbcctl(name, "status")
        check(rc == 0, f"sbcctl status on node {name} failed: {raw}")

    call_with_media(pair, "a", "call1")
    check(len(pair.cdrs("a")) == 1 and not pair.cdrs("b"),
          f"call1 should be a's alone: a wrote {pair.cdrs('a')}, b wrote {pair.cdrs('b')}")

    pair.kill_node("a")
    pair.wait_master("b")
    check(pair.node("b").sbcd.alive(), "b's sbcd died while b took over")
    call_with_media(pair, "b", "call2")
    check(len(pair.cdrs("b")) == 1, f"call2 left no CDR on b: {pair.cdrs('b')}")
    check(len(pair.cdrs("a")) == 1, f"a wrote CDRs after it died: {pair.cdrs('a')}")
    # The notify script ran for each change; sbcctl may not know `cluster`
    # yet, which the script logs and survives.
    events_b = pair.notify_events("b")
    check([state for state, _ in events_b] == ["BACKUP", "MASTER"],
          f"b's notify script saw {events_b}, expected BACKUP then MASTER")

    pair.revive_node("a")
    # What is checked is that nothing happens: for ten advert intervals a
    # stays backup rather than taking the addresses back.
    time.sleep(1.0)
    check([state for state, _ in pair.notify_events("a")][-1] == "BACKUP",
          f"the revived a left BACKUP: {pair.notify_events('a')}")
    check(pair.holds_vips("b") and not pair.holds_vips("a"),
          "the revived a took the shared addresses back: nopreempt does not hold")
    check(pair.notify_events("b")[-1][0] == "MASTER",
          f"b left MASTER when a came back: {pair.notify_events('b')}")


@e2e_test
def cluster_shared_address_moves_media_gap(t):
    """The network's share of a failover's media gap: an RTP echo bound to
    the shared carrier-side address on both nodes (nonlocal binding, as
    sbcd's media sockets), the caller sending to it every 20 ms. a dies;
    b's keepalived takes the address and announces it (gratuitous ARP), and
    the echoes come back from b. Reports the longest gap the caller saw
    (VRRP's detection, about 0.35 s at advert_int 0.1, plus the ARP update);
    checks only that the media resumed."""
    pair = pair_or_skip(t, sbcd=False, redis=False)
    seconds = 4.0
    for node in ("a", "b"):
        pair.rtp_peer(f"echo-{node}", node, RTP_PORT, seconds + 2.0, echo=True, bind_ip=VIP_CARRIER)
    caller = pair.rtp_peer("caller-rtp", "caller", RTP_PORT, seconds,
                           to=f"{VIP_CARRIER}:{RTP_PORT}")
    # Pacing is the point: the stream runs through a for a second, so that
    # the gap has media on both sides of it.
    time.sleep(1.0)
    pair.kill_node("a")
    pair.wait_master("b")
    report = caller.result()
    print(f"  shared address {VIP_CARRIER} moved a -> b, {describe('caller', report)}")
    check(report["first_arrival_s"] is not None
          and report["first_arrival_s"] < report["longest_gap_at_s"],
          f"no echo came back through a before it died: {report}")
    check(report["silence_at_end_ms"] < 1000,
          f"the echo did not come back after b took the address: {report}")
    check(report["sources"] == [f"{VIP_CARRIER}:{RTP_PORT}"],
          f"echoes came from elsewhere than the shared address: {report['sources']}")



@e2e_test
def cluster_keepalived_examples_pass_config_test(t):
    """conf/examples/keepalived-pair-a.conf and -b.conf pass `keepalived -t`
    in a namespace that has their eth0 and eth1, and agree on what the
    two nodes must share: router id, shared addresses, advert interval,
    each naming the other as its unicast peer."""
    why = cluster_net.missing_prerequisite()
    if why:
        skip(why)
    pair = PairNet(t)
    ns = pair.ns("examples")
    pair.add_namespace(ns)
    cluster_net.run("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
    examples = cluster_net.REPO / "conf" / "examples"
    settings = {}
    for node in ("a", "b"):
        conf = examples / f"keepalived-pair-{node}.conf"
        r = cluster_net.run("ip", "netns", "exec", ns, "keepalived", "-t", "-f", conf,
                            check_rc=False)
        check(r.returncode == 0, f"keepalived -t rejects {conf.name}: "
              f"{(r.stderr + r.stdout).strip()[-400:]}")
        settings[node] = _keepalived_settings(conf.read_text())
    a, b = settings["a"], settings["b"]
    for key in ("virtual_router_id", "advert_int", "vrrp_version", "virtual_ipaddress",
                "interface", "state", "nopreempt", "notify"):
        check(a.get(key) == b.get(key), f"the examples differ in {key}: {a.get(key)} against "
              f"{b.get(key)}")
    check(a["unicast_peer"] == [b["unicast_src_ip"]] and b["unicast_peer"] == [a["unicast_src_ip"]],
          f"each example must name the other as its unicast peer: {a} / {b}")
    check(int(a["priority"]) > int(b["priority"]), "node A's priority should be above B's")


def _keepalived_settings(text):
    """The single-valued keywords of a keepalived.conf and its blocks' lines
    (comments dropped), enough to compare the two examples."""
    out, block = {}, None
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split(None, 1)
        if line.endswith("{"):
            block = words[0] if words[0] in ("unicast_peer", "virtual_ipaddress",
                                             "track_interface") else None
            if block:
                out[block] = []
        elif line == "}":
            block = None
        elif block:
            out[block].append(line)
        else:
            out[words[0]] = words[1] if len(words) > 1 else True
    return out


@e2e_test
def cluster_notify_script_keeps_events_in_order(t):
    """tools/sbc-vrrp-notify on its own, with a stand-in sbcctl that records
    what it was asked: at boot keepalived's BACKUP (init) and MASTER come
    while sbcd has no socket yet; both runs wait for it, and once it
    appears only the latest event (MASTER) is told, the older one logged as
    superseded. Then: a failing sbcctl is logged with its words and its
    status returned; a state the script does not know tells sbcd nothing."""
    workdir = Path(t.workdir)
    record = workdir / "sbcctl.record"
    fake = workdir / "fake-sbcctl"
    fake.write_text('#!/bin/sh\necho "$*" >>"$RECORD"\n'
                    'if [ -n "${FAIL:-}" ]; then echo "no cluster here" >&2; exit 3; fi\n'
                    'echo "ok"\n')
    fake.chmod(0o755)
    socket_path = workdir / "sbcd.sock"
    log = workdir / "notify.log"
    env = dict(os.environ, RECORD=str(record))

    def notify(state, wait=5, **more_env):
        argv = [str(cluster_net.NOTIFY_SCRIPT), "--socket", str(socket_path), "--sbcctl",
                str(fake), "--log", str(log), "--state", str(workdir / "notify.state"),
                "--wait", str(wait), "INSTANCE", "sbc", state, "150"]
        return subprocess.Popen(argv, env=dict(env, **more_env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def log_text():
        return log.read_text() if log.exists() else ""

    backup = notify("BACKUP")
    wait_until(lambda: "BACKUP (priority 150) #1: waiting" in log_text(), 5.0, 0.02)
    master = notify("MASTER")
    wait_until(lambda: "MASTER (priority 150) #2: waiting" in log_text(), 5.0, 0.02)
    check(not record.exists(), f"sbcctl ran before sbcd's socket existed: {log_text()}")
    listener = _unix_listener(t, socket_path)
    for proc in (backup, master):
        proc.wait(timeout=10)
    check(master.returncode == 0, f"the MASTER run exited {master.returncode}: {log_text()}")
    check(backup.returncode == 0, f"the BACKUP run exited {backup.returncode}: {log_text()}")
    told = record.read_text().splitlines()
    check(told == [f"--socket {socket_path} cluster active"],
          f"sbcctl was asked {told}, expected only the MASTER's 'cluster active'")
    check("BACKUP (priority 150) #1: superseded by #2 MASTER" in log_text(),
          f"the BACKUP run did not say it was superseded: {log_text()}")
    check("MASTER (priority 150) #2: told sbcd: active: ok" in log_text(),
          f"the MASTER run did not log sbcd's answer: {log_text()}")
    listener.close()

    failing = notify("FAULT", FAIL="1")
    failing.wait(timeout=10)
    check(failing.returncode == 3, f"a failing sbcctl's status 3 came back as "
          f"{failing.returncode}")
    check("FAULT (priority 150) #3: sbcctl cluster standby failed (status 3): no cluster here"
          in log_text(), f"the failure is not in the log: {log_text()}")

    unknown = notify("SPLIT")
    unknown.wait(timeout=10)
    check(unknown.returncode == 2, f"an unknown state exited {unknown.returncode}, expected 2")
    check(len(record.read_text().splitlines()) == 2,
          f"sbcctl was run for an unknown state: {record.read_text()}")
    check("SPLIT (priority 150)" in log_text() and "unknown state" in log_text(),
          f"the unknown state is not in the log: {log_text()}")


def _unix_listener(t, path):
    """A unix socket bound at `path`, as sbcd's control socket appears."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.listen(1)
    t._sockets.append(s)
    return s


@e2e_test
def cluster_srtp_call_served_by_partner(t):
    """SRTP through the partner: a dies at once, b takes the addresses, and
    baresip (srtp-mand, in the caller's namespace) calls the shared address:
    b's sbcd answers with keys of its own, decrypts baresip's tone towards
    the callee (sipp, plain RTP, echoing) and encrypts the echo back, which
    baresip decodes."""
    from test_srtp import Baresip, check_round_trip, poll_legs

    pair = pair_or_skip(t, carrier_extra=["srtp: required"])
    pair.kill_node("a")
    pair.wait_master("b")
    sbcd = pair.node("b").sbcd
    uas = pair.uas("callee", "uas_answer.xml", extra=["-rtp_echo"])
    baresip = Baresip(t, ADDRESSES["caller"], dial=f"sip:1000@{VIP_CARRIER}", seconds=9,
                      netns=pair.ns("caller"))
    legs = poll_legs(sbcd, lambda legs: legs and legs["a"]["rtp_rx_packets"] > 250, 12.0)
    check(legs is not None, f"the call never came up on b [{baresip.log(5)}]")
    baresip.proc.wait(10.0)  # it hangs up as it quits
    uas.finish()
    check_round_trip(sbcd, baresip, legs, "a", "b")
    check(len(pair.cdrs("b")) == 1, f"the SRTP call left no CDR on b: {pair.cdrs('b')}")


@e2e_test
def cluster_call_survives_node_loss_store_over_tls(t):
    """The pair's store over TLS only (redis-server with `port 0`, a
    tls-port and tls-auth-clients yes; each node's cluster.store.tls with the
    CA, a client certificate and server_name): a call through a, which
    writes it to the store; a dies (kill -9, its link down), b becomes
    master, reads the call back over TLS and takes it over; the call ends
    through b, one CDR, b's."""
    why = cluster_net.missing_prerequisite()
    if why:
        skip(why)
    skip_if_sanitized(t, "a failover's sub-second timings do not hold under ASan")
    pair = PairNet(t).use_redis_tls()
    pair.up(sbcd_extra=lambda name: pair.cluster_section(name) + ["  standby: true"])

    def cluster(name):
        rc, data, raw = pair.sbcctl(name, "cluster")
        check(rc == 0 and isinstance(data, dict), f"sbcctl cluster on {name} failed: {raw}")
        return data

    check(wait_until(lambda: cluster("a").get("role") == "active", 5.0, 0.05),
          f"a is not active: {cluster('a')}")
    for name in ("a", "b"):
        store = cluster(name)["store"]
        check(store["tls"] and wait_until(lambda n=name: cluster(n)["store"]["up"], 10.0, 0.05),
              f"node {name}'s store is not up over TLS: {cluster(name)}")
    rc, out = pair.redis_cli("PING")
    check(rc == 0 and out == "PONG", f"redis-cli over TLS: {out}")

    key = ("-key", "rtp_port", str(RTP_PORT))
    uas = pair.uas("callee", "uas_failover_call.xml", extra=key)
    uac = pair.uac("caller", "uac_failover_call.xml", duration_ms=5000, extra=key)
    pair.call_media("a", 6.0)
    check(wait_until(lambda: cluster("a")["calls"] == 1 and cluster("a")["store"]["written"] >= 1,
                     30.0, 0.05),
          f"a did not write its call to the store: {cluster('a')}")
    pair.kill_node("a")
    pair.wait_master("b")

    def taken_over():
        last = cluster("b").get("last_take_over") or {}
        return not last.get("in_progress", True) and last.get("restored", 0) == 1

    check(wait_until(taken_over, 30.0, 0.05), f"b did not take the call over: {cluster('b')}")
    uac.finish(timeout=30)
    uas.finish(timeout=10)
    cdrs = pair.cdrs("b")
    check(len(cdrs) == 1 and cdrs[0].get("status") == 200,
          f"one CDR expected, b's, status 200: b wrote {cdrs}")
