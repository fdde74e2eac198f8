"""End-to-end tests of failover across a trunk's peers and of OPTIONS
keepalive (issue 3). The carrier trunk has peers on hosts 3 and 4 of the
test's carrier block; a "silent" peer is a UDP socket that reads and never answers, the
others are sipp.
"""

import socket
import time
from pathlib import Path

from harness import (PBX_SIPP_MEDIA, SCENARIOS, SIP_PORT, check, drain, wait_until)

TESTS = []
# The carrier trunk's two peers: hosts 3 and 4 of the test's carrier block.
FIRST_HOST, SECOND_HOST = 3, 4
KEEPALIVE = "{interval: 1, timeout: 1, down_after: 2, up_after: 1}"


def first_peer(t):
    return t.carrier(FIRST_HOST)


def second_peer(t):
    return t.carrier(SECOND_HOST)


def peer_list(t):
    return [f'{{uri: "{first_peer(t)}:{SIP_PORT}", priority: 1}}',
            f'{{uri: "{second_peer(t)}:{SIP_PORT}", priority: 2}}']


def e2e_test(fn):
    TESTS.append(fn)
    return fn


class SilentPeer:
    """A SIP address that swallows everything: a peer that never answers."""

    def __init__(self, t, ip):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, SIP_PORT))
        self.seen = []
        t._sockets.append(self.sock)

    def poll(self, wait=0.0):
        self.seen += [d.decode(errors="replace") for d, _ in drain(self.sock, wait)]
        return self.seen

    def requests(self, method):
        return [m for m in self.poll() if m.startswith(method + " ")]

    def close(self):
        self.sock.close()


def caller(t, name, scenario="uac_call.xml"):
    return t.uac(name, scenario, local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                 media_port=PBX_SIPP_MEDIA)


def reject_scenario(t, code):
    template = (SCENARIOS / "uas_reject.xml").read_text()
    path = Path(t.workdir) / f"uas_reject_{code}.xml"
    path.write_text(template.replace("[code]", str(code)))
    return path


def statuses(sipp):
    return [m.status for m in sipp.received() if m.is_response]


def peer_states(sbcd):
    rc, data, raw = sbcd.control.ctl("trunks")
    check(rc == 0 and isinstance(data, dict), f"sbcctl trunks failed: {raw}")
    carrier = next(tr for tr in data["trunks"] if tr["name"] == "carrier")
    return {p["uri"].split(":")[1]: p["state"] for p in carrier["peers"]}


@e2e_test
def failover_silent_peer(t):
    """The first peer never answers: after failover_timeout the call is tried on
    the second and completes; the caller sees one 100 Trying and the 200."""
    sbcd = t.start_sbcd(carrier_peers=peer_list(t), carrier_extra=["failover_timeout: 2"])
    silent = SilentPeer(t, first_peer(t))
    uas = t.uas("second", "uas_answer.xml", local_ip=second_peer(t), media_port=6002)
    uac = caller(t, "pbx")
    uac.finish()
    uas.finish()
    check(silent.requests("INVITE"), "the first peer never got the INVITE")
    first(uas, "INVITE")
    got = statuses(uac)
    check(got.count(100) == 1 and 200 in got and not [s for s in got if s >= 300],
          f"the caller saw {got}, not one 100 Trying and a 200")
    sbcd.assert_no_calls()
    sbcd.stop()


def first(sipp, method):
    msgs = sipp.received(method)
    check(msgs, f"{sipp.name} received no {method}")
    return msgs[0]


@e2e_test
def failover_on_503(t):
    """The first peer answers 503: the call completes on the second, and the
    caller never hears of the 503."""
    sbcd = t.start_sbcd(carrier_peers=peer_list(t))
    busy = t.uas("first", reject_scenario(t, 503), local_ip=first_peer(t), media_port=6002)
    uas = t.uas("second", "uas_answer.xml", local_ip=second_peer(t), media_port=6004)
    uac = caller(t, "pbx")
    uac.finish()
    uas.finish()
    busy.finish()
    got = statuses(uac)
    check(got.count(100) == 1 and 200 in got and 503 not in got,
          f"the caller saw {got}, not one 100 Trying and a 200")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def all_peers_fail_503(t):
    """Both peers fail (one 503, then one silent): the caller gets 503, as no
    peer could take the call. (When the last peer's failure is its own
    response, the caller gets that response mapped instead: a single peer's
    503 becomes 500, see test_sbc.failures_mapped.)"""
    sbcd = t.start_sbcd(carrier_peers=peer_list(t), carrier_extra=["failover_timeout: 1"])
    busy = t.uas("first", reject_scenario(t, 503), local_ip=first_peer(t), media_port=6002)
    silent = SilentPeer(t, second_peer(t))
    uac = caller(t, "pbx", "uac_reject.xml")
    uac.finish()
    busy.finish()
    check(silent.requests("INVITE"), "the second peer was not tried")
    finals = [s for s in statuses(uac) if s >= 300]
    check(finals == [503], f"the caller got {finals} instead of 503")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def keepalive_marks_peer_down_and_up(t):
    """OPTIONS every second: the silent first peer is marked down after two
    unanswered pings, and a call then goes straight to the second peer; once
    the first peer answers OPTIONS it is marked up again. The second peer is a
    sipp UAS that answers OPTIONS as well as the call (uas_answer_options.xml)."""
    sbcd = t.start_sbcd(carrier_peers=peer_list(t), keepalive=KEEPALIVE)
    silent = SilentPeer(t, first_peer(t))
    second = t.uas("second", "uas_answer_options.xml", local_ip=second_peer(t), media_port=6004,
                   calls=1000, timeout_s=60)
    wait_until(lambda: peer_states(sbcd).get(first_peer(t)) == "down", 10.0, 0.2)
    check(peer_states(sbcd).get(first_peer(t)) == "down",
          f"the silent peer is not marked down: {peer_states(sbcd)}")
    check(peer_states(sbcd).get(second_peer(t)) == "up",
          f"the answering peer is not up: {peer_states(sbcd)}")
    check(len(silent.requests("OPTIONS")) >= 2, "the silent peer got fewer than 2 OPTIONS")
    uac = caller(t, "pbx")
    uac.finish()
    check(not silent.requests("INVITE"), "the INVITE went to the peer marked down")
    first(second, "INVITE")
    # The first peer comes back.
    silent.close()
    back = t.uas("first", "uas_answer_options.xml", local_ip=first_peer(t), media_port=6002,
                 calls=1000, timeout_s=60)
    wait_until(lambda: peer_states(sbcd).get(first_peer(t)) == "up", 10.0, 0.2)
    check(peer_states(sbcd).get(first_peer(t)) == "up",
          f"the peer that answers again is not marked up: {peer_states(sbcd)}")
    uac2 = caller(t, "pbx-again")
    uac2.finish()
    first(back, "INVITE")
    sbcd.assert_no_calls()
    sbcd.stop()
    for sipp in (second, back):
        sipp.kill()


@e2e_test
def all_peers_down_503_at_once(t):
    """With every peer marked down by OPTIONS, a call gets 503 and no INVITE
    is sent to any peer."""
    sbcd = t.start_sbcd(carrier_peers=peer_list(t), keepalive=KEEPALIVE)
    silent = [SilentPeer(t, first_peer(t)), SilentPeer(t, second_peer(t))]
    wait_until(lambda: set(peer_states(sbcd).values()) == {"down"}, 10.0, 0.2)
    check(set(peer_states(sbcd).values()) == {"down"},
          f"the silent peers are not marked down: {peer_states(sbcd)}")
    uac = caller(t, "pbx", "uac_reject.xml")
    uac.finish()
    finals = [s for s in statuses(uac) if s >= 300]
    check(finals == [503], f"the caller got {finals} instead of 503")
    check(not any(s.requests("INVITE") for s in silent), "an INVITE went to a peer marked down")
    sbcd.assert_no_calls()
    sbcd.stop()
