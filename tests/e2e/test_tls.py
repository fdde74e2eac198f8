"""End-to-end tests of mutual TLS trunking (issue 3), against stunnel and
openssl s_client as the TLS peers (neither written by this project), with
certificates made at test time (pki.py).

The carrier side: sbcd listens on tls://127.S.1.1:5061 and reaches the carrier
at sip:127.S.1.2:5061;transport=tls, where stunnel terminates TLS in front of
a sipp UAS on TCP 127.S.1.2:5062. The PBX side stays UDP.
"""

import shutil
import signal
import subprocess
import time
from pathlib import Path

from harness import (CARRIER_SIPP_MEDIA, PBX_SIPP_MEDIA, SCENARIOS, SIP_PORT, Process, check,
                     poll_calls_while, tcp_listening, wait_until)
from pki import handshake, make_pki
from test_sbc import max_packets

TESTS = []
TLS_PORT = 5061
BEHIND_STUNNEL = 5062  # the carrier's sipp, plaintext TCP behind stunnel
STUNNEL = shutil.which("stunnel4") or shutil.which("stunnel") or "/usr/bin/stunnel4"


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def tls_config(t, pki, cert="sbc", verify=True, identities=("carrier.test",), peers=None,
               carrier_extra=(), keepalive="{interval: 0}", top_extra=()):
    """Both interfaces; the carrier's with a TLS listener and a TLS peer (or
    `peers`, YAML peer entries); `top_extra`: more top-level lines."""
    ids = ", ".join(identities)
    if peers is None:
        peers = [f'"sip:{t.carrier_peer}:{TLS_PORT};transport=tls"']
    extra = "".join(f"\n    {line}" for line in carrier_extra)
    return t.config_path(f"""interfaces:
  - name: carrier
    listen: [tls://{t.carrier_sbc}:{TLS_PORT}, udp://{t.carrier_sbc}:{SIP_PORT}]
    media_address: {t.carrier_sbc}
    tls:
      certificate: {pki.dir}/{cert}.pem
      private_key: {pki.dir}/{cert}.key
      ca_file: {pki.ca_pem}
  - name: pbx
    listen: [udp://{t.pbx_sbc}:{SIP_PORT}]
    media_address: {t.pbx_sbc}
trunks:
  - name: carrier
    interface: carrier
    peers: [{", ".join(peers)}]
    tls: {{verify: {'true' if verify else 'false'}, identities: [{ids}]}}
    keepalive: {keepalive}{extra}
  - name: pbx
    interface: pbx
    peers: ["{t.pbx_peer}:{SIP_PORT}"]
    keepalive: {{interval: 0}}
routes:
  - {{from_trunk: pbx, to_trunk: carrier}}
  - {{from_trunk: carrier, to_trunk: pbx}}
media: {{port_min: 20000, port_max: 29999}}
control: {{socket: {t.socket_path()}}}
""" + "".join(f"{line}\n" for line in top_extra))


def start_stunnel_server(t, pki, name="stunnel", cert="peer", trust="ca", ip=None):
    """stunnel as the carrier's TLS server on `ip`: requires and verifies a
    client certificate against `trust`, forwards plaintext to the sipp UAS
    on the same address (by default the carrier trunk's peer)."""
    ip = ip or t.carrier_peer
    conf = Path(t.workdir) / f"{name}.conf"
    log = Path(t.workdir) / f"{name}.log"
    conf.write_text(f"""foreground = yes
pid =
output = {log}
debug = info
[sip]
accept = {ip}:{TLS_PORT}
connect = {ip}:{BEHIND_STUNNEL}
cert = {pki.dir}/{cert}.pem
key = {pki.dir}/{cert}.key
CAfile = {pki.dir}/{trust}.pem
verifyChain = yes
sslVersionMin = TLSv1.2
""")
    proc = t.start(name, [STUNNEL, str(conf)])
    wait_until(lambda: tcp_listening(ip, TLS_PORT) or not proc.alive(), 5.0, 0.05)
    check(proc.alive(), f"{name} exited at start: {log.read_text() if log.exists() else ''}")
    proc.log_path = log
    return proc


def carrier_uas(t, name="carrier", calls=1, ip=None):
    """A sipp UAS on TCP behind stunnel; its Contact names the stunnel address
    with transport=tls, so the SBC's in-dialog requests come back over TLS."""
    ip = ip or t.carrier_peer
    text = (SCENARIOS / "uas_answer_media.xml").read_text()
    text = text.replace("Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>",
                        f"Contact: <sip:callee@{ip}:{TLS_PORT};transport=tls>")
    scenario = Path(t.workdir) / "uas_answer_media_tls.xml"
    scenario.write_text(text)
    return t.uas(name, scenario, local_ip=ip, media_port=CARRIER_SIPP_MEDIA,
                 port=BEHIND_STUNNEL, calls=calls, extra=("-t", "t1"))


def trunks(sbcd):
    rc, data, raw = sbcd.control.ctl("trunks")
    check(rc == 0 and isinstance(data, dict), f"sbcctl trunks failed: {raw}")
    return data


def handshakes(sbcd):
    for i in trunks(sbcd)["interfaces"]:
        if i["name"] == "carrier":
            return i["tls"]["handshakes"]
    raise AssertionError("no carrier interface in sbcctl trunks")


@e2e_test
def tls_call_mutual(t):
    """A call from the PBX (UDP) to the carrier over mutual TLS: the SBC presents
    its certificate to stunnel, which verifies it; the SBC verifies the
    carrier's; media flows both ways; sbcctl trunks shows the session."""
    pki = make_pki(Path(t.workdir) / "pki", t)
    sbcd = t.start_sbcd(tls_config(t, pki))
    stunnel = start_stunnel_server(t, pki)
    uas = carrier_uas(t, calls=2)
    uac = t.uac("pbx", "uac_call_media.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=6000)
    samples = poll_calls_while(sbcd, [uac], interval=0.5)
    uac.finish()
    a_b, b_a = max_packets(samples)
    check(a_b > 100 and b_a > 100, f"RTP not relayed both ways over the TLS call: {a_b}/{b_a}")
    invite = uas.received("INVITE")
    check(invite and "SIP/2.0/TLS" in (invite[0].header("via") or ""),
          f"the INVITE's Via does not name TLS: {invite[0].header('via') if invite else None}")
    contact = invite[0].header("contact") or ""
    check(f"{t.carrier_sbc}:{TLS_PORT};transport=tls" in contact,
          f"the INVITE's Contact does not name the SBC's TLS address: {contact}")
    # A second call reuses the connection: still one handshake. It lasts a
    # little: a BYE right behind the ACK reaches the carrier's sipp in the same
    # TCP read, before its scenario has moved past the ACK's audio <nop>, and
    # sipp then aborts the call on an "unexpected BYE".
    uac2 = t.uac("pbx-2", "uac_call.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                 media_port=PBX_SIPP_MEDIA, duration_ms=300)
    uac2.finish()
    uas.finish()
    counts = handshakes(sbcd)
    check(counts.get("completed") == 1,
          f"the second call did not reuse the TLS connection: {counts}")
    peer = trunks(sbcd)["trunks"][0]["peers"][0]
    tls = peer.get("tls") or {}
    check(tls.get("protocol") in ("TLSv1.2", "TLSv1.3") and "carrier.test" in tls.get("subject", ""),
          f"sbcctl trunks shows no TLS session with the carrier: {peer}")
    log = stunnel.log_path.read_text()
    check("sbc.test" in log, "stunnel did not see the SBC's certificate (sbc.test)")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def tls_clients_refused(t):
    """Clients of the carrier's TLS listener without a certificate, with one from
    another CA, with an expired one and with one of the wrong name are each
    refused during the handshake and counted; the right one gets through."""
    pki = make_pki(Path(t.workdir) / "pki", t)
    sbcd = t.start_sbcd(tls_config(t, pki))
    cases = [("no certificate", None, "no_certificate"),
             ("another CA", "other", "untrusted"),
             ("expired", "expired", "expired"),
             ("wrong name", "wrongname", "name_mismatch")]
    for what, cert, counter in cases:
        kw = {"cert": pki.dir / f"{cert}.pem", "key": pki.dir / f"{cert}.key"} if cert else {}
        ok, out = handshake(t.carrier_sbc, TLS_PORT, ca=pki.ca_pem, bind=t.carrier_peer, **kw)
        check(not ok, f"a client with {what} was not refused: {out[-300:]}")
        counts = handshakes(sbcd)
        check(counts.get(counter) == 1, f"a client with {what} is not counted as {counter}: {counts}")
    ok, out = handshake(t.carrier_sbc, TLS_PORT, ca=pki.ca_pem, bind=t.carrier_peer,
                        cert=pki.peer_pem, key=pki.peer_key)
    check(ok, f"the carrier's own certificate was refused: {out[-300:]}")
    # A stranger's address gets no handshake at all.
    ok, _ = handshake(t.carrier_sbc, TLS_PORT, ca=pki.ca_pem, bind=t.carrier(9),
                      cert=pki.peer_pem, key=pki.peer_key)
    check(not ok, "a client from an address of no trunk was not refused")
    counts = handshakes(sbcd)
    check(counts.get("completed", 0) >= 1 and counts.get("unknown_peer") == 1,
          f"handshake counters wrong: {counts}")
    log = sbcd.stderr_tail(50)
    check("no client certificate" in log and "carries none of trunk carrier's identities" in log,
          "sbcd did not log the reasons for the refusals")
    sbcd.stop()


def refusal_reasons(t, verify):
    """Issue 19 item 5: clients offering only TLS 1.1, or only a CBC cipher,
    are refused and counted under `protocol` and `cipher`, whether the
    trunk verifies certificates or not; they present a good certificate, so
    neither is a missing certificate (nor `other`)."""
    pki = make_pki(Path(t.workdir) / "pki", t)
    sbcd = t.start_sbcd(tls_config(t, pki, verify=verify))
    good = {"ca": pki.ca_pem, "bind": t.carrier_peer, "cert": pki.peer_pem, "key": pki.peer_key}
    # Debian's OpenSSL will not offer TLS 1.1 at its default security level.
    ok, out = handshake(t.carrier_sbc, TLS_PORT,
                        extra=["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"], **good)
    check(not ok, f"a TLS 1.1 client was not refused: {out[-300:]}")
    counts = handshakes(sbcd)
    check(counts.get("protocol") == 1, f"the TLS 1.1 client is not counted as protocol: {counts}")
    # The PKI's keys are EC: an ECDSA CBC suite the client could use, were it allowed.
    ok, out = handshake(t.carrier_sbc, TLS_PORT,
                        extra=["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"], **good)
    check(not ok, f"a CBC-only client was not refused: {out[-300:]}")
    counts = handshakes(sbcd)
    check(counts.get("cipher") == 1, f"the CBC-only client is not counted as cipher: {counts}")
    check(counts.get("no_certificate") == 0 and counts.get("other") == 0,
          f"a refusal counted as no_certificate or other: {counts}")
    ok, out = handshake(t.carrier_sbc, TLS_PORT, **good)
    check(ok, f"the carrier's own certificate was refused: {out[-300:]}")
    log = sbcd.stderr_tail(50)
    check("no protocol version in common" in log and "no cipher in common" in log,
          f"sbcd did not log the protocol and cipher refusals: {log}")
    check("no client certificate" not in log,
          f"a refusal was logged as a missing certificate: {log}")
    rc, _, text = sbcd.control.ctl("trunks", json_output=False)
    check(rc == 0 and "protocol 1" in text and "cipher 1" in text,
          f"sbcctl trunks does not show the refusals: {text}")
    sbcd.stop()


@e2e_test
def tls_refusal_reasons_verify(t):
    refusal_reasons(t, verify=True)


@e2e_test
def tls_refusal_reasons_no_verify(t):
    refusal_reasons(t, verify=False)


@e2e_test
def tls_failover_after_verify_failure(t):
    """Issue 19 item 6: the first TLS peer presents a certificate without the
    trunk's identity; the SBC refuses it during the handshake, and that is a
    transport failure: the call moves to the second peer at once (not after
    failover_timeout, 10 s here) and the log names the TLS failure, not a 408."""
    first, second = t.carrier(3), t.carrier(4)
    pki = make_pki(Path(t.workdir) / "pki", t)
    peers = [f'{{uri: "sip:{first}:{TLS_PORT};transport=tls", priority: 1}}',
             f'{{uri: "sip:{second}:{TLS_PORT};transport=tls", priority: 2}}']
    sbcd = t.start_sbcd(tls_config(t, pki, peers=peers, carrier_extra=["failover_timeout: 10"]))
    start_stunnel_server(t, pki, name="stunnel-wrong", cert="wrongname", ip=first)
    start_stunnel_server(t, pki, name="stunnel-good", ip=second)
    uas = carrier_uas(t, ip=second)
    started = time.monotonic()
    # The call lasts a little, as in tls_call_mutual: a BYE right behind the
    # ACK on the TLS leg makes the carrier's sipp abort on an "unexpected BYE".
    uac = t.uac("pbx", "uac_call.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=300)
    wait_until(lambda: uas.received("INVITE") or not uac.alive(), 12.0, 0.05)
    elapsed = time.monotonic() - started
    check(uas.received("INVITE"), "the call never reached the second peer")
    check(elapsed < 3.0, f"the call reached the second peer after {elapsed:.1f} s, "
          "not at once after the TLS failure")
    uac.finish()
    uas.finish()
    log = sbcd.stderr_tail(80)
    check("did not answer in time" not in log, f"the TLS failure was taken for silence: {log}")
    named = [line for line in log.splitlines()
             if f"{first}:{TLS_PORT}" in line and "failed, TLS: certificate" in line and
             "carries none of trunk carrier's identities" in line and "trying" in line]
    check(named, f"the failover does not name the TLS failure: {log}")
    peer = trunks(sbcd)["trunks"][0]["peers"][0]
    failure = peer.get("tls_failure") or {}
    check("carries none of trunk carrier's identities" in failure.get("reason", ""),
          f"sbcctl trunks does not show the first peer's TLS failure: {peer}")
    check(handshakes(sbcd).get("name_mismatch") == 1, f"not counted: {handshakes(sbcd)}")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def tls_keepalive_verify_failure(t):
    """A TLS peer whose certificate the SBC refuses fails its OPTIONS at once
    with the TLS reason as the result, and is marked down; sbcctl trunks
    shows why."""
    pki = make_pki(Path(t.workdir) / "pki", t)
    sbcd = t.start_sbcd(tls_config(
        t, pki, keepalive="{interval: 1, timeout: 5, down_after: 2, up_after: 1}"))
    start_stunnel_server(t, pki, cert="wrongname")

    def peer():
        return trunks(sbcd)["trunks"][0]["peers"][0]
    # Two pings 1 s apart, each failing at its handshake: down well before
    # a single 5 s timeout could have expired.
    wait_until(lambda: peer()["state"] == "down", 4.5, 0.1)
    p = peer()
    check(p["state"] == "down", f"the peer with the wrong certificate is not down: {p}")
    check(p["last_result"].startswith("TLS: certificate") and
          "carries none of trunk carrier's identities" in p["last_result"],
          f"the peer's last OPTIONS result does not name the TLS failure: {p}")
    check("carries none" in (p.get("tls_failure") or {}).get("reason", ""),
          f"sbcctl trunks shows no TLS failure for the peer: {p}")
    rc, _, text = sbcd.control.ctl("trunks", json_output=False)
    check(rc == 0 and "failed" in text and "carries none" in text,
          f"the sbcctl trunks table does not show the TLS failure: {text}")
    sbcd.stop()


@e2e_test
def tls_sbc_refused_by_untrusting_peer(t):
    """A carrier that does not trust the SBC's CA refuses the SBC's outbound
    TLS connection: stunnel says why, and the call fails with 503 to the
    caller. (With TLS 1.3 the client's handshake is over before the server
    checks the client's certificate; the SBC counts the refusal when the
    server says so with an alert, but stunnel may just reset.)"""
    pki = make_pki(Path(t.workdir) / "pki", t)
    sbcd = t.start_sbcd(tls_config(t, pki))
    stunnel = start_stunnel_server(t, pki, trust="other-ca")
    uac = t.uac("pbx", "uac_reject.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA)
    uac.finish()
    finals = [m for m in uac.received() if m.is_response and m.status >= 300]
    check(finals and finals[0].status == 503,
          f"the caller got {[m.first_line for m in finals]} instead of 503")
    wait_until(lambda: "certificate verify failed" in stunnel.log_path.read_text(), 5.0, 0.1)
    check("certificate verify failed" in stunnel.log_path.read_text(),
          "stunnel did not refuse the SBC's certificate")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def tls_reload_certificate(t):
    """The SBC's certificate is swapped on disk and `sbcctl reload` applied: the
    call already up stays up, and the next handshake presents the new one."""
    pki = make_pki(Path(t.workdir) / "pki", t)
    live = Path(t.workdir) / "live"
    live.mkdir()
    shutil.copy(pki.sbc_pem, live / "sbc.pem")
    shutil.copy(pki.sbc_key, live / "sbc.key")
    config = tls_config(t, pki)
    config.write_text(config.read_text().replace(f"{pki.dir}/sbc.", f"{live}/sbc."))
    sbcd = t.start_sbcd(config)
    start_stunnel_server(t, pki)
    uas = carrier_uas(t)
    uac = t.uac("pbx", "uac_call_media.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=6000)
    wait_until(lambda: any(c.get("state") == "established" for c in sbcd.calls()) or
               not uac.alive(), 10.0, 0.2)
    check(uac.alive(), "the call ended before the reload")
    ok, out = handshake(t.carrier_sbc, TLS_PORT, ca=pki.ca_pem, bind=t.carrier_peer,
                        cert=pki.peer_pem, key=pki.peer_key)
    check(ok and "CN = sbc.test" in out and "rotated" not in out,
          f"before the reload the SBC did not present sbc.test: {out[-300:]}")
    shutil.copy(pki.sbc2_pem, live / "sbc.pem")
    shutil.copy(pki.sbc2_key, live / "sbc.key")
    rc, data, raw = sbcd.control.ctl("reload")
    check(rc == 0 and data and data.get("ok"), f"sbcctl reload failed: {raw}")
    ok, out = handshake(t.carrier_sbc, TLS_PORT, ca=pki.ca_pem, bind=t.carrier_peer,
                        cert=pki.peer_pem, key=pki.peer_key)
    check(ok and "sbc.test rotated" in out,
          f"after the reload the SBC did not present the new certificate: {out[-300:]}")
    # The call set up before the reload ends normally, over the old connection.
    uac.finish()
    uas.finish()
    first_bye = uas.received("BYE")
    check(first_bye, "the call's BYE did not reach the carrier after the reload")
    # A broken file makes the reload fail and changes nothing.
    (live / "sbc.key").write_text("not a key\n")
    rc, data, raw = sbcd.control.ctl("reload")
    check(rc != 0 and data and not data.get("ok") and "private_key" in " ".join(data["errors"]),
          f"a reload with a broken key did not fail with the reason: {raw}")
    ok, out = handshake(t.carrier_sbc, TLS_PORT, ca=pki.ca_pem, bind=t.carrier_peer,
                        cert=pki.peer_pem, key=pki.peer_key)
    check(ok and "sbc.test rotated" in out, "a failed reload changed the certificate")
    # SIGHUP reloads as well: back to the first certificate.
    shutil.copy(pki.sbc_pem, live / "sbc.pem")
    shutil.copy(pki.sbc_key, live / "sbc.key")
    sbcd.signal(signal.SIGHUP)
    wait_until(lambda: "loaded for new connections" in sbcd.stderr_tail(5), 5.0, 0.1)
    ok, out = handshake(t.carrier_sbc, TLS_PORT, ca=pki.ca_pem, bind=t.carrier_peer,
                        cert=pki.peer_pem, key=pki.peer_key)
    check(ok and "CN = sbc.test" in out and "rotated" not in out,
          f"SIGHUP did not bring the first certificate back: {out[-300:]}")
    sbcd.assert_no_calls()
    sbcd.stop()


# Peers by name over TLS (issue 21 item 2): dnsmasq (as in test_dns_peers)
# answers carrier.test and alias.test with the carrier's address, where
# stunnel presents the certificate of carrier.test.
DIALLED = "carrier.test"


def start_name_server(t):
    from test_dns_peers import DNS_HOST, DNS_PORT, start_dnsmasq
    start_dnsmasq(t, [f"--host-record={DIALLED},{t.carrier_peer},600",
                      f"--host-record=alias.test,{t.carrier_peer},600"])
    return [f'dns: {{servers: ["{t.carrier(DNS_HOST)}:{DNS_PORT}"]}}']


def wait_resolved(sbcd):
    """Waits until the carrier's peer name has a current target."""
    def resolved():
        peer = trunks(sbcd)["trunks"][0]["peers"][0]
        return any(x.get("current") for x in peer.get("targets", []))
    check(wait_until(resolved, 10.0, 0.05),
          f"the peer name did not resolve: {trunks(sbcd)['trunks'][0]['peers'][0]}")


def start_sni_stunnel(t, pki):
    """stunnel whose default service leads nowhere (a closed port) and whose
    SNI virtual service for carrier.test leads to the carrier's sipp: a call
    gets through only if the SBC sent SNI carrier.test (RFC 6066 3)."""
    ip = t.carrier_peer
    conf = Path(t.workdir) / "stunnel-sni.conf"
    log = Path(t.workdir) / "stunnel-sni.log"
    tls = f"""cert = {pki.dir}/peer.pem
key = {pki.dir}/peer.key
CAfile = {pki.dir}/ca.pem
verifyChain = yes
"""
    conf.write_text(f"""foreground = yes
pid =
output = {log}
debug = debug
[sip]
accept = {ip}:{TLS_PORT}
connect = {ip}:{BEHIND_STUNNEL + 1}
{tls}[sip-by-name]
sni = sip:{DIALLED}
connect = {ip}:{BEHIND_STUNNEL}
{tls}""")
    proc = t.start("stunnel", [STUNNEL, str(conf)])
    wait_until(lambda: tcp_listening(ip, TLS_PORT) or not proc.alive(), 5.0, 0.05)
    check(proc.alive(), f"stunnel exited at start: {log.read_text() if log.exists() else ''}")
    proc.log_path = log
    return proc


@e2e_test
def tls_peer_by_name_sends_sni(t):
    """A TLS peer given by name: the SBC sends the name it dialled as SNI
    (stunnel routes on it), checks the carrier's certificate against that
    name with no `identities` configured (RFC 6125), and the call completes."""
    pki = make_pki(Path(t.workdir) / "pki", t)
    dns = start_name_server(t)
    sbcd = t.start_sbcd(tls_config(t, pki, identities=(), top_extra=dns,
                                   peers=[f'"sip:{DIALLED}:{TLS_PORT};transport=tls"']))
    wait_resolved(sbcd)
    stunnel = start_sni_stunnel(t, pki)
    uas = carrier_uas(t)
    uac = t.uac("pbx", "uac_call.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=300)
    uac.finish()
    uas.finish()
    log = stunnel.log_path.read_text()
    check(f"SNI: requested servername: {DIALLED}" in log and "switched to service [sip-by-name]" in log,
          f"stunnel did not see SNI {DIALLED}: {log[-600:]}")
    check(handshakes(sbcd).get("completed") == 1, f"handshakes: {handshakes(sbcd)}")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def tls_peer_by_name_wrong_certificate(t):
    """The name dialled (alias.test) is not on the certificate the address
    presents (carrier.test): the SBC refuses the handshake as name_mismatch,
    says why, and the caller gets 503."""
    pki = make_pki(Path(t.workdir) / "pki", t)
    dns = start_name_server(t)
    sbcd = t.start_sbcd(tls_config(t, pki, identities=(), top_extra=dns,
                                   peers=[f'"sip:alias.test:{TLS_PORT};transport=tls"']))
    wait_resolved(sbcd)
    start_stunnel_server(t, pki)
    uac = t.uac("pbx", "uac_reject.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA)
    uac.finish()
    finals = [m.status for m in uac.received() if m.is_response and m.status >= 300]
    check(finals == [503], f"the caller got {finals}, expected 503")
    check(handshakes(sbcd).get("name_mismatch") == 1, f"handshakes: {handshakes(sbcd)}")
    check("not for the dialled name alias.test" in sbcd.stderr_tail(50),
          "sbcd did not log why it refused carrier.test's certificate for alias.test")
    sbcd.stop()
