"""End-to-end tests of digest authentication (issue 6): the SBC answers a
carrier's 407 with the trunk's credentials (the caller sees one 100 Trying),
and challenges INVITEs from a trunk that must authenticate, letting through
only those with valid credentials (which never reach the other side).
"""

import hashlib
import re
import shutil
from pathlib import Path

from harness import (PBX_SIPP_MEDIA, SCENARIOS, SIP_PORT, cdr_lines, check, read_cdrs, udp_bound,
                     wait_until)

TESTS = []


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def digest_params(value):
    """The parameters of a Digest credentials or challenge value."""
    return {k.lower(): v1 if v1 else v2
            for k, v1, v2 in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', value)}


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


CARRIER_AUTH = "auth: {username: acme, password: s3cret}"


def check_carrier_digest(request, nonce=None):
    """`request` (sent by sbcd to the carrier) carries Proxy-Authorization
    with the carrier trunk's credentials (CARRIER_AUTH, realm
    carrier.example, qop auth): its digest-uri is the Request-URI, and the
    MD5 response is what the test computes (RFC 7616 3.4.1). Returns the
    parameters."""
    creds = request.header("proxy-authorization") or ""
    p = digest_params(creds)
    method, ruri = request.first_line.split()[:2]
    check(p.get("username") == "acme" and p.get("realm") == "carrier.example" and
          p.get("qop") == "auth" and (nonce is None or p.get("nonce") == nonce),
          f"Proxy-Authorization of the {method}: {creds}")
    check(p.get("uri") == ruri, f"digest uri {p.get('uri')} is not the Request-URI {ruri}")
    ha1 = md5("acme:carrier.example:s3cret")
    expected = md5(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:auth:{md5(f'{method}:{ruri}')}")
    check(p.get("response") == expected, f"digest response {p.get('response')} != {expected}")
    return p


@e2e_test
def outbound_digest_answered(t):
    """The carrier answers the first INVITE with 407: the SBC sends it again
    with Proxy-Authorization made from the carrier trunk's credentials (an
    MD5 response this test recomputes), on the same Call-ID with the next
    CSeq; the caller sees a single 100 Trying and the call completes."""
    sbcd = t.start_sbcd(carrier_extra=[CARRIER_AUTH],
                        extra_top=cdr_lines(t))
    uas = t.uas("carrier", "uas_challenge.xml", local_ip=t.carrier(2), media_port=6000)
    uac = t.uac("pbx", "uac_call.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=200)
    uac.finish()
    uas.finish()
    invites = uas.received("INVITE")
    check(len(invites) == 2, f"the carrier got {len(invites)} INVITEs")
    first, second = invites
    check(first.header("call-id") == second.header("call-id") and
          first.header("from") == second.header("from"),
          "the retry is not on the same Call-ID and From tag")
    cseq = [int(m.header("cseq").split()[0]) for m in invites]
    check(cseq[1] == cseq[0] + 1, f"CSeq of the retry: {cseq}")
    check_carrier_digest(second, nonce="c2lwcC1ub25jZS0x")
    trying = [m for m in uac.received() if m.is_response and m.status == 100]
    check(len(trying) == 1, f"the caller got {len(trying)} 100 Trying")
    cdr = read_cdrs(t, 1)[0]
    check(cdr["status"] == 200 and cdr["to_trunk"] == "carrier" and
          cdr["disconnected_by"] == "caller", f"CDR: {cdr}")
    sbcd.stop()


KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
CARRIER_EDGE_HOST = 4  # kamailio, in front of the carrier's sipp (carrier host 2)


def start_carrier_edge(t, algorithm):
    """kamailio as the carrier's edge proxy, challenging INVITEs with
    `algorithm` (tests/e2e/peers/kamailio_carrier_edge.cfg)."""
    edge = t.carrier(CARRIER_EDGE_HOST)
    cfg = (Path(__file__).resolve().parent / "peers" / "kamailio_carrier_edge.cfg").read_text()
    for key, value in {"@@LISTEN@@": f"udp:{edge}:{SIP_PORT}",
                       "@@ALGORITHM@@": algorithm,
                       "@@NEXT_HOP@@": f"sip:{t.carrier_peer}:{SIP_PORT}"}.items():
        cfg = cfg.replace(key, value)
    path = Path(t.workdir) / "kamailio.cfg"
    path.write_text(cfg)
    proc = t.start("kamailio", [KAMAILIO, "-f", str(path), "-DD", "-E", "-m", "32", "-M", "4",
                                "-Y", str(t.workdir), "-w", str(t.workdir)])
    wait_until(lambda: udp_bound(edge, SIP_PORT) or not proc.alive(), 10.0, 0.05)
    check(proc.alive() and udp_bound(edge, SIP_PORT),
          f"kamailio did not start: {proc.stderr_tail(8)}")
    return proc


@e2e_test
def outbound_digest_sha256_answered_to_kamailio(t):
    """The carrier's edge is a real kamailio proxy whose auth module challenges
    INVITEs with algorithm=SHA-256 (RFC 8760): sbcd answers with SHA-256
    credentials, which kamailio verifies before it relays the call to the
    carrier's sipp, where it completes. The test recomputes the response
    (RFC 7616 3.4.1 with SHA-256) from the credentials sipp received."""
    start_carrier_edge(t, "SHA-256")
    sbcd = t.start_sbcd(carrier_peers=[f'"{t.carrier(CARRIER_EDGE_HOST)}:{SIP_PORT}"'],
                        carrier_extra=[CARRIER_AUTH], extra_top=cdr_lines(t))
    # sipp answers whoever sent it the INVITE, so the dialog's requests must
    # come that way too: its 180 and 200 keep kamailio's Record-Route.
    text = (SCENARIOS / "uas_answer.xml").read_text()
    scenario = Path(t.workdir) / "uas_answer_record_route.xml"
    scenario.write_text(text.replace("[last_CSeq:]\n      Contact:",
                                     "[last_CSeq:]\n      [last_Record-Route:]\n      Contact:"))
    uas = t.uas("carrier", scenario, local_ip=t.carrier(2), media_port=6000)
    uac = t.uac("pbx", "uac_call.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=200)
    uac.finish()
    uas.finish()
    invite = uas.received("INVITE")[0]
    creds = invite.header("proxy-authorization") or ""
    p = digest_params(creds)
    check(p.get("algorithm") == "SHA-256" and p.get("username") == "acme" and
          p.get("qop") == "auth" and re.fullmatch(r"[0-9a-f]{64}", p.get("response", "")),
          f"the credentials kamailio let through: {creds}")

    def sha256(text):
        return hashlib.sha256(text.encode()).hexdigest()

    ha1 = sha256("acme:carrier.example:s3cret")
    ha2 = sha256(f"INVITE:{p['uri']}")
    expected = sha256(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:auth:{ha2}")
    check(p["response"] == expected, f"SHA-256 response {p['response']} != {expected}")
    cdr = read_cdrs(t, 1)[0]
    check(cdr["status"] == 200 and cdr["disconnected_by"] == "caller", f"CDR: {cdr}")
    sbcd.stop()


@e2e_test
def stop_with_a_bye_unanswered(t):
    """The carrier (a trunk with credentials, whose BYEs sbcd keeps until they
    are answered) never answers the BYE that ends a call, and stays there;
    sbcd is stopped while it waits: it gives the BYE its grace (2 s at most),
    then exits cleanly (it crashed here once) and says so."""
    text = (SCENARIOS / "uas_answer.xml").read_text()
    bye = re.search(r'<recv request="BYE" timeout="\d+"/>', text)
    check(bye is not None, "uas_answer.xml no longer waits for a BYE")
    scenario = Path(t.workdir) / "uas_answer_ignore_bye.xml"
    scenario.write_text(text[:bye.end()] + '\n  <pause milliseconds="4000"/>\n</scenario>\n')
    sbcd = t.start_sbcd(carrier_extra=[CARRIER_AUTH])
    uas = t.uas("carrier", scenario, local_ip=t.carrier(2), media_port=6000)
    uac = t.uac("pbx", "uac_call.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=200)
    uac.finish()
    wait_until(lambda: uas.received("BYE"), 5.0)
    check(uas.received("BYE"), "the carrier got no BYE")
    sbcd.stop()
    uas.finish()
    check("stopping with 1 BYE(s) unanswered" in (Path(t.workdir) / "sbcd.stderr").read_text(),
          "sbcd did not say it left a BYE unanswered")


@e2e_test
def inbound_challenge_enforced(t):
    """The pbx trunk must authenticate (realm sbc.example, MD5): an INVITE
    without credentials gets 407 with a challenge; sipp's answer with the
    right password gets through, and the carrier sees no credentials; a wrong
    password is challenged again, and so are the good call's credentials
    sent again (a replay). The call and the refused attempts have CDRs."""
    challenge = ["challenge: {realm: sbc.example, users: [{username: pbx1, password: pw1}]}"]
    sbcd = t.start_sbcd(pbx_extra=challenge, extra_top=cdr_lines(t))

    bare = t.uac("bare", "uac_reject.xml", local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                 media_port=PBX_SIPP_MEDIA)
    bare.finish(timeout=15)
    finals = [m for m in bare.received() if m.is_response and m.status >= 300]
    check(finals and finals[0].status == 407, f"no credentials got {finals}")
    p = digest_params(finals[0].header("proxy-authenticate") or "")
    check(p.get("realm") == "sbc.example" and p.get("nonce") and p.get("qop") == "auth",
          f"the challenge: {finals[0].header('proxy-authenticate')}")

    uas = t.uas("carrier", "uas_answer.xml", local_ip=t.carrier(2), media_port=6000)
    good = t.uac("good", "uac_call_auth.xml", local_ip=t.pbx_peer,
                 remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA, duration_ms=200,
                 extra=["-au", "pbx1", "-ap", "pw1"])
    good.finish()
    uas.finish()
    inv = uas.received("INVITE")[0]
    check(inv.header("proxy-authorization") is None and inv.header("authorization") is None,
          "credentials crossed to the carrier")

    # The same credentials again, on a new call to the same number while
    # their nonce is fresh: a replay (RFC 7616 3.4.5), challenged with a
    # new nonce (stale=true), never a call.
    creds = [m for m in good.messages() if m.direction == "sent" and m.method == "INVITE" and
             m.header("proxy-authorization")][0].header("proxy-authorization")
    replay = t.uac("replay", "uac_replay_auth.xml", local_ip=t.pbx_peer,
                   remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA,
                   extra=["-set", "creds", creds])
    replay.finish(timeout=15)
    finals = [m for m in replay.received() if m.is_response and m.status >= 300]
    check(finals and finals[0].status == 407 and
          digest_params(finals[0].header("proxy-authenticate") or "").get("stale") == "true",
          f"replayed credentials got {[m.first_line for m in finals]}")
    check(len(uas.received("INVITE")) == 1, "the replayed INVITE reached the carrier")

    bad = t.uac("bad", "uac_auth_refused.xml", local_ip=t.pbx_peer,
                remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA,
                extra=["-au", "pbx1", "-ap", "wrong"])
    bad.finish(timeout=15)
    statuses = [m.status for m in bad.received() if m.is_response and m.status != 100]
    check(statuses == [407, 407], f"a wrong password got {statuses}")
    # A challenge without credentials is the normal first round trip and
    # leaves no record; refused credentials do.
    cdrs = read_cdrs(t, 3)
    check([c["status"] for c in cdrs] == [200, 407, 407], f"CDR statuses: {cdrs}")
    check(all(c["reason"] == "Proxy Authentication Required (credentials refused)"
              for c in cdrs[1:]), f"CDRs of the replay and the wrong password: {cdrs[1:]}")
    sbcd.stop()


PHONE_HOST = 5  # in the pbx block, inside the registrar's sources (host 4/30)
PHONE_PORT = 5062


@e2e_test
def phone_registers_and_is_called(t):
    """A phone on the pbx side registers 2001@sbc.example to the SBC (the
    phones trunk is a registrar and challenges with 401); a call from the
    carrier to 2001 then reaches the phone at the address it registered
    from, with its Contact as the Request-URI. Before the registration the
    same call gets 480."""
    phone_ip = t.pbx(PHONE_HOST)
    phones = [
        "  - name: phones",
        "    interface: pbx",
        "    peers: []",
        f"    registrar: {{domain: sbc.example, sources: [{t.pbx(4)}/30]}}",
        "    challenge: {realm: sbc.example, users: [{username: '2001', password: pw2001}]}",
        "    keepalive: {interval: 0}",
    ]
    routes = [
        {"name": "to-phones", "from_trunk": "carrier", "ruri_user": "^20", "to_trunk": "phones"},
        {"name": "carrier-to-pbx", "from_trunk": "carrier", "to_trunk": "pbx"},
        {"name": "pbx-to-carrier", "from_trunk": "pbx", "to_trunk": "carrier"},
    ]
    sbcd = t.start_sbcd(routes=routes, extra_trunks=phones, extra_top=cdr_lines(t))
    early = t.uac("early", "uac_reject.xml", service="2001")
    early.finish(timeout=15)
    finals = [m for m in early.received() if m.is_response and m.status >= 300]
    check(finals and finals[0].status == 480, f"a call before the registration got {finals}")

    reg = t.uac("register", "uac_register.xml", local_ip=phone_ip, port=PHONE_PORT,
                remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=7200, service="2001",
                extra=["-au", "2001", "-ap", "pw2001"])
    reg.finish(timeout=15)
    ok = [m for m in reg.received() if m.is_response and m.status == 200][0]
    check(f"sip:2001@{phone_ip}:{PHONE_PORT}" in ok.header("contact"),
          f"the 200 lists {ok.header('contact')}")

    rc, data, raw = sbcd.control.ctl("trunks")
    bindings = next(tr for tr in data["trunks"] if tr["name"] == "phones")["registrations"]
    check([(b["user"], b["source"]) for b in bindings] == [("2001", f"{phone_ip}:{PHONE_PORT}")]
          and 590 <= bindings[0]["expires_in"] <= 600, f"sbcctl trunks bindings: {bindings}")
    phone = t.uas("phone", "uas_answer.xml", local_ip=phone_ip, port=PHONE_PORT, media_port=7200)
    uac = t.uac("carrier", "uac_call.xml", service="2001", duration_ms=200)
    uac.finish()
    phone.finish()
    inv = phone.received("INVITE")[0]
    check(inv.first_line.split()[1] == f"sip:2001@{phone_ip}:{PHONE_PORT}",
          f"the phone got {inv.first_line}")
    cdrs = read_cdrs(t, 2)
    check(cdrs[1]["to_trunk"] == "phones" and cdrs[1]["status"] == 200,
          f"the call's CDR: {cdrs[1]}")
    sbcd.stop()


@e2e_test
def registration_to_carrier_refreshed(t):
    """The carrier trunk requires registration: sbcd REGISTERs the AOR with
    the trunk's credentials after a 401, and refreshes it before the 8 s the
    carrier grants run out (sipp checks three authorized REGISTERs on one
    Call-ID with nc 1, 2, 3); sbcctl trunks shows it registered."""
    uas = t.uas("registrar", "uas_registrar_challenge.xml", local_ip=t.carrier(2), media_port=6000)
    sbcd = t.start_sbcd(carrier_extra=[
        CARRIER_AUTH,
        "register: {aor: 'sip:+4930123456@carrier.example', expires: 60}",
    ])
    # sbcctl is read while the registrar still runs: once its scenario ends,
    # the next refresh meets a closed port and the registration is failed.
    def registered():
        _, data, _ = sbcd.control.ctl("trunks")
        reg = next(tr for tr in data["trunks"] if tr["name"] == "carrier")["registration"]
        return len(uas.received("REGISTER")) == 4 and reg["state"] == "registered" and reg
    reg = wait_until(registered, 30.0, 0.05)
    text = sbcd.control.ctl("trunks", json_output=False)[2]
    uas.finish(timeout=30)
    registers = uas.received("REGISTER")
    check(len(registers) == 4, f"the carrier got {len(registers)} REGISTERs")
    check(len({m.header("call-id") for m in registers}) == 1, "the refreshes changed Call-ID")
    cseqs = [int(m.header("cseq").split()[0]) for m in registers]
    check(cseqs == sorted(cseqs) and len(set(cseqs)) == 4, f"CSeqs: {cseqs}")
    check(all(f"sip:+4930123456@{t.carrier_sbc}" in m.header("contact") for m in registers),
          f"Contact: {registers[0].header('contact')}")
    check(registers[0].header("to").startswith("<sip:+4930123456@carrier.example>"),
          f"To: {registers[0].header('to')}")
    check(reg and reg["last_result"] == "200 OK" and
          reg["aor"] == "sip:+4930123456@carrier.example", f"sbcctl trunks: {reg}")
    check("registration sip:+4930123456@carrier.example: registered" in text,
          f"sbcctl trunks:\n{text}")
    sbcd.stop()


def challenged_call(t, carrier, caller, duration_ms=200, carrier_extra=(), **kw):
    """sbcd with the carrier trunk's credentials (CARRIER_AUTH), the carrier
    playing the challenging scenario `carrier`, the pbx calling it with
    `caller`; both finish. Returns (sbcd, carrier sipp, caller sipp)."""
    sbcd = t.start_sbcd(carrier_extra=[CARRIER_AUTH, *carrier_extra], **kw)
    uas = t.uas("carrier", carrier, local_ip=t.carrier(2), media_port=6000)
    uac = t.uac("pbx", caller, local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA, duration_ms=duration_ms)
    uac.finish()
    uas.finish()
    return sbcd, uas, uac


def check_challenge_unseen(uac):
    seen = {m.status for m in uac.received() if m.is_response}
    check(407 not in seen, f"the caller saw {sorted(seen)}")


@e2e_test
def bye_challenge_answered(t):
    """The carrier challenges the BYE that ends the call (RFC 3261 22.1):
    sbcd sends it again, on the same dialog with the next CSeq, with
    Proxy-Authorization from the carrier trunk's credentials whose digest-uri
    is the BYE's Request-URI; the carrier's side of the call ends with it."""
    sbcd, uas, uac = challenged_call(t, "uas_challenge_bye.xml", "uac_call.xml")
    byes = uas.received("BYE")
    check(len(byes) == 2, f"the carrier got {len(byes)} BYEs")
    first, second = byes
    cseq = [int(m.header("cseq").split()[0]) for m in byes]
    check(first.header("call-id") == second.header("call-id") and cseq[1] == cseq[0] + 1,
          f"the retry is not the next request of the dialog: CSeq {cseq}")
    check_carrier_digest(second, nonce="YnllLW5vbmNl")
    sbcd.stop()


@e2e_test
def reinvite_challenge_answered(t):
    """The carrier challenges the caller's hold re-INVITE (RFC 3261 22.1):
    sbcd sends it again on the dialog, the next CSeq, with Proxy-Authorization
    whose digest-uri is the re-INVITE's Request-URI; the caller never sees
    the 407 and gets the carrier's a=recvonly answer; the resume that
    follows goes through as usual."""
    sbcd, uas, uac = challenged_call(t, "uas_challenge_reinvite.xml", "uac_hold_resume.xml")
    invites = uas.received("INVITE")
    check(len(invites) == 4, f"the carrier got {len(invites)} INVITEs")
    challenged, answered = invites[1], invites[2]
    cseq = [int(m.header("cseq").split()[0]) for m in (challenged, answered)]
    check(cseq[1] == cseq[0] + 1 and challenged.header("call-id") == answered.header("call-id"),
          f"the retry is not the next request of the dialog: CSeq {cseq}")
    check_carrier_digest(answered, nonce="cmVpbnZpdGU")
    check_challenge_unseen(uac)
    sbcd.stop()


@e2e_test
def session_refresh_challenge_answered(t):
    """The carrier makes sbcd its refresher (Session-Expires 10, refresher
    uac) and challenges the refresh UPDATE that comes about 5 s later:
    sbcd sends it again with Proxy-Authorization (the test recomputes the
    digest over the UPDATE's Request-URI), and the call lives on until the
    caller hangs up (a failed refresh would have ended it, RFC 4028 10)."""
    sbcd, uas, uac = challenged_call(t, "uas_challenge_refresh.xml", "uac_call.xml",
                                     duration_ms=7500,
                                     carrier_extra=["session_timer: {expires: 10, min_se: 5}"],
                                     extra_top=cdr_lines(t))
    updates = uas.received("UPDATE")
    check(len(updates) == 2, f"the carrier got {len(updates)} UPDATEs")
    check_carrier_digest(updates[1], nonce="cmVmcmVzaA")
    cdr = read_cdrs(t, 1)[0]
    check(cdr["disconnected_by"] == "caller", f"CDR: {cdr}")
    sbcd.stop()


@e2e_test
def relayed_info_challenge_answered(t):
    """The carrier challenges an INFO the caller sends mid-call: sbcd sends it
    again on the dialog with Proxy-Authorization (digest over the INFO's
    Request-URI) and the same body, and the caller gets the carrier's 200,
    never the 407."""
    sbcd, uas, uac = challenged_call(t, "uas_challenge_info.xml", "uac_call_info.xml")
    infos = uas.received("INFO")
    check(len(infos) == 2, f"the carrier got {len(infos)} INFOs")
    check_carrier_digest(infos[1], nonce="aW5mby1ub25jZQ")
    check(infos[1].header("content-type") == "application/dtmf-relay",
          f"Content-Type of the retry: {infos[1].header('content-type')}")
    check_challenge_unseen(uac)
    sbcd.stop()


@e2e_test
def relayed_update_challenge_answered(t):
    """The carrier challenges the UPDATE with which the caller holds the call
    (RFC 3311): sbcd sends it again on the dialog with Proxy-Authorization
    (digest over the UPDATE's Request-URI) and the same offer, and the
    caller gets the carrier's answer in a 200, never the 407."""
    sbcd, uas, uac = challenged_call(t, "uas_challenge_update.xml", "uac_update_hold.xml")
    updates = uas.received("UPDATE")
    check(len(updates) == 2, f"the carrier got {len(updates)} UPDATEs")
    check_carrier_digest(updates[1], nonce="dXBkYXRlLW5vbmNl")
    check(updates[1].sdp_lines("m=") == updates[0].sdp_lines("m="),
          f"the retry's offer changed: {updates[0].sdp_lines('m=')} {updates[1].sdp_lines('m=')}")
    check_challenge_unseen(uac)
    answered = [m for m in uac.received() if m.is_response and m.status == 200 and
                m.header("cseq").endswith("UPDATE") and m.sdp_lines("a=recvonly")]
    check(answered, "the caller got no 200 with the carrier's a=recvonly answer to its UPDATE")
    sbcd.stop()
