"""End-to-end test of registrations that outlive the node they were made
with (issue 22, item 3): a phone registers through the shared address with
the active node of a redundant pair (cluster_net.py), which writes the
binding to Redis; the node dies, its partner takes the binding over with
its calls, and a call to the phone's user through the partner reaches the
phone at the address it registered from.
"""

import cluster_net
from cluster_net import SUBNET_BITS, VIP_PBX
from harness import SIP_PORT, check, wait_until
from test_cluster_calls import cluster_of, cluster_pair

TESTS = []


def e2e_test(fn):
    TESTS.append(fn)
    return fn


# The phone: an address of its own in the callee's namespace (the callee's
# own address is the pbx trunk's peer, whose REGISTERs the pbx trunk would
# take and refuse).
PHONE_IP = "192.0.2.13"
PHONE_PORT = 5062
PHONES = [
    "  - name: phones",
    "    interface: pbx",
    "    peers: []",
    f"    registrar: {{domain: sbc.example, sources: [{PHONE_IP}/32]}}",
    "    challenge: {realm: sbc.example, users: [{username: '2001', password: pw2001}]}",
    "    keepalive: {interval: 0}",
]
ROUTES = [
    {"name": "to-phones", "from_trunk": "carrier", "ruri_user": "^20", "to_trunk": "phones"},
    {"name": "carrier-to-pbx", "from_trunk": "carrier", "to_trunk": "pbx"},
    {"name": "pbx-to-carrier", "from_trunk": "pbx", "to_trunk": "carrier"},
]


def phone(pair, name, scenario, **kw):
    """A sipp on the phone's address and port in the callee's namespace."""
    sipp = cluster_net.Sipp(pair.t, name, scenario, PHONE_IP, port=PHONE_PORT,
                            netns=pair.ns("callee"), media_port=7200, **kw)
    pair.t._processes.append(sipp)
    return sipp


def stored_registrations(pair):
    rc, out = pair.redis_cli("--scan", "--pattern", "sbc:reg:*")
    check(rc == 0, f"redis-cli --scan failed: {out}")
    return sorted(out.split())


@e2e_test
def cluster_registration_survives_node_loss(t):
    """The phone registers 2001 through the pbx-side shared address with a;
    a writes the binding to the store; a dies (kill -9 of sbcd and
    keepalived, its link down); b becomes master and takes the binding over
    (written as b's, a's deleted); a call from the carrier to 2001 through b
    reaches the phone at its address and port."""
    pair = cluster_pair(t, routes=ROUTES, extra_trunks=PHONES)
    pair.exec_in("callee", "ip", "addr", "add", f"{PHONE_IP}/{SUBNET_BITS}",
                 "dev", pair.ifname("callee"))

    reg = phone(pair, "register", "uac_register.xml", remote=f"{VIP_PBX}:{SIP_PORT}",
                service="2001", extra=["-au", "2001", "-ap", "pw2001"])
    reg.finish(timeout=15)

    def written():
        r = cluster_of(pair, "a")["registrations"]
        return r["up"] and r["queue"] == 0 and r["in_flight"] == 0 and r["written"] >= 1
    check(wait_until(written, 10.0, 0.05),
          f"a did not write the binding: {cluster_of(pair, 'a')['registrations']}")
    check(stored_registrations(pair) == ["sbc:reg:a:phones:2001"],
          f"the store holds {stored_registrations(pair)}")

    pair.kill_node("a")
    pair.wait_master("b")

    def taken():
        return cluster_of(pair, "b")["registrations"]["last_load"]["adopted"] == 1 and \
            stored_registrations(pair) == ["sbc:reg:b:phones:2001"]
    check(wait_until(taken, 10.0, 0.05),
          f"b did not take the binding over: {cluster_of(pair, 'b')['registrations']}, "
          f"the store holds {stored_registrations(pair)}")
    rc, data, raw = pair.sbcctl("b", "trunks")
    check(rc == 0, f"sbcctl trunks on b failed: {raw}")
    bindings = next(tr for tr in data["trunks"] if tr["name"] == "phones")["registrations"]
    check([(b["user"], b["source"]) for b in bindings] == [("2001", f"{PHONE_IP}:{PHONE_PORT}")],
          f"b's bindings: {bindings}")

    uas = phone(pair, "phone", "uas_answer.xml")
    wait_until(lambda: cluster_net.bound_in_namespace_of(uas.pid, PHONE_IP, PHONE_PORT)
               or not uas.alive(), 5.0, 0.05)
    uac = pair.uac("carrier", "uac_call.xml", service="2001", duration_ms=200)
    uac.finish(timeout=30)
    uas.finish(timeout=10)
    invites = uas.received("INVITE")
    check(len(invites) == 1 and
          invites[0].first_line.split()[1] == f"sip:2001@{PHONE_IP}:{PHONE_PORT}",
          f"the phone got {[m.first_line for m in invites]}")
    cdrs = pair.cdrs("b")
    check(len(cdrs) == 1 and cdrs[0].get("status") == 200, f"b's CDRs: {cdrs}")
