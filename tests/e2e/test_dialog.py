"""End-to-end tests of mid-dialog extensions (issue 6), each negotiated per
leg: reliable provisional responses (RFC 3262) on the callee's leg only, and
a session timer (RFC 4028) that the caller lets lapse, ending both legs.
"""

import re
import time

import media_tools as mt
from harness import (CARRIER_SIPP_MEDIA, PBX_SIPP_MEDIA, SIP_PORT, cdr_lines, check, read_cdrs,
                     wait_until)
from test_transcoding import G729, PCMA, assert_offers_only, carrier_pcap

TESTS = []


def e2e_test(fn):
    TESTS.append(fn)
    return fn


# A third trunk on the pbx interface, where 3000 is routed from the pbx: the
# transfer target (and the attended transfer's consultation).
def target_trunk(t):
    return [
        "  - name: target",
        "    interface: pbx",
        f'    peers: ["{t.pbx(3)}:{SIP_PORT}"]',
        "    keepalive: {interval: 0}",
    ]


TRANSFER_ROUTES = [
    {"name": "carrier-to-pbx", "from_trunk": "carrier", "to_trunk": "pbx"},
    {"name": "transfers", "from_trunk": "pbx", "ruri_user": "^3000$", "to_trunk": "target"},
    {"name": "pbx-to-carrier", "from_trunk": "pbx", "to_trunk": "carrier"},
]


# A trunk behind the carrier's interface, where 3000 is routed from the pbx
# instead: a transfer target the pbx's side of the media session must move to.
def far_trunk(t):
    return [
        "  - name: far",
        "    interface: carrier",
        f'    peers: ["{t.carrier(3)}:{SIP_PORT}"]',
        "    keepalive: {interval: 0}",
    ]


FAR_ROUTES = [dict(r, to_trunk="far") if r["name"] == "transfers" else r for r in TRANSFER_ROUTES]


def blind_transfer(t, target, scenario, *, trunk_lines=None, routes=TRANSFER_ROUTES,
                   pbx_scenario="uas_refer.xml", pbx_extra=(), duration_ms=1000, **target_kw):
    """The carrier calls the pbx (refer: handle), which transfers the call to
    3000 by REFER; the target trunk `target` (of `trunk_lines`) answers with
    `scenario`. Everyone finishes. Returns (sbcd, pbx, target, carrier)."""
    if trunk_lines is None:
        trunk_lines = target_trunk(t)
    sbcd = t.start_sbcd(routes=routes, extra_trunks=trunk_lines,
                        pbx_extra=["refer: handle", *pbx_extra], extra_top=cdr_lines(t))
    pbx = t.uas("pbx", pbx_scenario, duration_ms=500)
    new = t.uas(target, scenario, **target_kw)
    uac = t.uac("carrier", "uac_call_reinvited.xml", duration_ms=duration_ms)
    pbx.finish()
    uac.finish()
    new.finish()
    return sbcd, pbx, new, uac


def pbx_caller(t, name, scenario, **kw):
    return t.uac(name, scenario, local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                 media_port=PBX_SIPP_MEDIA, **kw)


@e2e_test
def prack_on_one_leg_only(t):
    """The carrier's 183 requires 100rel (RSeq 1): sbcd PRACKs it on the
    carrier's leg (RAck 1 <CSeq> INVITE, checked by sipp), and the caller,
    whose INVITE did not support 100rel, gets an ordinary 183 without RSeq or
    Require; the call then completes. The carrier saw Supported: 100rel."""
    sbcd = t.start_sbcd(extra_top=cdr_lines(t))
    uas = t.uas("carrier", "uas_prack.xml", local_ip=t.carrier(2), media_port=6000)
    uac = pbx_caller(t, "caller", "uac_call.xml", duration_ms=200)
    uac.finish()
    uas.finish()
    inv = uas.received("INVITE")[0]
    check("100rel" in (inv.header("supported") or ""), f"Supported: {inv.header('supported')}")
    check(len(uas.received("PRACK")) == 1, "the carrier got no PRACK")
    early = [m for m in uac.received() if m.is_response and m.status == 183]
    check(len(early) == 1, f"the caller got {len(early)} 183s")
    check(early[0].header("rseq") is None and "100rel" not in (early[0].header("require") or ""),
          f"the caller's 183 is reliable: {early[0].text[:300]}")
    cdr = read_cdrs(t, 1)[0]
    check(cdr["status"] == 200 and cdr["answer"] is not None, f"CDR: {cdr}")
    sbcd.stop()


@e2e_test
def reliable_183_to_a_caller_that_supports_it(t):
    """A caller whose INVITE says Supported: 100rel gets the callee's 183
    reliably (Require: 100rel, RSeq) from sbcd, whether or not the callee
    sent it reliably: here the carrier's 183 is reliable too, and each leg
    has its own RSeq space."""
    sbcd = t.start_sbcd()
    uas = t.uas("carrier", "uas_prack.xml", local_ip=t.carrier(2), media_port=6000)
    uac = pbx_caller(t, "caller", "uac_call_100rel.xml", duration_ms=200)
    uac.finish()
    uas.finish()
    early = [m for m in uac.received() if m.is_response and m.status == 183]
    check(early and early[0].header("rseq") and "100rel" in (early[0].header("require") or ""),
          f"the caller's 183: {early[0].text[:300] if early else None}")
    sbcd.stop()


@e2e_test
def session_timer_expiry_ends_both_legs(t):
    """The caller asks for a 10 s session timer as its refresher and never
    refreshes: sbcd answers Session-Expires: 10;refresher=uac with Require:
    timer, and about 10 - min(32, 10/3) = 7 s after the answer ends the call
    with BYE on both legs. The CDR says why."""
    sbcd = t.start_sbcd(pbx_extra=["session_timer: {min_se: 5}"], extra_top=cdr_lines(t))
    uas = t.uas("carrier", "uas_answer.xml", local_ip=t.carrier(2), media_port=6000)
    started = time.monotonic()
    uac = pbx_caller(t, "caller", "uac_session_timer.xml")
    uac.finish(timeout=30)
    uas.finish(timeout=10)
    elapsed = time.monotonic() - started
    ok = [m for m in uac.received() if m.is_response and m.status == 200][0]
    check("timer" in (ok.header("require") or ""), f"the 200 has no Require: timer: {ok.text[:300]}")
    check(uac.received("BYE") and uas.received("BYE"), "not both legs got a BYE")
    check(5 <= elapsed <= 15, f"the call ended after {elapsed:.1f} s")
    record = read_cdrs(t, 1)[0]
    check(record["disconnected_by"] == "sbc" and
          record["disconnect_reason"] == "session timer expired on leg a", f"CDR: {record}")
    sbcd.stop()


@e2e_test
def session_interval_too_small_422(t):
    """A Session-Expires below the trunk's min_se is refused with 422 and
    Min-SE (RFC 4028 6)."""
    sbcd = t.start_sbcd(pbx_extra=["session_timer: {min_se: 120}"])
    uac = pbx_caller(t, "caller", "uac_session_timer.xml")
    uac.wait(10)
    finals = [m for m in uac.received() if m.is_response and m.status >= 300]
    check(finals and finals[0].status == 422 and finals[0].header("min-se") == "120",
          f"got {[(m.first_line, m.header('min-se')) for m in finals]}")
    uac.kill()
    sbcd.stop()


@e2e_test
def blind_transfer_by_refer_handled(t):
    """The carrier calls the pbx; the pbx (refer: handle, as Teams Direct
    Routing expects) transfers the call to 3000 by REFER. sbcd accepts it
    (202), routes 3000 itself to the target trunk, NOTIFYs 100 and then 200,
    and BYEs the pbx out; the carrier gets a re-INVITE (the SBC's same media
    address, the next SDP version) and never the REFER, and its call goes on
    with the target (its BYE reaches the target)."""
    sbcd, pbx, new, uac = blind_transfer(t, "target", "uas_answer.xml", local_ip=t.pbx(3),
                                         media_port=7002)
    inv = new.received("INVITE")[0]
    check(inv.first_line.startswith(f"INVITE sip:3000@{t.pbx(3)}"), f"target got {inv.first_line}")
    check("caller@" in inv.header("from"), f"From at the target: {inv.header('from')}")
    # Issue 19: Allow names REFER only towards a trunk whose REFERs the SBC handles.
    allows = {name: {m.strip() for m in (msg.header("allow") or "").split(",")}
              for name, msg in (("pbx", pbx.received("INVITE")[0]), ("target", inv),
                                ("carrier", uac.received("INVITE")[0]))}
    check("REFER" in allows["pbx"] and "REFER" not in allows["target"] and
          "REFER" not in allows["carrier"] and "INVITE" in allows["carrier"],
          f"Allow headers: {allows}")
    check(new.received("BYE"), "the caller's BYE did not reach the target")
    seen = {m.method for m in uac.received() if not m.is_response}
    check(not seen & {"REFER", "NOTIFY"}, f"the carrier saw {seen}")
    answer = [m for m in uac.received() if m.is_response and m.status == 200][0]
    reinvite = uac.received("INVITE")[0]
    check(reinvite.sdp_lines("c=") == answer.sdp_lines("c=") and
          reinvite.sdp_lines("m=") == answer.sdp_lines("m="),
          f"the re-INVITE moved the media: {reinvite.sdp_lines('c=')} {reinvite.sdp_lines('m=')}")
    o_before = answer.sdp_lines("o=")[0].split()
    o_after = reinvite.sdp_lines("o=")[0].split()
    check(o_after[1] == o_before[1] and int(o_after[2]) == int(o_before[2]) + 1,
          f"o= lines: {o_before} then {o_after}")
    cdr = read_cdrs(t, 1)[0]
    check(cdr["from_trunk"] == "carrier" and cdr["to_trunk"] == "target" and
          cdr["status"] == 200 and cdr["disconnected_by"] == "caller", f"CDR: {cdr}")
    sbcd.stop()


@e2e_test
def blind_transfer_to_another_interface(t):
    """The pbx (as Teams would) transfers the carrier's call to 3000, which
    routes to a trunk behind the carrier's interface: the target's INVITE
    leaves from that interface and offers its media address, on a port pair
    of its own; when the target answers, the pbx's side of the media session
    moves there. The carrier's re-INVITE keeps its address and port, and the
    audio of both (g711a.pcap each way) flows through the moved side, as the
    CDR's counters of leg b show (the pbx itself sent no media)."""
    sbcd, pbx, new, uac = blind_transfer(t, "far", "uas_answer_media.xml", trunk_lines=far_trunk(t),
                                         routes=FAR_ROUTES, duration_ms=4000,
                                         local_ip=t.carrier(3), media_port=7004)
    to_pbx = pbx.received("INVITE")[0]
    inv = new.received("INVITE")[0]
    answer = [m for m in uac.received() if m.is_response and m.status == 200][0]
    carrier_side = answer.sdp_lines("c=")
    check(inv.sdp_lines("c=") == carrier_side and inv.sdp_lines("c=") != to_pbx.sdp_lines("c="),
          f"the target was offered {inv.sdp_lines('c=')} (carrier side {carrier_side}, "
          f"pbx side {to_pbx.sdp_lines('c=')})")
    ports = {m.sdp_lines("m=")[0].split()[1] for m in (inv, to_pbx, answer)}
    check(len(ports) == 3, f"the target's port is not a pair of its own: {ports}")
    check(carrier_side[0].split()[-1] in inv.header("via"),
          f"the target's INVITE did not leave the carrier interface: {inv.header('via')}")
    reinvite = uac.received("INVITE")[0]
    check(reinvite.sdp_lines("c=") == carrier_side and
          reinvite.sdp_lines("m=") == answer.sdp_lines("m="),
          f"the carrier's media moved: {reinvite.sdp_lines('c=')} {reinvite.sdp_lines('m=')}")
    check(new.received("BYE"), "the caller's BYE did not reach the target")
    cdr = read_cdrs(t, 1)[0]
    check(cdr["to_trunk"] == "far" and cdr["status"] == 200, f"CDR: {cdr}")
    leg_b = cdr["media"]["b"]
    check(leg_b["packets_received"] > 50 and leg_b["packets_sent"] > 50,
          f"no media through the moved side: {cdr['media']}")
    sbcd.stop()


@e2e_test
def blind_transfer_to_a_g729_target(t):
    """The call runs PCMA end to end; the pbx transfers it to 3000, whose
    trunk takes only G.729. The target is offered G.729 alone (the codecs
    are planned between the carrier's PCMA and the target's trunk, not
    copied from the pbx's offer), and once it answers the SBC transcodes:
    the target receives G.729 RTP (20-octet payloads) carrying the carrier's
    g711a.pcap, the carrier PCMA; the carrier keeps its codec and is never
    re-offered another. The CDR names each leg's codec."""
    pcap = carrier_pcap(t, mt.build_dir_of(t), G729, mt.reference_speech())
    to_target = mt.RtpSniffer(t.pbx(3), 7002)
    to_carrier = mt.RtpSniffer(t.carrier_peer, CARRIER_SIPP_MEDIA)
    t.on_close(to_target.stop)
    t.on_close(to_carrier.stop)
    sbcd, _, new, uac = blind_transfer(t, "target", G729.scenario,
                                       trunk_lines=target_trunk(t) + ["    codecs: [G729]"],
                                       duration_ms=3500, local_ip=t.pbx(3), media_port=7002,
                                       extra=["-key", "pcap", pcap])
    to_target.stop()
    to_carrier.stop()
    assert_offers_only(new.received("INVITE")[0], G729, "INVITE to the target")
    assert_offers_only(uac.received("INVITE")[0], PCMA, "re-INVITE to the carrier")
    mt.assert_valid_rtp(to_target.packets, "RTP to the target", pt=G729.pt, ts_step=160,
                        payload_len=20)
    mt.assert_valid_rtp(to_carrier.packets, "RTP to the carrier", pt=PCMA.pt, ts_step=160,
                        payload_len=160)
    cdr = read_cdrs(t, 1)[0]
    check(cdr["media"]["a"]["codec"] == "PCMA/8000" and cdr["media"]["b"]["codec"] == "G729/8000",
          f"CDR media: {cdr['media']}")
    sbcd.stop()


@e2e_test
def attended_transfer_by_refer_handled(t):
    """The carrier calls the pbx (call 1); the pbx consults 3000 on the
    target trunk (call 2), then REFERs call 1 to 3000 with Replaces naming
    its consultation dialog (RFC 3891, attended transfer). sbcd, handling the
    REFER (refer: handle), joins the carrier and the target without any
    INVITE with Replaces: it takes the target's dialog into call 1 and
    re-INVITEs it towards call 1's media (the same o= id, the next version;
    the port the pbx had), ends the consultation with a BYE, NOTIFYs 100
    then 200, BYEs the pbx out, and re-INVITEs the carrier, which never sees
    the REFER. The carrier's BYE then reaches the target."""
    attended_transfer(t, "target", target_trunk(t), TRANSFER_ROUTES, t.pbx(3))


@e2e_test
def attended_transfer_to_another_interface(t):
    """As attended_transfer_by_refer_handled, with the consulted party behind
    the carrier's interface: its re-INVITE offers the carrier interface's
    media address on a pair of its own, to which the pbx's side of call 1's
    media session moves."""
    attended_transfer(t, "far", far_trunk(t), FAR_ROUTES, t.carrier(3))


def attended_transfer(t, trunk, trunk_lines, routes, target_ip):
    sbcd = t.start_sbcd(routes=routes, extra_trunks=trunk_lines, pbx_extra=["refer: handle"],
                        extra_top=cdr_lines(t))
    pbx = t.uas("pbx", "uas_attended_refer.xml", extra=["-set", "sbc", t.pbx_sbc])
    new = t.uas(trunk, "uas_answer_first_codec.xml", local_ip=target_ip, media_port=7002)
    uac = t.uac("carrier", "uac_call_reinvited.xml", duration_ms=1000)
    pbx.finish()
    uac.finish()
    new.finish()
    invites = new.received("INVITE")
    check(len(invites) == 2, f"the target got {len(invites)} INVITEs")
    first, again = invites
    check(again.header("call-id") == first.header("call-id"),
          "the target's second INVITE is not on its dialog")
    o_first = first.sdp_lines("o=")[0].split()
    o_again = again.sdp_lines("o=")[0].split()
    check(o_again[1] == o_first[1] and int(o_again[2]) == int(o_first[2]) + 1,
          f"o= lines at the target: {o_first} then {o_again}")
    to_pbx = pbx.received("INVITE")[0]
    port_again = again.sdp_lines("m=")[0].split()[1]
    port_pbx = to_pbx.sdp_lines("m=")[0].split()[1]
    if trunk == "target":
        moved = again.sdp_lines("c=") == to_pbx.sdp_lines("c=") and port_again == port_pbx
    else:
        # Its own interface's address, and neither the pbx's port nor the
        # one of the consultation call, whose session ended.
        moved = (again.sdp_lines("c=") == first.sdp_lines("c=") != to_pbx.sdp_lines("c=") and
                 port_again not in (port_pbx, first.sdp_lines("m=")[0].split()[1]))
    check(moved, f"the target was not moved to call 1's media: {again.sdp_lines('c=')} "
          f"{again.sdp_lines('m=')} vs {to_pbx.sdp_lines('c=')} {to_pbx.sdp_lines('m=')}")
    check(new.received("BYE"), "the carrier's BYE did not reach the target")
    seen = {m.method for m in uac.received() if not m.is_response}
    check("INVITE" in seen and not seen & {"REFER", "NOTIFY"}, f"the carrier saw {seen}")
    call1, call2 = sorted(read_cdrs(t, 2), key=lambda r: r["from_trunk"])
    check(call2["from_trunk"] == "pbx" and call2["to_trunk"] == trunk and
          call2["disconnected_by"] == "sbc" and
          call2["disconnect_reason"] == "replaced by an attended transfer", f"CDR 2: {call2}")
    check(call1["from_trunk"] == "carrier" and call1["to_trunk"] == trunk and
          call1["status"] == 200 and call1["disconnected_by"] == "caller", f"CDR 1: {call1}")
    sbcd.stop()


@e2e_test
def hold_by_update_offer_relayed_with_its_header_rules(t):
    """The caller holds the call with an UPDATE carrying an offer (RFC 3311):
    sbcd relays it to the callee with the SBC's media address, a=sendonly
    kept, and returns the callee's a=recvonly answer in the 2xx, itself with
    the SBC's address on the caller's side. The carrier trunk's header rules
    apply by method: one for UPDATE only, one for INVITE (the default)."""
    rules = [
        "headers:",
        "  outbound:",
        "    - {add: {name: X-Update, value: 'from ${from_trunk}'}, methods: [UPDATE]}",
        "    - add: {name: X-Invite, value: 'to ${to_trunk}'}",
    ]
    sbcd = t.start_sbcd(carrier_extra=rules)
    uas = t.uas("carrier", "uas_answer_update_hold.xml", local_ip=t.carrier(2), media_port=6000)
    uac = pbx_caller(t, "caller", "uac_update_hold.xml", duration_ms=200)
    uac.finish()
    uas.finish()
    update = uas.received("UPDATE")[0]
    invite = uas.received("INVITE")[0]
    check(update.sdp_lines("c=") == invite.sdp_lines("c=") and
          update.sdp_lines("m=") == invite.sdp_lines("m="),
          f"the UPDATE moved the callee's media: {update.sdp_lines('m=')}")
    o_inv = invite.sdp_lines("o=")[0].split()
    o_upd = update.sdp_lines("o=")[0].split()
    check(o_upd[1] == o_inv[1] and int(o_upd[2]) == int(o_inv[2]) + 1,
          f"o= lines towards the callee: {o_inv} then {o_upd}")
    check(update.header("x-update") == "from pbx" and update.header("x-invite") is None,
          f"the UPDATE's headers: {update.text[:400]}")
    check(invite.header("x-invite") == "to carrier" and invite.header("x-update") is None,
          f"the INVITE's headers: {invite.text[:400]}")
    answer = [m for m in uac.received() if m.is_response and m.status == 200][1]
    check(answer.sdp_lines("c=")[0].endswith(t.pbx_sbc),
          f"the answer's c=: {answer.sdp_lines('c=')}")
    sbcd.stop()


@e2e_test
def session_interval_too_small_from_callee_retried(t):
    """The carrier trunk asks for 600 s session timers; the carrier answers
    422 with Min-SE: 1800 (RFC 4028 6). sbcd acknowledges it and sends the
    INVITE again with Session-Expires and Min-SE of 1800 (RFC 4028 7.4,
    checked by sipp), without a word to the caller, and the call completes
    with one final response to the caller."""
    sbcd = t.start_sbcd(carrier_extra=["session_timer: {expires: 600, min_se: 90}"],
                        extra_top=cdr_lines(t))
    uas = t.uas("carrier", "uas_422.xml", local_ip=t.carrier(2), media_port=6000)
    uac = pbx_caller(t, "caller", "uac_call.xml", duration_ms=200)
    uac.finish()
    uas.finish()
    invites = uas.received("INVITE")
    check(len(invites) == 2 and invites[0].header("session-expires").startswith("600"),
          f"INVITEs at the carrier: {[m.header('session-expires') for m in invites]}")
    finals = {m.status for m in uac.received()
              if m.is_response and m.status >= 200 and m.header("cseq").endswith("INVITE")}
    check(finals == {200}, f"the caller got {finals}")
    cdr = read_cdrs(t, 1)[0]
    check(cdr["status"] == 200, f"CDR: {cdr}")
    sbcd.stop()


def tag_of(value):
    found = re.search(r";\s*tag=([^;>\s]+)", value or "")
    return found.group(1) if found else None


@e2e_test
def invite_with_replaces_mapped_to_the_far_dialog(t):
    """The pbx calls the carrier (call 1). Another pbx device then sends sbcd
    an INVITE with Replaces naming the pbx's dialog of call 1 (RFC 3891, an
    attended transfer done by the pbx's phones). sbcd sends the new INVITE to
    call 1's far end, the carrier, at its dialog's remote target and with a
    Replaces that names the carrier's own dialog (its Call-ID, its tag as
    to-tag, the SBC's as from-tag), whatever the routes say. The carrier then
    ends the replaced dialog with a BYE, which reaches the first pbx device;
    the new call goes on until its caller hangs up."""
    sbcd = t.start_sbcd(extra_top=cdr_lines(t))
    uas = t.uas("carrier", "uas_replaced.xml", local_ip=t.carrier(2), media_port=6000, calls=2)
    first = pbx_caller(t, "phone", "uac_recv_bye.xml")
    wait_until(lambda: any(m.is_response and m.status == 200 for m in first.received()), 10.0)
    invite = [m for m in first.messages() if m.direction == "sent" and m.method == "INVITE"][0]
    ok = [m for m in first.received() if m.is_response and m.status == 200][0]
    # RFC 3891 3: as the SBC sees its dialog: to-tag is the SBC's, from-tag the phone's.
    second = t.uac("transferee", "uac_call_replaces.xml", local_ip=t.pbx_peer, port=5062,
                   remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA + 4,
                   duration_ms=2500,
                   extra=["-set", "rep_callid", invite.header("call-id"),
                          "-set", "rep_to", tag_of(ok.header("to")),
                          "-set", "rep_from", tag_of(invite.header("from"))])
    first.finish()
    second.finish()
    uas.finish()
    invites = uas.received("INVITE")
    check(len(invites) == 2, f"the carrier got {len(invites)} INVITEs")
    replaces = invites[1].header("replaces") or ""
    answer = [m for m in uas.messages() if m.direction == "sent" and m.is_response and
              m.status == 200 and m.header("call-id") == invites[0].header("call-id")][0]
    expected = {"call-id": invites[0].header("call-id"), "to-tag": tag_of(answer.header("to")),
                "from-tag": tag_of(invites[0].header("from"))}
    parts = replaces.split(";")
    got = {"call-id": parts[0].strip()}
    got.update(p.strip().split("=", 1) for p in parts[1:] if "=" in p)
    check(all(got.get(k) == v for k, v in expected.items()),
          f"Replaces at the carrier: {replaces!r}, expected {expected}")
    check(invites[1].header("call-id") != invites[0].header("call-id"),
          "the replacing INVITE reused the dialog's Call-ID")
    check(first.received("BYE"), "the replaced phone got no BYE")
    records = read_cdrs(t, 2)
    replacing = [r for r in records if r["route"] == "replaces"]
    check(len(replacing) == 1 and replacing[0]["to_trunk"] == "carrier" and
          replacing[0]["status"] == 200, f"CDRs: {records}")
    sbcd.stop()


@e2e_test
def blind_transfer_from_an_srtp_trunk(t):
    """As blind_transfer_by_refer_handled, with the referrer's trunk on SRTP
    (srtp: required, as Teams Direct Routing is) and the target's plain: the
    target is offered RTP/AVP without any a=crypto (no key crosses legs,
    RFC 4568), and the transfer completes; the carrier gets its re-INVITE."""
    sbcd, pbx, new, uac = blind_transfer(t, "target", "uas_answer.xml",
                                         pbx_scenario="uas_refer_srtp.xml",
                                         pbx_extra=["srtp: required"], local_ip=t.pbx(3),
                                         media_port=7002)
    to_pbx = pbx.received("INVITE")[0]
    check(to_pbx.sdp_lines("a=crypto") and "RTP/SAVP" in to_pbx.sdp_lines("m=")[0],
          f"the pbx leg was not offered SRTP: {to_pbx.sdp_lines('m=')}")
    inv = new.received("INVITE")[0]
    check(not inv.sdp_lines("a=crypto") and "RTP/AVP " in inv.sdp_lines("m=")[0],
          f"the plain target was offered {inv.sdp_lines('m=')} {inv.sdp_lines('a=crypto')}")
    check(inv.sdp_lines("m=")[0].split()[1] == to_pbx.sdp_lines("m=")[0].split()[1],
          "the target was not given the referrer's media port")
    check(new.received("BYE"), "the caller's BYE did not reach the target")
    cdr = read_cdrs(t, 1)[0]
    check(cdr["to_trunk"] == "target" and cdr["status"] == 200, f"CDR: {cdr}")
    sbcd.stop()
