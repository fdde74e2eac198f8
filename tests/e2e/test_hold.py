"""End-to-end tests of holds towards a trunk that states them a=inactive
(issue 21: Microsoft Teams and ACS direct routing, trunk key `hold: inactive`,
which the microsoft profile sets). The carrier trunk plays Microsoft here, on
plain UDP and RTP (the profile's TLS and SRTP are shown elsewhere); the pbx
trunk passes holds (`hold: pass`, the default). Each side's sipp checks the
directions it is offered and answered with its own regexp actions; these
functions check the same on the traces, and the addresses.
"""

from harness import CARRIER_SIPP_MEDIA, SIP_PORT, PBX_SIPP_MEDIA, check

TESTS = []


def e2e_test(fn):
    TESTS.append(fn)
    return fn


MICROSOFT = ["hold: inactive"]


def direction(msg):
    """The a= direction of an SDP body (the SBC always states one on the stream)."""
    found = [line[2:] for line in msg.sdp_lines("a=")
             if line[2:] in ("sendrecv", "sendonly", "recvonly", "inactive")]
    return found[0] if found else None


def reinvites(peer):
    """The in-dialog INVITEs `peer` received (its first INVITE, if it was called,
    is not one)."""
    return [m for m in peer.received("INVITE") if m.header("to") and "tag=" in m.header("to")]


def invite_answers(peer):
    """The 200s to INVITEs `peer` received, with SDP, in order."""
    return [m for m in peer.received(status=200)
            if m.header("cseq").endswith("INVITE") and m.sdp_lines("c=")]


def media_target(msg):
    return msg.sdp_lines("c=")[0].split()[-1], msg.sdp_lines("m=")[0].split()[1]


@e2e_test
def hold_inactive_from_microsoft(t):
    """Microsoft (the carrier, hold: inactive) calls the pbx and holds with a
    re-INVITE a=inactive: the pbx is offered a=sendonly and answers a=recvonly,
    and Microsoft's 200 says a=inactive (RFC 3264 6.1), on the SBC's address.
    The hold lasts longer than media.timeout (3 s) and nothing on either side
    sends media: the held call stays up. Resume a=sendrecv reaches the pbx as
    a=sendrecv and its answer Microsoft as a=sendrecv, on the same SBC ports
    as before the hold."""
    sbcd = t.start_sbcd(carrier_extra=MICROSOFT, media_timeout=3)
    pbx = t.uas("pbx", "uas_hold_resume.xml")
    ms = t.uac("microsoft", "uac_hold_inactive_resume.xml", duration_ms=5000)
    ms.finish()
    pbx.finish()
    to_pbx = reinvites(pbx)
    check(len(to_pbx) == 2, f"{len(to_pbx)} re-INVITEs reached the pbx, expected 2")
    check(direction(to_pbx[0]) == "sendonly",
          f"the pbx was offered the hold as {to_pbx[0].sdp_lines('a=')}")
    check(direction(to_pbx[1]) == "sendrecv",
          f"the pbx was offered the resume as {to_pbx[1].sdp_lines('a=')}")
    answers = invite_answers(ms)
    check(len(answers) == 3, f"Microsoft got {len(answers)} answers, expected 3")
    check([direction(a) for a in answers] == ["sendrecv", "inactive", "sendrecv"],
          f"Microsoft's answers said {[direction(a) for a in answers]}")
    check(all(media_target(a) == media_target(answers[0]) for a in answers) and
          media_target(answers[0])[0] == t.carrier_sbc,
          f"Microsoft's answers moved: {[media_target(a) for a in answers]}")
    first = pbx.received("INVITE")[0]
    check(all(media_target(m) == media_target(first) for m in to_pbx) and
          media_target(first)[0] == t.pbx_sbc,
          f"the pbx's offers moved: {[media_target(m) for m in [first, *to_pbx]]}")
    check(not ms.received("BYE") and len(pbx.received("BYE")) == 1,
          "the SBC hung up the held call (media timeout?)")
    t.assert_topology_hidden(ms.messages(), pbx.messages())
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def hold_sendonly_towards_microsoft(t):
    """The pbx calls Microsoft (the carrier, hold: inactive) and holds with a
    re-INVITE a=sendonly: Microsoft is offered a=inactive on the SBC's address
    (never c=0.0.0.0) and answers a=inactive; the pbx's 200 says a=recvonly,
    the answer RFC 3264 8.4 gives a hold. Resume a=sendrecv reaches Microsoft
    as a=sendrecv, and its a=sendrecv answer the pbx."""
    sbcd = t.start_sbcd(carrier_extra=MICROSOFT)
    ms = t.uas("microsoft", "uas_held_inactive.xml", local_ip=t.carrier(2),
               media_port=CARRIER_SIPP_MEDIA)
    pbx = t.uac("pbx", "uac_hold_resume.xml", local_ip=t.pbx_peer,
                remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA)
    pbx.finish()
    ms.finish()
    to_ms = reinvites(ms)
    check(len(to_ms) == 2, f"{len(to_ms)} re-INVITEs reached Microsoft, expected 2")
    check([direction(m) for m in to_ms] == ["inactive", "sendrecv"],
          f"Microsoft was offered {[direction(m) for m in to_ms]}")
    check(media_target(to_ms[0])[0] == t.carrier_sbc,
          f"the hold offer's c=: {to_ms[0].sdp_lines('c=')}")
    answers = invite_answers(pbx)
    check([direction(a) for a in answers] == ["sendrecv", "recvonly", "sendrecv"],
          f"the pbx's answers said {[direction(a) for a in answers]}")
    t.assert_topology_hidden(ms.messages(), pbx.messages())
    sbcd.assert_no_calls()
    sbcd.stop()
