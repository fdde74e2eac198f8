"""End-to-end tests of transfers with Microsoft's proxies (issue 21: Teams and
ACS direct routing), with sipp playing the proxy message by message over
plain UDP/RTP (TLS and SRTP of the full profile are shown elsewhere):

- the proxy's REFER whose Refer-To names the proxy itself, without a user,
  carrying the target in x-m and the tenant in x-t: the SBC calls back
  through the proxy's own trunk with that URI as the Request-URI;
- an INVITE with Replaces from the PBX side naming a dialog whose other leg
  is on a `replaces: terminate` trunk (the Microsoft profile's setting): the
  proxy gets a re-INVITE, never an INVITE with Replaces.
"""

import re

from harness import PBX_SIPP_MEDIA, SIP_PORT, cdr_lines, check, read_cdrs, wait_until
from test_dialog import pbx_caller, tag_of

TESTS = []


def e2e_test(fn):
    TESTS.append(fn)
    return fn


@e2e_test
def microsoft_refer_with_x_m_and_x_t(t):
    """The carrier (the PBX side here) calls the pbx trunk, which plays
    Microsoft's proxy (refer: handle). The proxy transfers the call with a
    REFER to `<sip:PROXY;x-m=+15551234567;x-t=tenant-e2e>` and a Referred-By
    carrying x-m and x-t. sbcd answers 202, NOTIFYs 100 then 200 (sipfrag),
    sends a new INVITE back to the proxy whose Request-URI is the Refer-To
    URI with x-m and x-t and whose Referred-By is the REFER's, BYEs the old
    proxy dialog, and re-INVITEs the carrier, which stays up and finally
    hangs up on the new call."""
    sbcd = t.start_sbcd(pbx_extra=["refer: handle"], extra_top=cdr_lines(t))
    proxy = t.uas("proxy", "uas_ms_refer.xml", duration_ms=500, calls=2)
    uac = t.uac("carrier", "uac_call_reinvited.xml", duration_ms=2000)
    uac.finish()
    proxy.finish()
    invites = proxy.received("INVITE")
    check(len(invites) == 2, f"the proxy got {len(invites)} INVITEs")
    transfer = invites[1]
    check(transfer.first_line ==
          f"INVITE sip:{t.pbx_peer};x-m=+15551234567;x-t=tenant-e2e SIP/2.0",
          f"the transfer's INVITE: {transfer.first_line}")
    check(transfer.header("call-id") != invites[0].header("call-id"),
          "the transfer's INVITE reused the first dialog")
    referred_by = transfer.header("referred-by") or ""
    check("x-m=alice" in referred_by and "x-t=tenant-e2e" in referred_by and
          "alice@contoso.example" in referred_by, f"Referred-By: {referred_by!r}")
    check(transfer.header("replaces") is None, "the transfer's INVITE carries Replaces")
    notifies = proxy.received("NOTIFY")
    frags = [re.search(r"SIP/2.0 (\d+)", n.text).group(1) for n in notifies]
    check(frags == ["100", "200"], f"NOTIFY sipfrags: {frags}")
    check(proxy.received("BYE"), "the proxy got no BYE")
    # The carrier learnt of it from a re-INVITE in its own dialog only.
    reinvites = uac.received("INVITE")
    check(len(reinvites) == 1, f"the carrier got {len(reinvites)} re-INVITEs")
    seen = {m.method for m in uac.received() if not m.is_response}
    check(not seen & {"REFER", "NOTIFY"}, f"the carrier saw {seen}")
    cdr = read_cdrs(t, 1)[0]
    check(cdr["to_trunk"] == "pbx" and cdr["status"] == 200 and
          cdr["disconnected_by"] == "caller", f"CDR: {cdr}")
    sbcd.stop()


@e2e_test
def invite_with_replaces_never_sent_to_microsoft(t):
    """A pbx phone calls the carrier trunk, which plays Microsoft's proxy
    (replaces: terminate). Another pbx device sends sbcd an INVITE with
    Replaces naming the phone's dialog (an attended transfer the pbx carries
    out itself). sbcd accepts it: the proxy gets a re-INVITE in its own
    dialog (the SBC's same media address), never an INVITE with Replaces;
    the new device gets 200; the replaced phone gets a BYE; the call goes on
    until the new device hangs up, and its BYE reaches the proxy."""
    sbcd = t.start_sbcd(carrier_extra=["replaces: terminate"], extra_top=cdr_lines(t))
    proxy = t.uas("proxy", "uas_reinvited.xml", local_ip=t.carrier(2), media_port=6000)
    first = pbx_caller(t, "phone", "uac_recv_bye.xml")
    wait_until(lambda: any(m.is_response and m.status == 200 for m in first.received()), 10.0)
    invite = [m for m in first.messages() if m.direction == "sent" and m.method == "INVITE"][0]
    ok = [m for m in first.received() if m.is_response and m.status == 200][0]
    second = t.uac("transferee", "uac_call_replaces.xml", local_ip=t.pbx_peer, port=5062,
                   remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA + 4,
                   duration_ms=2500,
                   extra=["-set", "rep_callid", invite.header("call-id"),
                          "-set", "rep_to", tag_of(ok.header("to")),
                          "-set", "rep_from", tag_of(invite.header("from"))])
    first.finish()
    second.finish()
    proxy.finish()
    invites = proxy.received("INVITE")
    check(len(invites) == 2, f"the proxy got {len(invites)} INVITEs")
    check(all(m.header("replaces") is None for m in invites),
          "an INVITE with Replaces reached the proxy")
    check(invites[1].header("call-id") == invites[0].header("call-id") and
          tag_of(invites[1].header("from")) == tag_of(invites[0].header("from")),
          "the second INVITE is not a re-INVITE of the proxy's dialog")
    check(invites[1].sdp_lines("c=") == invites[0].sdp_lines("c=") and
          invites[1].sdp_lines("m=") == invites[0].sdp_lines("m="),
          f"the re-INVITE moved the SBC's media: {invites[1].sdp_lines('m=')}")
    check(first.received("BYE"), "the replaced phone got no BYE")
    oks = [m for m in second.received() if m.is_response and m.status == 200]
    check(len(oks) >= 2, f"the new device got {[m.first_line for m in second.received()]}")
    check(proxy.received("BYE"), "the new device's BYE did not reach the proxy")
    records = read_cdrs(t, 1)
    check(records[0]["to_trunk"] == "carrier" and records[0]["status"] == 200, f"CDRs: {records}")
    sbcd.stop()
