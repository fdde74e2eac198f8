"""The end-to-end tests: each function is one test, run by run_e2e.py.

A test gets a TestContext (harness.py), starts sbcd and sipp peers through it,
and raises TestFailure (through check()) when something the SBC must do did
not happen. The context kills whatever is still running afterwards.
"""

import os
import random
import re
import signal
import subprocess
from pathlib import Path

from harness import (CARRIER_SIPP_MEDIA, MEDIA_MAX, MEDIA_MIN, PBX_SIPP_MEDIA, REPO, SCENARIOS,
                     SIP_PORT, Control, Net, TestFailure, assert_topology_hidden, cdr_lines, check,
                     drain, poll_calls_while, read_cdrs_now, udp_bound, serial, udp_ports_of,
                     wait_until)

TESTS = []


def e2e_test(fn):
    TESTS.append(fn)
    return fn


# --------------------------------------------------------------------------
# Shared assertions


def assert_sdp_rewritten(msg, sbc_ip, who):
    """RFC 5853 / DESIGN.md: SDP leaving the SBC names only its own media address."""
    check(msg.body.strip(), f"{who}: '{msg.first_line}' carries no SDP")
    conns = msg.sdp_lines("c=")
    check(conns and all(c.split()[-1] == sbc_ip for c in conns),
          f"{who}: c= lines {conns} are not the SBC's media address {sbc_ip}")
    origin = msg.sdp_lines("o=")
    check(origin and origin[0].split()[-1] == sbc_ip,
          f"{who}: o= line {origin} does not name the SBC's address {sbc_ip}")
    media = msg.sdp_lines("m=audio")
    check(media, f"{who}: no m=audio line in the SDP")
    port = int(media[0].split()[1])
    check(MEDIA_MIN <= port <= MEDIA_MAX,
          f"{who}: m= port {port} is not in the SBC's media range {MEDIA_MIN}-{MEDIA_MAX}")
    return port


def first(msgs, what):
    check(msgs, f"no {what} in the trace")
    return msgs[0]


def assert_one_call(samples, from_trunk, to_trunk):
    seen = [calls for _, calls in samples if calls]
    check(seen, "sbcctl calls never showed the call while it was up")
    call = seen[-1][0]
    check(len(seen[-1]) == 1, f"sbcctl shows {len(seen[-1])} calls for one call")
    check(call.get("from_trunk") == from_trunk and call.get("to_trunk") == to_trunk,
          f"call listed as {call.get('from_trunk')} -> {call.get('to_trunk')}, expected "
          f"{from_trunk} -> {to_trunk}")
    return call


def max_packets(samples):
    a_b = b_a = 0
    for _, calls in samples:
        for c in calls or []:
            a_b = max(a_b, int(c.get("packets_a_to_b", 0) or 0))
            b_a = max(b_a, int(c.get("packets_b_to_a", 0) or 0))
    return a_b, b_a


def media_call(t, *, reverse=False, config=None, during=None, duration_ms=7500):
    """A call with g711a.pcap played by both peers; checks signalling, SDP,
    topology hiding and RTP counts both ways, and (on the generated
    configuration) the media counters of the CDR. `during(sbcd, uac, uas)`
    runs while the call is up. Returns (sbcd, uac, uas, samples)."""
    sbcd = t.start_sbcd(config) if config else t.start_sbcd(extra_top=cdr_lines(t))
    if reverse:
        uas = t.uas("uas", "uas_answer_media.xml", local_ip=t.carrier_peer,
                    media_port=CARRIER_SIPP_MEDIA)
        uac = t.uac("uac", "uac_call_media.xml", local_ip=t.pbx_peer,
                    remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA,
                    duration_ms=duration_ms)
        caller_sbc, callee_sbc = t.pbx_sbc, t.carrier_sbc
    else:
        uas = t.uas("uas", "uas_answer_media.xml")
        uac = t.uac("uac", "uac_call_media.xml", duration_ms=duration_ms)
        caller_sbc, callee_sbc = t.carrier_sbc, t.pbx_sbc
    if during:
        wait_until(lambda: sbcd.calls() or not uac.alive(), 10.0, 0.2)
        during(sbcd, uac, uas)
    samples = poll_calls_while(sbcd, [uac, uas], interval=0.5)
    uac.finish()
    uas.finish()
    sbcd.assert_alive()

    invite = first(uas.received("INVITE"), "INVITE at the callee")
    assert_sdp_rewritten(invite, callee_sbc, "INVITE to the callee")
    ok = first(uac.received(status=200), "200 at the caller")
    assert_sdp_rewritten(ok, caller_sbc, "200 OK to the caller")
    if reverse:
        t.assert_topology_hidden(uas.messages(), uac.messages())
    else:
        t.assert_topology_hidden(uac.messages(), uas.messages())
    a_b, b_a = max_packets(samples)
    check(a_b > 100 and b_a > 100,
          f"RTP not relayed both ways: packets_a_to_b={a_b}, packets_b_to_a={b_a} "
          f"(each peer played 236 packets)")
    # The workers' latching events reached the control plane.
    log = sbcd.stderr_path.read_text(errors="replace")
    for leg in ("a", "b"):
        check(f"leg {leg} media latched to" in log, f"no latching event for leg {leg} in the log")
    sbcd.assert_no_calls()
    if not config:
        # Refused requests (robustness_probe) have records of their own.
        answered = [r for r in read_cdrs_now(t) if r["status"] == 200]
        check(len(answered) == 1, f"{len(answered)} answered calls in the CDRs")
        media = answered[0]["media"]
        for leg in ("a", "b"):
            m = media[leg]
            # g711a.pcap: 20 ms of PCMA, 160 payload bytes and a 12-byte RTP header.
            check(m["packets_sent"] > 100 and m["bytes_sent"] >= 172 * m["packets_sent"] * 0.9 and
                  m["packets_received"] > 100 and m["bytes_received"] > 100 * 172,
                  f"CDR media counters of leg {leg}: {m}")
    return sbcd, uac, uas, samples


# --------------------------------------------------------------------------
# Configuration checks


@e2e_test
def check_config_default(t):
    path = REPO / "conf" / "sbc.yaml"
    r = subprocess.run([t.sbcd_bin, "--check-config", str(path)], capture_output=True,
                       text=True, timeout=10, stdin=subprocess.DEVNULL)
    check(r.returncode == 0, f"sbcd --check-config conf/sbc.yaml exited {r.returncode}: "
          f"{(r.stdout + r.stderr).strip()[:300]}")


@e2e_test
def check_config_broken(t):
    text = (REPO / "conf" / "sbc.yaml").read_text()
    # An unknown top-level key must be reported with file:line:column.
    broken = t.config_path(text.rstrip("\n") + "\nmedia_typo: 1\n", "broken.yaml")
    r = subprocess.run([t.sbcd_bin, "--check-config", str(broken)], capture_output=True,
                       text=True, timeout=10, stdin=subprocess.DEVNULL)
    out = (r.stdout + r.stderr).strip()
    check(r.returncode == 1, f"--check-config on a broken file exited {r.returncode}: {out[:300]}")
    line = len(text.rstrip("\n").splitlines()) + 1
    check(re.search(re.escape(str(broken)) + rf":{line}:\d+", out),
          f"the error does not name file:{line}:column: {out[:300]}")
    check("media_typo" in out, f"the error does not name the key media_typo: {out[:300]}")
    unparsable = t.config_path("interfaces:\n  - name: [unclosed\n", "unparsable.yaml")
    r = subprocess.run([t.sbcd_bin, "--check-config", str(unparsable)], capture_output=True,
                       text=True, timeout=10, stdin=subprocess.DEVNULL)
    out = (r.stdout + r.stderr).strip()
    check(r.returncode == 1, f"--check-config on unparsable YAML exited {r.returncode}: "
          f"{out[:300]}")
    check(re.search(re.escape(str(unparsable)) + r":\d+:\d+", out),
          f"the YAML syntax error does not name file:line:column: {out[:300]}")


# --------------------------------------------------------------------------
# Calls


@e2e_test
def basic_call_default_config(t):
    """Carrier -> pbx with RTP both ways, on conf/sbc.yaml as shipped."""
    _, _, _, samples = media_call(t, config=t.default_config())
    assert_one_call(samples, "carrier", "pbx")


@e2e_test
def reverse_call(t):
    """The same call from the pbx side towards the carrier."""
    _, _, _, samples = media_call(t, reverse=True)
    assert_one_call(samples, "pbx", "carrier")


@e2e_test
def bye_from_callee(t):
    sbcd = t.start_sbcd()
    uas = t.uas("uas", "uas_send_bye.xml", duration_ms=1000)
    uac = t.uac("uac", "uac_recv_bye.xml")
    uac.finish()
    uas.finish()
    first(uac.received("BYE"), "BYE relayed to the caller")
    check(uas.received(status=200) and uas.received(status=200)[-1].method == "BYE",
          "the callee's BYE was not answered 200")
    t.assert_topology_hidden(uac.messages(), uas.messages())
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def tcp_both_legs(t):
    """SIP over TCP: the carrier calls the SBC's TCP listener, and the SBC
    reaches the pbx peer configured with transport=tcp over TCP too."""
    sbcd = t.start_sbcd(pbx_transport="tcp")
    uas = t.uas("uas", "uas_answer.xml", extra=["-t", "t1"])
    uac = t.uac("uac", "uac_call.xml", extra=["-t", "t1"])
    uac.finish()
    uas.finish()
    invite = first(uas.received("INVITE"), "INVITE at the callee over TCP")
    check("SIP/2.0/TCP" in (invite.header("Via") or ""),
          f"the SBC's INVITE did not travel over TCP: Via {invite.header('Via')}")
    check("transport=tcp" in (invite.header("Contact") or "").lower(),
          f"the SBC's Contact does not say TCP: {invite.header('Contact')}")
    ok = first(uac.received(status=200), "200 at the caller over TCP")
    check("transport=tcp" in (ok.header("Contact") or "").lower(),
          f"the Contact of the 200 to the TCP caller does not say TCP: {ok.header('Contact')}")
    t.assert_topology_hidden(uac.messages(), uas.messages())
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def large_request_moves_to_tcp(t):
    """RFC 3261 18.1.1: an INVITE of more than 1,300 bytes (here a long
    Subject and Organization, which the pbx trunk lets through) goes to the
    pbx's UDP peer over TCP.
    The pbx listens on TCP alone: over UDP the INVITE would be lost."""
    template = (SCENARIOS / "uac_call.xml").read_text()
    scenario = t.workdir / "uac_call_long_subject.xml"
    scenario.write_text(template.replace(
        "Subject: e2e call", "Subject: " + "long " * 150 + "\n      Organization: " + "big " * 180))
    sbcd = t.start_sbcd()
    uas = t.uas("uas", "uas_answer.xml", extra=["-t", "t1"])
    uac = t.uac("uac", scenario)
    uac.finish()
    uas.finish()
    invite = first(uas.received("INVITE"), "INVITE at the TCP-only callee")
    check("SIP/2.0/TCP" in (invite.header("Via") or ""),
          f"the large INVITE did not move to TCP: Via {invite.header('Via')}")
    check(len(invite.text.encode()) > 1300, f"the INVITE was only {len(invite.text)} bytes")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def ice_candidates_stay_on_their_leg(t):
    """An offer as Teams sends it (ICE credentials and a dozen candidates,
    over 1,300 bytes) reaches the pbx's UDP peer without one ICE attribute,
    small enough for UDP (issue 21: ICE candidates removed towards UDP
    trunks, no SDP over 1,300 bytes over UDP)."""
    template = (SCENARIOS / "uac_call.xml").read_text()
    ice = ["a=ice-ufrag:Teamsx1", "a=ice-pwd:TeamsPasswordOf24Chars00"]
    for i in range(12):
        ice.append(f"a=candidate:{i + 1} {1 + i % 2} UDP {2130706431 - i} 198.51.100.{i + 10} "
                   f"{50000 + i} typ {'host' if i < 4 else 'srflx raddr 10.0.0.1 rport 5000'}")
    ice.append("a=label:main-audio")
    scenario = t.workdir / "uac_call_teams_sdp.xml"
    scenario.write_text(template.replace("      a=sendrecv\n",
                                         "".join(f"      {a}\n" for a in ice) + "      a=sendrecv\n"))
    sbcd = t.start_sbcd()
    uas = t.uas("uas", "uas_answer.xml")
    uac = t.uac("uac", scenario)
    uac.finish()
    uas.finish()
    sent = first([m for m in uac.messages()
                  if m.direction == "sent" and m.first_line.startswith("INVITE")],
                 "the caller's INVITE")
    check(len(sent.text.encode()) > 1300, f"the caller's INVITE was only {len(sent.text)} bytes")
    invite = first(uas.received("INVITE"), "INVITE at the pbx")
    check("SIP/2.0/UDP" in (invite.header("Via") or ""), f"not over UDP: {invite.header('Via')}")
    check("a=candidate" not in invite.text and "a=ice-" not in invite.text,
          f"ICE attributes crossed to the pbx: {invite.text}")
    check(len(invite.text.encode()) < 1300, f"the pbx's INVITE is {len(invite.text)} bytes")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def early_media_183(t):
    """A 183 with SDP reaches the caller with the SDP rewritten to the SBC,
    on the same media port as the 200 that follows."""
    sbcd = t.start_sbcd()
    uas = t.uas("uas", "uas_early_media.xml")
    uac = t.uac("uac", "uac_call.xml")
    uac.finish()
    uas.finish()
    progress = first(uac.received(status=183), "183 at the caller")
    early_port = assert_sdp_rewritten(progress, t.carrier_sbc, "183 to the caller")
    ok = first(uac.received(status=200), "200 at the caller")
    answer_port = assert_sdp_rewritten(ok, t.carrier_sbc, "200 OK to the caller")
    check(early_port == answer_port,
          f"early media on port {early_port} but the answer names port {answer_port}")
    t.assert_topology_hidden(uac.messages(), uas.messages())
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def failures_mapped(t):
    """Final failures reach the caller mapped where the status only makes sense
    on the callee's hop: a redirect (whose Contact names the callee's network)
    becomes 480, a 503 from beyond 500 (RFC 3261 16.7); a 404 passes as is."""
    sbcd = t.start_sbcd()
    for code, expected in ((302, 480), (503, 500), (404, 404), (603, 603)):
        # sipp checks status codes when it loads a scenario, before any
        # substitution, so each code gets its own copy of the template.
        template = (SCENARIOS / "uas_reject.xml").read_text()
        scenario = Path(t.workdir) / f"uas_reject_{code}.xml"
        scenario.write_text(template.replace("[code]", str(code)))
        uas = t.uas(f"uas-{code}", scenario)
        uac = t.uac(f"uac-{code}", "uac_reject.xml")
        uac.finish()
        uas.finish()
        finals = [m for m in uac.received() if m.is_response and m.status >= 300]
        check(finals and finals[0].status == expected,
              f"callee answered {code}; the caller got {[m.first_line for m in finals]} "
              f"instead of {expected}")
        first(uas.received("ACK"), f"ACK for the {code} at the callee")
        t.assert_topology_hidden(uac.messages(), uas.messages())
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def delayed_offer_passed_through(t):
    """An INVITE without SDP (RFC 3264 5): the callee's offer in the 200 reaches
    the caller rewritten, and the caller's answer in the ACK reaches the callee
    rewritten to the SBC's pbx-side media address."""
    sbcd = t.start_sbcd()
    uas = t.uas("uas", "uas_answer.xml")
    uac = t.uac("uac", "uac_delayed_offer.xml")
    uac.finish()
    uas.finish()
    invite = first(uas.received("INVITE"), "INVITE at the callee")
    check(not invite.body.strip(), "the delayed-offer INVITE reached the callee with a body")
    ok = first(uac.received(status=200), "200 at the caller")
    assert_sdp_rewritten(ok, t.carrier_sbc, "200 (the offer) to the caller")
    ack = first(uas.received("ACK"), "ACK at the callee")
    assert_sdp_rewritten(ack, t.pbx_sbc, "ACK (the answer) to the callee")
    t.assert_topology_hidden(uac.messages(), uas.messages())
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def early_offer_reject(t):
    """A carrier trunk with early_offer: reject refuses a delayed-offer INVITE
    from the pbx with 488 and a Warning; nothing reaches the carrier. An INVITE
    with SDP on the same trunk still gets through."""
    sbcd = t.start_sbcd(carrier_early_offer="reject")
    template = (SCENARIOS / "uac_reject.xml").read_text()
    start = template.index("      Content-Type: application/sdp")
    end = template.index("    ]]>", start)
    scenario = Path(t.workdir) / "uac_delayed_offer_reject.xml"
    scenario.write_text(template[:start] + "      Content-Length: 0\n\n" + template[end:])
    uas = t.uas("carrier", "uas_answer.xml", local_ip=t.carrier_peer,
                media_port=CARRIER_SIPP_MEDIA)
    uac = t.uac("pbx", scenario, local_ip=t.pbx_peer, remote=f"{t.pbx_sbc}:{SIP_PORT}",
                media_port=PBX_SIPP_MEDIA)
    uac.finish()
    finals = [m for m in uac.received() if m.is_response and m.status >= 300]
    check(finals and finals[0].status == 488,
          f"the delayed offer got {[m.first_line for m in finals]} instead of 488")
    warning = finals[0].header("warning") or ""
    check("requires an SDP offer" in warning, f"no Warning saying why: '{warning}'")
    check(not uas.received("INVITE"), "the delayed-offer INVITE reached the carrier")
    # The same trunk takes a call with an offer.
    uac2 = t.uac("pbx-offer", "uac_call.xml", local_ip=t.pbx_peer,
                 remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA)
    uac2.finish()
    uas.finish()
    first(uas.received("INVITE"), "INVITE with SDP at the carrier")
    first(uac2.received(status=200), "200 for the call with an offer")
    sbcd.assert_no_calls()
    sbcd.stop()


# RFC 3261 25.1: quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE.
WARNING_399 = re.compile(r'^399 \S+ "(?:[\x20\x21\x23-\x5b\x5d-\x7e]'
                         r'|\\[\x00-\x09\x0b\x0c\x0e-\x7f])*"$')


@e2e_test
def malformed_offer_488(t):
    """Issue 19: offers sofia's SDP parser refuses (a second v= line, an
    unknown zz= line, a byte outside ASCII) each get a final 488 whose
    Warning is a valid quoted-string naming the problem, never only a 100
    Trying; nothing reaches the pbx, and sbcd's log shows the odd byte
    escaped, not raw."""
    sbcd = t.start_sbcd()
    template = (SCENARIOS / "uac_reject.xml").read_text()
    at = template.index("      t=0 0\n") + len("      t=0 0\n")  # session level
    uas = t.uas("pbx", "uas_answer.xml", local_ip=t.pbx_peer, media_port=PBX_SIPP_MEDIA)
    cases = {"second_v": "v=0", "unknown_field": "zz=1", "raw_byte": "x\x94o=1"}
    for name, line in cases.items():
        scenario = Path(t.workdir) / f"uac_offer_{name}.xml"
        scenario.write_bytes((template[:at] + f"      {line}\n" + template[at:])
                             .encode("latin-1"))
        uac = t.uac(name, scenario)
        uac.finish()
        finals = [m for m in uac.received() if m.is_response and m.status >= 200]
        check(finals and finals[0].status == 488,
              f"{name}: the malformed offer got {[m.first_line for m in finals]} instead of 488")
        warning = finals[0].header("warning") or ""
        check(WARNING_399.match(warning) and "SDP" in warning,
              f"{name}: the 488's Warning is not a valid 399 quoted-string: {warning!r}")
    check(not uas.received("INVITE"), "a malformed offer reached the pbx")
    log = Path(sbcd.stderr_path).read_bytes()
    check(not any(b >= 0x80 for b in log), "sbcd's log holds raw bytes outside ASCII")
    check(b"\\x94" in log, "sbcd's log does not show the odd byte as \\x94")
    uas.kill()
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def early_offer_convert(t):
    """early_offer: convert (issue 3): a delayed-offer INVITE from the pbx leaves
    towards the carrier with an offer the SBC built (naming only the SBC, with
    the trunk's codecs); the carrier's answer shapes the offer in the 200 to the
    caller, whose answer in the ACK completes the call; the carrier's ACK carries
    no SDP, as it answered already. This is conf/sbc.yaml as shipped: its
    carrier trunk converts."""
    sbcd = t.start_sbcd(t.default_config())
    uas = t.uas("carrier", "uas_answer.xml", local_ip=t.carrier_peer,
                media_port=CARRIER_SIPP_MEDIA)
    uac = t.uac("pbx", "uac_delayed_offer.xml", local_ip=t.pbx_peer,
                remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA, duration_ms=1000)
    uac.finish()
    uas.finish()
    invite = first(uas.received("INVITE"), "INVITE at the carrier")
    assert_sdp_rewritten(invite, t.carrier_sbc, "INVITE (the SBC's offer) to the carrier")
    media = invite.sdp_lines("m=audio")[0].split()
    check(media[3:] == ["0", "8", "101"],
          f"the offer lists payload types {media[3:]}, not the trunk's PCMU, PCMA, "
          "telephone-event")
    ok = first(uac.received(status=200), "200 at the caller")
    assert_sdp_rewritten(ok, t.pbx_sbc, "200 (the offer) to the caller")
    ack = first(uas.received("ACK"), "ACK at the carrier")
    check(not ack.body.strip(), "the carrier's ACK carries SDP although it answered already")
    first(uas.received("BYE"), "BYE at the carrier")
    t.assert_topology_hidden(uas.messages(), uac.messages())
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def early_offer_convert_unfit_answer(t):
    """With convert, a caller whose ACK answer fits nothing the SBC offered
    (G.722 only) gets a BYE, and so does the carrier, and the SBC logs why."""
    sbcd = t.start_sbcd(carrier_early_offer="convert")
    uas = t.uas("carrier", "uas_answer.xml", local_ip=t.carrier_peer,
                media_port=CARRIER_SIPP_MEDIA)
    uac = t.uac("pbx", "uac_delayed_offer_unfit_answer.xml", local_ip=t.pbx_peer,
                remote=f"{t.pbx_sbc}:{SIP_PORT}", media_port=PBX_SIPP_MEDIA)
    uac.finish()
    uas.finish()
    first(uac.received("BYE"), "BYE from the SBC at the caller")
    first(uas.received("BYE"), "BYE from the SBC at the carrier")
    sbcd.assert_no_calls()
    sbcd.stop()
    check("does not fit the SBC's offer" in sbcd.stderr_tail(200),
          "sbcd did not log why it ended the call")


@e2e_test
def cancel_before_answer(t):
    sbcd = t.start_sbcd()
    uas = t.uas("uas", "uas_cancel.xml")
    uac = t.uac("uac", "uac_cancel.xml")
    uac.finish()
    uas.finish()
    first(uas.received("CANCEL"), "CANCEL relayed to the callee")
    first(uac.received(status=487), "487 to the caller")
    check(any(m.method == "CANCEL" for m in uac.received(status=200)),
          "the caller's CANCEL was not answered 200")
    first(uas.received("ACK"), "ACK for the 487 at the callee")
    t.assert_topology_hidden(uac.messages(), uas.messages())
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def busy_486(t):
    sbcd = t.start_sbcd()
    uas = t.uas("uas", "uas_486.xml")
    uac = t.uac("uac", "uac_reject.xml")
    uac.finish()
    uas.finish()
    finals = [m for m in uac.received() if m.is_response and m.status >= 300]
    check(finals and finals[0].status == 486,
          f"the caller got {[m.first_line for m in finals]} instead of 486")
    first(uas.received("ACK"), "ACK for the 486 at the callee")
    t.assert_topology_hidden(uac.messages(), uas.messages())
    sbcd.assert_no_calls()
    sbcd.stop()


def assert_hold_resume(offerer, answerer, who):
    """The two re-INVITEs reached the answerer with the offered directions and the
    answers came back (sipp's own ereg checks hold the details)."""
    reinvites = answerer.received("INVITE")[1:] if who == "caller" else answerer.received(
        "INVITE")
    check(len(reinvites) == 2, f"{len(reinvites)} re-INVITEs from the {who} reached the other "
          f"side, expected 2 (hold, resume)")
    check("a=sendonly" in reinvites[0].body,
          f"the hold re-INVITE arrived without a=sendonly: {reinvites[0].sdp_lines('a=')}")
    check("a=sendonly" not in reinvites[1].body,
          f"the resume re-INVITE still says a=sendonly: {reinvites[1].sdp_lines('a=')}")
    answers = [m for m in offerer.received(status=200) if m.method == "INVITE"]
    if who == "caller":
        answers = answers[1:]
    check(len(answers) == 2, f"{len(answers)} answers to the {who}'s re-INVITEs, expected 2")
    check("a=recvonly" in answers[0].body,
          f"the answer to hold lacks a=recvonly: {answers[0].sdp_lines('a=')}")
    check(len(answerer.received("ACK")) >= 2, "the re-INVITE answers were not ACKed")
    assert_sdp_versions(offerer, "the " + who)
    assert_sdp_versions(answerer, "the other side of the " + who)


def assert_sdp_versions(peer, who):
    """RFC 3264 8: every SDP the SBC sends in one dialog keeps its o= session id
    and, as each one here differs from the last, increments its version."""
    origins = [m.sdp_lines("o=")[0].split() for m in peer.received() if m.sdp_lines("o=")]
    check(len(origins) >= 3, f"{who} received {len(origins)} SDP bodies, expected 3")
    ids = {o[1] for o in origins}
    check(len(ids) == 1, f"{who} saw the SBC's o= session id change: {sorted(ids)}")
    versions = [int(o[2]) for o in origins]
    check(all(a < b for a, b in zip(versions, versions[1:])),
          f"{who} saw o= versions {versions}, expected them to increase with each change")


@e2e_test
def hold_resume_from_caller(t):
    sbcd = t.start_sbcd()
    uas = t.uas("uas", "uas_hold_resume.xml")
    uac = t.uac("uac", "uac_hold_resume.xml")
    uac.finish()
    uas.finish()
    assert_hold_resume(uac, uas, "caller")
    t.assert_topology_hidden(uac.messages(), uas.messages())
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def hold_resume_from_callee(t):
    sbcd = t.start_sbcd()
    uas = t.uas("uas", "uas_send_reinvite.xml")
    uac = t.uac("uac", "uac_accept_reinvite.xml")
    uac.finish()
    uas.finish()
    assert_hold_resume(uas, uac, "callee")
    t.assert_topology_hidden(uac.messages(), uas.messages())
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def options_answered(t):
    sbcd = t.start_sbcd()
    for side, ip, sbc_ip in (("carrier", t.carrier_peer, t.carrier_sbc),
                             ("pbx", t.pbx_peer, t.pbx_sbc)):
        uac = t.uac(f"options_{side}", "uac_options.xml", local_ip=ip,
                    remote=f"{sbc_ip}:{SIP_PORT}", media_port=None)
        uac.finish(timeout=15)
        first(uac.received(status=200), f"200 to OPTIONS on the {side} side")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def no_route_404(t):
    """Only R-URI users starting with 1 are routed; 2000 gets 404 and nothing
    reaches the pbx, while 1000 still goes through."""
    sbcd = t.start_sbcd(routes=[
        {"name": "ones-to-pbx", "from_trunk": "carrier", "ruri_user": "^1", "to_trunk": "pbx"},
    ])
    pbx = t.udp_socket(t.pbx_peer, SIP_PORT)
    uac = t.uac("uac_2000", "uac_reject.xml", service="2000")
    uac.finish(timeout=15)
    finals = [m for m in uac.received() if m.is_response and m.status >= 300]
    check(finals and finals[0].status == 404,
          f"an unrouted INVITE got {[m.first_line for m in finals]} instead of 404")
    leaked = [data[:60] for data, _ in drain(pbx, 0.3)]
    check(not leaked, f"the unrouted INVITE reached the pbx side: {leaked}")
    pbx.close()
    uas = t.uas("uas", "uas_answer.xml")
    uac = t.uac("uac_1000", "uac_call.xml", service="1000", duration_ms=300)
    uac.finish()
    uas.finish()
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def non_peer_403(t):
    """An INVITE from carrier host 9, which is no trunk's peer, is refused 403."""
    sbcd = t.start_sbcd()
    pbx = t.udp_socket(t.pbx_peer, SIP_PORT)
    uac = t.uac("uac_stranger", "uac_reject.xml", local_ip=t.carrier(9), media_port=6100)
    uac.finish(timeout=15)
    finals = [m for m in uac.received() if m.is_response and m.status >= 300]
    check(finals and finals[0].status == 403,
          f"an INVITE from a non-peer got {[m.first_line for m in finals]} instead of 403")
    leaked = [data[:60] for data, _ in drain(pbx, 0.3)]
    check(not leaked, f"the stranger's INVITE reached the pbx side: {leaked}")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def twenty_simultaneous_calls(t):
    sbcd = t.start_sbcd()
    uas = t.uas("uas", "uas_answer.xml", calls=20)
    # 20 calls per second, each held 4 s: all 20 are up together for ~3 s.
    uac = t.uac("uac", "uac_call.xml", calls=20, rate=20, limit=20, duration_ms=4000)
    wait_until(lambda: len(sbcd.calls() or []) == 20 or not uac.alive(), 10.0, 0.1)
    # An RTP/RTCP pair per leg: 20 calls x 2 legs x 2 sockets in the media range.
    bound_during = len(udp_ports_of(sbcd.pid))
    samples = poll_calls_while(sbcd, [uac, uas], interval=0.2)
    uac.finish()
    uas.finish()
    peak = max((len(calls) for _, calls in samples if calls is not None), default=0)
    check(peak == 20, f"at most {peak} calls were up at once in sbcctl calls, expected 20")
    check(len(uas.received("INVITE")) == 20,
          f"the callee saw {len(uas.received('INVITE'))} INVITEs, expected 20")
    # All 20 dialogs on the pbx side are distinct (new Call-IDs per call).
    call_ids = {m.header("call-id") for m in uas.received("INVITE")}
    check(len(call_ids) == 20, f"{len(call_ids)} distinct Call-IDs for 20 calls at the callee")
    t.assert_topology_hidden(uac.messages(), uas.messages())
    sbcd.assert_no_calls()
    check(bound_during == 80,
          f"{bound_during} media sockets bound with 20 calls up, expected 80 (2 pairs a call)")
    # Ports go back to the pool once the calls end: no media socket is left.
    wait_until(lambda: not udp_ports_of(sbcd.pid), 5.0, 0.1)
    left = udp_ports_of(sbcd.pid)
    check(not left, f"media sockets still bound after every call ended: {left[:6]}")
    sbcd.stop()


@e2e_test
def media_timeout_bye(t):
    """No RTP at all on an answered call: with media.timeout 3 the SBC hangs up
    both legs itself."""
    sbcd = t.start_sbcd(media_timeout=3)
    uas = t.uas("uas", "uas_answer.xml")
    uac = t.uac("uac", "uac_recv_bye.xml")
    uac.finish(timeout=30)
    uas.finish(timeout=30)
    first(uac.received("BYE"), "BYE from the SBC to the caller")
    first(uas.received("BYE"), "BYE from the SBC to the callee")
    sbcd.assert_no_calls()
    sbcd.stop()


@e2e_test
def stop_with_call_up(t):
    """SIGTERM with a call up: both legs get a BYE and sbcd exits 0."""
    sbcd = t.start_sbcd()
    uas = t.uas("uas", "uas_answer.xml")
    uac = t.uac("uac", "uac_recv_bye.xml")
    up = wait_until(lambda: sbcd.calls() or not uac.alive(), 10.0, 0.2)
    check(up, "the call did not show in sbcctl calls within 10 s")
    # The answer and ACK follow the INVITE at once: stop once they have passed
    # (the caller's ACK makes the call established), so that sbcd ends a
    # confirmed dialog with BYE on both legs.
    established = wait_until(
        lambda: any(c.get("state") == "established" for c in sbcd.calls()) or not uac.alive(),
        10.0, 0.05)
    check(established, f"the call was not established within 10 s: {sbcd.calls()}")
    sbcd.stop()
    uac.finish(timeout=15)
    uas.finish(timeout=15)
    first(uac.received("BYE"), "BYE to the caller when sbcd stopped")
    first(uas.received("BYE"), "BYE to the callee when sbcd stopped")


# Written on the shipped blocks (127.0.1.x); robustness_probe moves each to the
# test's own block with t.localize before it sends it.
MALFORMED = [
    # No CSeq (RFC 3261 8.1.1: mandatory).
    b"INVITE sip:1000@127.0.1.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.1.2:%d;branch=z9hG4bKbad1\r\n"
    b"From: <sip:x@127.0.1.2>;tag=bad1\r\nTo: <sip:1000@127.0.1.1>\r\n"
    b"Call-ID: bad1@e2e\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    # Garbage Via.
    b"INVITE sip:1000@127.0.1.1:5060 SIP/2.0\r\n"
    b"Via: \x01\x02garbage;;;branch\r\n"
    b"From: <sip:x@127.0.1.2>;tag=bad2\r\nTo: <sip:1000@127.0.1.1>\r\n"
    b"Call-ID: bad2@e2e\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    # Content-Length far beyond the datagram, and an SDP body that is nonsense.
    b"INVITE sip:1000@127.0.1.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.1.2:%d;branch=z9hG4bKbad3\r\n"
    b"From: <sip:x@127.0.1.2>;tag=bad3\r\nTo: <sip:1000@127.0.1.1>\r\n"
    b"Call-ID: bad3@e2e\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: 99999\r\n\r\nv=0\r\nm=audio x\r\n",
    # CSeq method that does not match the request line, and a bad CSeq number.
    b"INVITE sip:1000@127.0.1.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.1.2:%d;branch=z9hG4bKbad4\r\n"
    b"From: <sip:x@127.0.1.2>;tag=bad4\r\nTo: <sip:1000@127.0.1.1>\r\n"
    b"Call-ID: bad4@e2e\r\nCSeq: notanumber BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    # An INVITE whose SDP is garbage (valid SIP framing): 400, or 488 (RFC 3261
    # 21.4.26: the offer is not acceptable), is as right as silence.
    b"INVITE sip:1000@127.0.1.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.1.2:%d;branch=z9hG4bKbad5\r\n"
    b"From: <sip:x@127.0.1.2>;tag=bad5\r\nTo: <sip:1000@127.0.1.1>\r\n"
    b"Call-ID: bad5@e2e\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: 29\r\n\r\nc=IN IP4 \r\nm=audio 99999999\r\n",
    # Request line only.
    b"INVITE sip:1000@127.0.1.1:5060 SIP/2.0\r\n\r\n",
    # Not SIP at all.
    b"\x00\xff\xfe garbage \x00\x00\r\n\r\n",
    b"",
]


def robustness_probe(t, sbcd, uac, uas):
    """Malformed SIP and garbage datagrams at the SBC while a call is up."""
    probe = t.udp_socket(t.carrier_peer, 0)
    port = probe.getsockname()[1]
    replies = []
    for msg in MALFORMED:
        msg = t.localize(msg.decode("latin-1")).encode("latin-1")
        probe.sendto(msg.replace(b"%d", str(port).encode()), (t.carrier_sbc, SIP_PORT))
        replies += drain(probe, 0.2)
    replies += drain(probe, 1.5)
    for reply, _ in replies:
        status_line = reply.split(b"\r\n", 1)[0]
        call_id = re.search(rb"(?im)^(?:call-id|i)\s*:\s*(\S+)", reply)
        call_id = call_id.group(1) if call_id else b"?"
        # A 100 Trying may precede the final answer; anything else must be 400
        # (or 488 for the request whose SDP alone is broken).
        allowed = (b"SIP/2.0 400", b"SIP/2.0 100")
        if call_id == b"bad5@e2e":
            allowed += (b"SIP/2.0 488",)
        check(status_line.startswith(allowed),
              f"malformed request (Call-ID {call_id.decode(errors='replace')}) was answered "
              f"{status_line!r}, expected 400 or nothing")
    rng = random.Random(5060)
    stranger = t.udp_socket("127.0.0.1", 0)
    for _ in range(50):
        blob = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
        probe.sendto(blob, (t.carrier_sbc, SIP_PORT))
        stranger.sendto(blob, (t.pbx_sbc, SIP_PORT))
    # Garbage at every media socket of sbcd: RTP version 0 and short datagrams,
    # which a relay must drop rather than forward or latch onto.
    media_ports = udp_ports_of(sbcd.pid)
    check(media_ports, "found no UDP socket of sbcd in the media port range")
    counts_before = _packet_counts(sbcd)
    for ip, mport in media_ports:
        for size in (0, 1, 3, 11, 12, 40, 172, 1400):
            stranger.sendto(b"\x00" * size if size < 12 else
                            b"\x00" + bytes(rng.getrandbits(8) for _ in range(size - 1)),
                            (ip, mport))
    sbcd.assert_alive()
    counts_after = counts_before

    def flowing():
        nonlocal counts_after
        counts_after = _packet_counts(sbcd)
        return counts_after[0] > counts_before[0] and counts_after[1] > counts_before[1]

    wait_until(flowing, 5.0, 0.1)
    check(counts_after[0] > counts_before[0] and counts_after[1] > counts_before[1],
          f"media stopped flowing after garbage at the media ports: {counts_before} -> "
          f"{counts_after}")
    check(sbcd.status() is not None, "sbcd stopped answering sbcctl after the garbage")


def _packet_counts(sbcd):
    calls = sbcd.calls()
    check(len(calls) == 1, f"{len(calls)} calls in sbcd during the robustness probe, expected 1")
    return int(calls[0].get("packets_a_to_b", 0)), int(calls[0].get("packets_b_to_a", 0))


@e2e_test
def robustness_malformed_and_garbage(t):
    media_call(t, during=lambda sbcd, uac, uas: robustness_probe(t, sbcd, uac, uas),
               duration_ms=7000)


@serial
@e2e_test
def demo(t):
    """tools/demo (the README's run command) brings up an SBC that carries a call.

    It runs conf/sbc.yaml as shipped, on that file's own addresses (127.0.1.x,
    127.0.2.x) and control socket rather than a slot's, so it runs alone."""
    demo_path = REPO / "tools" / "demo"
    check(demo_path.is_file() and os.access(demo_path, os.X_OK),
          f"{demo_path} does not exist or is not executable")
    socket_path = _default_socket()
    shipped = Net.shipped()
    for ip in (shipped.carrier_sbc, shipped.pbx_sbc):
        check(not udp_bound(ip, SIP_PORT), f"{ip}:{SIP_PORT} is already taken before the demo")
    proc = t.start("demo", [str(demo_path)], cwd=str(REPO), new_session=True)
    sbcd = Control(t.sbcctl_bin, socket_path)
    up = wait_until(lambda: not proc.alive() or (
        sbcd.status() is not None and udp_bound(shipped.carrier_sbc, SIP_PORT)
        and udp_bound(shipped.pbx_sbc, SIP_PORT)), 300.0, 0.5)
    check(proc.alive(), f"tools/demo exited with {proc.popen.returncode} before the SBC was up: "
          f"{proc.stderr_tail() or proc.stdout_tail()}")
    check(up, "tools/demo did not bring the SBC up within 300 s")
    uas = t.uas("uas", "uas_answer.xml", local_ip=shipped.pbx_peer)
    uac = t.uac("uac", "uac_call.xml", local_ip=shipped.carrier_peer,
                remote=f"{shipped.carrier_sbc}:{SIP_PORT}", duration_ms=500)
    uac.finish()
    uas.finish()
    assert_topology_hidden(uac.messages(), uas.messages(), shipped.carrier_prefix,
                           shipped.pbx_prefix)
    check(not sbcd.calls(), "a call was left in the demo's sbcd")
    proc.signal(signal.SIGTERM)
    rc = proc.wait(10.0)
    if rc is None:
        proc.signal(signal.SIGKILL)
        proc.wait(2.0)
        raise TestFailure("tools/demo did not stop within 10 s of SIGTERM")
    # tools/demo execs sbcd, so this is sbcd's own exit status.
    check(rc == 0, f"tools/demo (sbcd) exited with status {rc} on SIGTERM: {proc.stderr_tail()}")
    gone = wait_until(lambda: not udp_bound(shipped.carrier_sbc, SIP_PORT), 5.0, 0.2)
    check(gone, "the demo's sbcd still listens after tools/demo was stopped")


def _default_socket():
    text = (REPO / "conf" / "sbc.yaml").read_text()
    m = re.search(r"(?m)^control\s*:\s*\n(?:\s+.*\n)*?\s+socket\s*:\s*(\S+)", text)
    return m.group(1).strip("\"'") if m else "/tmp/sbcd.sock"
