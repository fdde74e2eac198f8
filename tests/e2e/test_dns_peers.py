"""End-to-end tests of trunk peers given by host name (issue 21, item 1; RFC
3263). The carrier trunk's peer is `sip:carrier.sbc.test`; a dnsmasq the test
starts on host 53 of its carrier block (port 5353, the zone sbc.test alone,
nothing forwarded) serves NAPTR -> SRV -> A records that lead to sipp peers on
hosts 3 and 4, and sbcd's `dns: servers:` points at it. The pbx (sipp on the
pbx peer) calls the carrier.
"""

import os
import shutil
import socket

from harness import PBX_SIPP_MEDIA, SCENARIOS, SIP_PORT, check, wait_until

TESTS = []
NAME = "carrier.sbc.test"
DNS_HOST, DNS_PORT = 53, 5353
FIRST_HOST, SECOND_HOST = 3, 4


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def dnsmasq_binary():
    for path in ("/usr/sbin/dnsmasq", shutil.which("dnsmasq")):
        if path and os.path.exists(path):
            return path
    raise FileNotFoundError("dnsmasq (Debian's dnsmasq-base) is not installed")


def records(t, ttl=600, hosts=(FIRST_HOST, SECOND_HOST)):
    """NAPTR -> SRV -> A for carrier.sbc.test: each of `hosts` a target on
    port 5060, the first at SRV priority 10, the next at 20."""
    r = [f"--local-ttl={ttl}",
         f"--naptr-record={NAME},10,50,s,SIP+D2U,,_sip._udp.{NAME}"]
    for i, host in enumerate(hosts):
        r += [f"--srv-host=_sip._udp.{NAME},h{host}.sbc.test,{SIP_PORT},{10 * (i + 1)},100",
              f"--host-record=h{host}.sbc.test,{t.carrier(host)},{ttl}"]
    return r


def start_dnsmasq(t, recs):
    """dnsmasq on the test's own address, serving `recs`; returns once it answers."""
    address = t.carrier(DNS_HOST)
    argv = [dnsmasq_binary(), "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
            "--conf-file=/dev/null", "--pid-file=", "--log-facility=-", f"--port={DNS_PORT}",
            f"--listen-address={address}", "--bind-interfaces", "--local=/sbc.test/"] + recs
    proc = t.start("dnsmasq", argv)
    check(wait_until(lambda: dns_answers(address) or not proc.alive(), 5.0, 0.02) and proc.alive(),
          f"dnsmasq did not start: {proc.stderr_path.read_text(errors='replace')[-500:]}")
    return proc


def dns_answers(address):
    """True when something answers a DNS query (SOA of sbc.test) on address:5353."""
    query = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             b"\x03sbc\x04test\x00\x00\x06\x00\x01")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.05)
        try:
            s.sendto(query, (address, DNS_PORT))
            return s.recv(512)[:2] == b"\x12\x34"
        except OSError:
            return False


def dns_top(server):
    return [f'dns: {{servers: ["{server}"]}}']


def named_peer(data, trunk="carrier"):
    tr = next(x for x in data["trunks"] if x["name"] == trunk)
    return tr["peers"][0]


def trunks(sbcd):
    rc, data, raw = sbcd.control.ctl("trunks")
    check(rc == 0 and isinstance(data, dict), f"sbcctl trunks failed: {raw}")
    return data


def wait_resolved(sbcd, count):
    """Waits until the carrier's name has `count` current targets."""
    def resolved():
        p = named_peer(trunks(sbcd))
        return len([x for x in p.get("targets", []) if x["current"]]) == count and p
    peer = wait_until(resolved, 10.0, 0.05)
    check(peer, f"{NAME} did not resolve to {count} target(s): {named_peer(trunks(sbcd))}")
    return peer


def caller(t, name, scenario="uac_call.xml"):
    return t.uac(name, scenario, local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                 media_port=PBX_SIPP_MEDIA)


def reject_scenario(t, code):
    template = (SCENARIOS / "uas_reject.xml").read_text()
    path = t.workdir / f"uas_reject_{code}.xml"
    path.write_text(template.replace("[code]", str(code)))
    return path


def statuses(sipp):
    return [m.status for m in sipp.received() if m.is_response]


def check_dialled_name(uas):
    """The INVITE carried the name the SBC dialled (RFC 3263), not the address."""
    invites = uas.received("INVITE")
    check(invites, f"{uas.name} received no INVITE")
    first_line = invites[0].first_line
    check(f"@{NAME}" in first_line, f"the Request-URI is not the name: {first_line}")
    check(NAME in invites[0].header("to"), f"To does not name {NAME}: {invites[0].header('to')}")


@e2e_test
def dns_call_by_name(t):
    """(a) A call to a trunk whose peer is sip:carrier.sbc.test, resolved
    through NAPTR, SRV and A to a sipp uas; sbcctl shows the name and its
    targets."""
    start_dnsmasq(t, records(t))
    sbcd = t.start_sbcd(carrier_peers=[f'"sip:{NAME}"'],
                        extra_top=dns_top(f"{t.carrier(DNS_HOST)}:{DNS_PORT}"))
    peer = wait_resolved(sbcd, 2)
    check(peer["name"] == f"sip:{NAME}" and not peer["stale"] and peer["last_error"] is None,
          f"sbcctl trunks: {peer}")
    check([x["address"] for x in peer["targets"]] == [t.carrier(FIRST_HOST), t.carrier(SECOND_HOST)],
          f"targets out of SRV order: {peer['targets']}")
    uas = t.uas("first", "uas_answer.xml", local_ip=t.carrier(FIRST_HOST), media_port=6002)
    uac = caller(t, "pbx")
    uac.finish()
    uas.finish()
    check(200 in statuses(uac), f"the caller saw {statuses(uac)}, no 200")
    check_dialled_name(uas)
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def dns_failover_across_srv_targets(t):
    """(b) The priority-10 SRV target answers 503: the call completes on the
    priority-20 one."""
    start_dnsmasq(t, records(t))
    sbcd = t.start_sbcd(carrier_peers=[f'"sip:{NAME}"'],
                        extra_top=dns_top(f"{t.carrier(DNS_HOST)}:{DNS_PORT}"))
    wait_resolved(sbcd, 2)
    busy = t.uas("first", reject_scenario(t, 503), local_ip=t.carrier(FIRST_HOST),
                 media_port=6002)
    uas = t.uas("second", "uas_answer.xml", local_ip=t.carrier(SECOND_HOST), media_port=6004)
    uac = caller(t, "pbx")
    uac.finish()
    uas.finish()
    busy.finish()
    got = statuses(uac)
    check(200 in got and 503 not in got, f"the caller saw {got}, not a 200")
    check(busy.received("INVITE"), "the priority-10 target got no INVITE")
    check_dialled_name(uas)
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def dns_stale_answer_used(t):
    """(c) dnsmasq stops: past its TTL the answer is shown stale and kept, and
    calls still go to it."""
    ttl = 2
    dns = start_dnsmasq(t, records(t, ttl=ttl, hosts=(FIRST_HOST,)))
    sbcd = t.start_sbcd(carrier_peers=[f'"sip:{NAME}"'],
                        extra_top=dns_top(f"{t.carrier(DNS_HOST)}:{DNS_PORT}"))
    wait_resolved(sbcd, 1)
    dns.kill()
    peer = wait_until(lambda: (p := named_peer(trunks(sbcd)))["stale"] and p, ttl + 5.0, 0.1)
    check(peer, f"the answer never became stale: {named_peer(trunks(sbcd))}")
    check(peer["targets"] and peer["targets"][0]["current"], f"the stale answer was dropped: {peer}")
    uas = t.uas("first", "uas_answer.xml", local_ip=t.carrier(FIRST_HOST), media_port=6002)
    uac = caller(t, "pbx")
    uac.finish()
    uas.finish()
    check(200 in statuses(uac), f"the caller saw {statuses(uac)}, no 200")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def dns_record_change_followed(t):
    """(e) The name's record moves from host 3 to host 4 with a 2-s TTL: sbcd
    follows it without a restart, and the next call goes to host 4."""
    ttl = 2
    dns = start_dnsmasq(t, records(t, ttl=ttl, hosts=(FIRST_HOST,)))
    sbcd = t.start_sbcd(carrier_peers=[f'"sip:{NAME}"'],
                        extra_top=dns_top(f"{t.carrier(DNS_HOST)}:{DNS_PORT}"))
    wait_resolved(sbcd, 1)
    dns.kill()
    start_dnsmasq(t, records(t, ttl=ttl, hosts=(SECOND_HOST,)))

    def moved():
        targets = [x["address"] for x in named_peer(trunks(sbcd))["targets"] if x["current"]]
        return targets == [t.carrier(SECOND_HOST)]
    check(wait_until(moved, ttl + 8.0, 0.1),
          f"the new record was not followed: {named_peer(trunks(sbcd))}")
    old = t.uas("old", "uas_answer.xml", local_ip=t.carrier(FIRST_HOST), media_port=6002)
    uas = t.uas("new", "uas_answer.xml", local_ip=t.carrier(SECOND_HOST), media_port=6004)
    uac = caller(t, "pbx")
    uac.finish()
    uas.finish()
    old.kill()
    check(200 in statuses(uac), f"the caller saw {statuses(uac)}, no 200")
    check(not old.received("INVITE"), "the call went to the old address")
    sbcd.assert_no_calls()
    sbcd.stop()


def options_answered(t, local_ip, remote_ip, timeout):
    """Sends an OPTIONS from `local_ip` to the SBC at `remote_ip`; the status
    of its answer, or None after `timeout` s."""
    s = t.udp_socket(local_ip)
    port = s.getsockname()[1]
    msg = (f"OPTIONS sip:{remote_ip}:{SIP_PORT} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP {local_ip}:{port};branch=z9hG4bK-dns-e2e-1\r\n"
           f"From: <sip:ping@{local_ip}:{port}>;tag=dns1\r\n"
           f"To: <sip:{remote_ip}:{SIP_PORT}>\r\n"
           "Call-ID: dns-e2e-options-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
           "Content-Length: 0\r\n\r\n")
    s.sendto(msg.encode(), (remote_ip, SIP_PORT))
    s.settimeout(timeout)
    try:
        data = s.recv(65535).decode(errors="replace")
    except socket.timeout:
        return None
    return int(data.split()[1]) if data.startswith("SIP/2.0 ") else None


@e2e_test
def dns_silent_resolver_blocks_nothing(t):
    """(d) The only DNS server never answers: sbcd starts, an IP trunk's
    OPTIONS and calls are served at once, and calls to the named trunk get
    503."""
    silent = t.udp_socket(t.carrier(DNS_HOST), DNS_PORT)  # bound, never read
    check(silent is not None, "no silent socket")
    ip_trunk = ["  - name: carrier-ip", "    interface: carrier",
                f'    peers: ["{t.carrier_peer}:{SIP_PORT}"]', "    keepalive: {interval: 0}"]
    routes = [{"name": "ip-to-pbx", "from_trunk": "carrier-ip", "to_trunk": "pbx"},
              {"name": "pbx-to-named", "from_trunk": "pbx", "to_trunk": "carrier"}]
    sbcd = t.start_sbcd(carrier_peers=[f'"sip:{NAME}"'], extra_trunks=ip_trunk, routes=routes,
                        extra_top=dns_top(f"{t.carrier(DNS_HOST)}:{DNS_PORT}"))
    # The resolver waits 5 s for each query; an answer within 3 s shows the
    # loop was not waiting with it.
    status = options_answered(t, t.pbx_peer, t.pbx_sbc, 3.0)
    check(status == 200, f"OPTIONS from the pbx got {status}, not 200 at once")
    uas = t.uas("pbx", "uas_answer.xml", local_ip=t.pbx_peer, media_port=PBX_SIPP_MEDIA)
    uac = t.uac("carrier-ip", "uac_call.xml", local_ip=t.carrier_peer, media_port=6002)
    uac.finish()
    uas.finish()
    check(200 in statuses(uac), f"the IP trunk's call saw {statuses(uac)}, no 200")
    named = caller(t, "to-named", "uac_reject.xml")
    named.finish()
    check(503 in statuses(named), f"the named trunk's call saw {statuses(named)}, not 503")
    peer = named_peer(trunks(sbcd))
    check(peer["targets"] == [] and peer["state"] == "down", f"sbcctl trunks: {peer}")
    sbcd.assert_no_calls()
    sbcd.stop()
