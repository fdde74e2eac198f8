"""End-to-end tests of `sbcctl drain` (issue 22): a node taken out of service
without dropping a call.

Two sbcd nodes, A and B, stand behind a kamailio dispatcher (the upstream,
tests/e2e/peers/kamailio_dispatcher.cfg) that prefers A, probes both with
OPTIONS every second and fails over on 503; sipp calls into kamailio from
the carrier block, and one sipp callee on the pbx peer's address answers for
both nodes:

    sipp uac 127.S.1.2 -> kamailio 127.S.1.5 -> A 127.S.1.1 | 127.S.2.1 -> sipp uas 127.S.2.2
                                             -> B 127.S.1.11 | 127.S.2.11 ->

A drain of A while it carries calls: every new call goes to B, every call on
A runs to its end, and A exits 0 then. A drain with a short deadline hangs up
the calls left with BYEs (their CDRs written) and exits 0.
"""

import json
import re
import shutil
import types
from pathlib import Path

from harness import (CARRIER_SIPP_MEDIA, SIP_PORT, Sbcd, check, generated_config, udp_bound, wait_until)

TESTS = []

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
UPSTREAM_HOST = 5  # kamailio, in the carrier block
B_HOST = 11  # node B's host in both blocks (A is host 1, the slot's SBC)


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def node_config(t, name, carrier_sbc, pbx_sbc, carrier_peer):
    """A node's configuration: the generated topology on its own addresses,
    with its own control socket and CDR file; `carrier_peer` is whoever
    sends it calls."""
    net = types.SimpleNamespace(carrier_sbc=carrier_sbc, pbx_sbc=pbx_sbc,
                                carrier_peer=carrier_peer, pbx_peer=t.pbx_peer)
    socket_path = Path(t.workdir) / f"{name}.sock"
    text = generated_config(net, socket_path, extra_top=[
        "cdr:", f"  file: {Path(t.workdir) / f'cdr_{name}.jsonl'}"])
    return t.config_path(text, f"{name}.yaml"), socket_path


def start_node(t, name, carrier_sbc, pbx_sbc, carrier_peer):
    config_path, socket_path = node_config(t, name, carrier_sbc, pbx_sbc, carrier_peer)
    node = Sbcd(t, config_path, socket_path, name=name)
    t._processes.append(node)
    node.wait_ready((carrier_sbc, pbx_sbc))
    return node


def cdrs(t, name):
    path = Path(t.workdir) / f"cdr_{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def start_upstream(t, nodes):
    """kamailio's dispatcher in front of `nodes` (addresses, first preferred)."""
    address = t.carrier(UPSTREAM_HOST)
    listing = Path(t.workdir) / "dispatcher.list"
    # Set 1; algorithm 8 takes the highest priority first.
    listing.write_text("".join(f"1 sip:{n}:{SIP_PORT} 0 {len(nodes) - i}\n"
                               for i, n in enumerate(nodes)))
    cfg = (Path(__file__).resolve().parent / "peers" / "kamailio_dispatcher.cfg").read_text()
    for key, value in {"@@LISTEN@@": f"udp:{address}:{SIP_PORT}",
                       "@@LIST@@": str(listing),
                       "@@PING_FROM@@": f"sip:dispatcher@{address}"}.items():
        cfg = cfg.replace(key, value)
    path = Path(t.workdir) / "kamailio.cfg"
    path.write_text(cfg)
    proc = t.start("kamailio", [KAMAILIO, "-f", str(path), "-DD", "-E", "-m", "32", "-M", "4",
                                "-Y", str(t.workdir), "-w", str(t.workdir)])
    wait_until(lambda: udp_bound(address, SIP_PORT) or not proc.alive(), 10.0, 0.05)
    check(proc.alive() and udp_bound(address, SIP_PORT),
          f"kamailio did not start: {proc.stderr_tail(8)}")
    return address


def active_calls(node):
    status = node.status()
    return status["active_calls"] if status else None


def ctl_drain(t, node, *args):
    """`sbcctl drain ARGS` against `node` in the background; its output is
    the progress a network engineer would watch."""
    return t.start(f"drain_{node.name}", [t.sbcctl_bin, "--socket", node.control.socket_path,
                                          "drain", *args])


def wait_exit(node, timeout):
    rc = node.wait(timeout)
    node.stopped = True  # the test's end must not SIGTERM it again
    check(rc is not None, f"{node.name} did not exit within {timeout} s of the drain's end")
    check(rc == 0, f"{node.name} exited with status {rc}: {node.stderr_tail()}")


@e2e_test
def drain_moves_new_calls_to_the_partner(t):
    """50 calls up through A; `sbcctl drain --wait` on A; 50 new calls meanwhile
    all go to B and succeed (A's OPTIONS answers and INVITEs say 503, the
    dispatcher moves on); every call on A completes with its BYE answered, and
    A exits 0 once the last has ended."""
    upstream = start_upstream(t, [t.carrier_sbc, t.carrier(B_HOST)])
    a = start_node(t, "sbcd_a", t.carrier_sbc, t.pbx_sbc, upstream)
    b = start_node(t, "sbcd_b", t.carrier(B_HOST), t.pbx(B_HOST), upstream)
    callee = t.uas("callee", "uas_answer.xml", calls=100, timeout_s=40)

    # Long enough that all 50 are up at once when the drain starts.
    first = t.uac("first", "uac_call.xml", remote=f"{upstream}:{SIP_PORT}", calls=50, rate=25,
                  limit=50, duration_ms=6000, timeout_s=30)
    wait_until(lambda: active_calls(a) == 50 or not first.alive(), 10.0, 0.2)
    check(active_calls(a) == 50, f"A carries {active_calls(a)} calls, not the 50 placed")
    check(active_calls(b) == 0, f"B took {active_calls(b)} of the first calls: not A's first")

    drain = ctl_drain(t, a, "--wait")
    wait_until(lambda: (a.status() or {}).get("drain") is not None, 5.0, 0.1)
    rc, text, raw = a.control.ctl("status", json_output=False)
    check(rc == 0 and re.search(r"draining since \S+, \d+ calls? left, no deadline", raw or ""),
          f"sbcctl status while draining: {raw}")

    second = t.uac("second", "uac_call.xml", remote=f"{upstream}:{SIP_PORT}",
                   port=SIP_PORT + 1, media_port=CARRIER_SIPP_MEDIA + 10, calls=50, rate=25,
                   limit=50, duration_ms=1000, timeout_s=30)
    second.finish(30)
    first.finish(30)
    callee.finish(30)

    wait_exit(a, 15.0)
    check(drain.wait(5.0) == 0,
          f"sbcctl drain --wait: {drain.stdout_tail(4)} {drain.stderr_tail()}")
    progress = Path(drain.stdout_path).read_text()
    check(re.search(r"\d+ calls? left", progress) and "sbcd has exited" in progress,
          f"sbcctl drain --wait printed no progress: {progress[-400:]}")

    # Every call of the first batch ended with its BYE answered 200 on A
    # (sipp's exit says the caller's side); A answered no new call.
    done_a = [c for c in cdrs(t, "sbcd_a") if c["status"] == 200]
    check(len(done_a) == 50, f"A's answered calls: {len(done_a)}, not 50")
    refused = [c for c in cdrs(t, "sbcd_a") if c["status"] != 200]
    check(all(c["status"] == 503 and "draining" in c["reason"] for c in refused),
          f"A refused calls other than by draining: {refused[:3]}")
    byes = [m for m in first.received("SIP/2.0") if m.status == 200 and "BYE" in m.header("CSeq")]
    check(len(byes) == 50, f"the first caller's BYEs answered 200: {len(byes)}, not 50")
    done_b = [c for c in cdrs(t, "sbcd_b") if c["status"] == 200]
    check(len(done_b) == 50, f"B's answered calls: {len(done_b)}, not 50")
    log = Path(a.stderr_path).read_text()
    check("drained: the last call has ended" in log, f"A's log: {a.stderr_tail(5)}")


@e2e_test
def drain_deadline_hangs_up_the_calls_left(t):
    """While a node drains, a new call gets 503 with Retry-After and a
    hand-over without a cluster is refused; calls that outlast the drain's
    deadline are hung up there: BYE both ways, a CDR each that says so, and
    sbcd exits 0 having logged how many."""
    sbcd = t.start_sbcd(extra_top=["cdr:", f"  file: {Path(t.workdir) / 'cdr.jsonl'}"])
    callee = t.uas("callee", "uas_answer.xml", calls=5, timeout_s=30)
    caller = t.uac("caller", "uac_recv_bye.xml", calls=5, rate=10, limit=5, timeout_s=30)
    wait_until(lambda: active_calls(sbcd) == 5 or not caller.alive(), 10.0, 0.1)
    check(active_calls(sbcd) == 5, f"sbcd carries {active_calls(sbcd)} calls, not 5")

    rc, data, raw = sbcd.control.ctl("drain", "--deadline", "6")
    check(rc == 0 and data and data["drain"]["deadline"], f"sbcctl drain --deadline 6: {raw}")
    rc, data, raw = sbcd.control.ctl("drain", "--hand-over")
    check(rc == 1 and "needs a cluster partner" in raw, f"sbcctl drain --hand-over: {raw}")
    rc, text, raw = sbcd.control.ctl("status", json_output=False)
    check(re.search(r"draining since \S+, 5 calls left, deadline \S+ \(in \d+s\)", raw or ""),
          f"sbcctl status while draining: {raw}")
    # Admission is closed: the carrier's next call is refused, with a
    # Retry-After no later than the deadline (the ACL goes by address, so
    # another port of the carrier's host will do).
    refused = t.uac("refused", "uac_reject.xml", port=SIP_PORT + 10,
                    media_port=CARRIER_SIPP_MEDIA + 10, calls=1, timeout_s=5)
    refused.finish(10)
    answers = [m for m in refused.received("SIP/2.0") if m.status == 503]
    check(answers, "no 503 for a new call while draining")
    retry = answers[0].header("Retry-After") or ""
    check(re.match(r"[1-6]\b", retry), f"Retry-After: {retry!r}, not the 1-6 s to the deadline")

    wait_exit(sbcd, 15.0)
    caller.finish(10)  # each call got its BYE and answered it
    callee.finish(10)
    records = [json.loads(line) for line in
               (Path(t.workdir) / "cdr.jsonl").read_text().splitlines() if line.strip()]
    hung_up = [r for r in records if r["status"] == 200]
    check(len(hung_up) == 5 and all(r["disconnect_reason"] == "drain deadline" and
                                    r["disconnected_by"] == "sbc" for r in hung_up),
          f"CDRs: {records}")
    log = Path(sbcd.stderr_path).read_text()
    check("drain deadline reached: hanging up the 5 calls left" in log, f"log: {log[-300:]}")
