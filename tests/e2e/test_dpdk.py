"""End-to-end test of the dpdk media backend without hardware (issue 4).

Two network namespaces stand for the carrier and the PBX, each joined to the
host by a veth pair. sbcd runs the dpdk backend with EAL --no-huge --no-pci
and one net_af_packet device on the host end of each veth; its TAP exception
interfaces (sbc-carrier, sbc-pbx) hold the media addresses 203.0.113.1 and
198.51.100.1, so SIP and ARP go through the kernel on the same addresses
while RTP is relayed by the DPDK worker. sipp runs inside the namespaces.

Set-up specific to veth: the host's IP stack is kept off the host ends
(sysctls: no IPv6, no ARP answers, strict reverse-path filtering) while
af_packet still gets every frame, as a NIC bound to DPDK would be invisible
to the kernel; and the namespace ends compute their checksums in software,
as a real wire delivers them. Sysctls rather than a tc matchall drop, which
kernels without cls_matchall and act_gact cannot do (conf/README.md, dpdk).

Needs root, iproute2, procps (sysctl) and ethtool, as CI has; without them the
test fails and says what is missing.
"""

import contextlib
import ctypes
import os
import select
import shutil
import socket
import struct
import subprocess
import time

from harness import SCENARIOS, SIP_PORT, Sipp, check, serial, wait_until

TESTS = []
CARRIER_NS, PBX_NS = "sbc-e2e-carrier", "sbc-e2e-pbx"
# Not 192.0.2.0/24: test machines use it for their own uplink.
CARRIER_SBC, CARRIER_PEER = "203.0.113.1", "203.0.113.2"
PBX_SBC, PBX_PEER = "198.51.100.1", "198.51.100.2"
# EAL's runtime directory (/var/run/dpdk/<file-prefix> as root): a prefix of
# the tests' own, so that another DPDK program's directory is not taken for
# one sbcd left behind.
FILE_PREFIX = "sbc-e2e-dpdk"
RUNTIME_DIR = f"/var/run/dpdk/{FILE_PREFIX}"
LINKS = {  # namespace: (host end, namespace end, peer address)
    CARRIER_NS: ("sbce2e-c", "sbce2e-c-ns", CARRIER_PEER),
    PBX_NS: ("sbce2e-p", "sbce2e-p-ns", PBX_PEER),
}


def e2e_test(fn):
    """Registers a DPDK test, which runs alone (harness.serial): the namespaces,
    veths, TAP devices and host routes it makes and EAL's runtime directory
    have fixed names, and the EAL lcores poll at full CPU, which would starve
    tests running beside it on a small machine."""
    TESTS.append(serial(fn))
    return fn


def run(*argv, check_rc=True):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    if check_rc:
        check(r.returncode == 0, f"{' '.join(map(str, argv))}: {(r.stderr or r.stdout).strip()}")
    return r


def missing_prerequisite():
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth, DPDK)"
    for tool in ("ip", "sysctl", "ethtool"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    # The kernel applies the larger of all.rp_filter and the interface's: at
    # 2 (loose) the host ends' filter below would let the SBC's own traffic
    # into the host's stack (conf/README.md, dpdk).
    rp_filter = run("sysctl", "-n", "net.ipv4.conf.all.rp_filter").stdout.strip()
    if rp_filter == "2":
        return "net.ipv4.conf.all.rp_filter is 2 (loose); the test needs 0 or 1"
    routes = run("ip", "route", "show", "table", "all").stdout
    for prefix in ("203.0.113.", "198.51.100."):
        if prefix in routes:
            return f"the host routes {prefix}0/24 itself; the test needs it for its namespaces"
    return None


def teardown_network():
    for ns in LINKS:
        run("ip", "netns", "del", ns, check_rc=False)
    for host, _, _ in LINKS.values():
        run("ip", "link", "del", host, check_rc=False)


def setup_network():
    teardown_network()
    for ns, (host, inner, peer) in LINKS.items():
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", host, "type", "veth", "peer", "name", inner)
        run("ip", "link", "set", inner, "netns", ns)
        run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", ns, "addr", "add", f"{peer}/24", "dev", inner)
        run("ip", "-n", ns, "link", "set", inner, "up")
        run("ip", "netns", "exec", ns, "ethtool", "-K", inner, "tx", "off")
        # The host's IP stack must leave the host end alone: no IPv6, no
        # ARP answers, and IPv4 from the peer dropped by the reverse-path
        # filter (the peer's subnet is routed through the TAP).
        run("sysctl", "-qw", f"net.ipv6.conf.{host}.disable_ipv6=1")
        run("sysctl", "-qw", f"net.ipv4.conf.{host}.arp_ignore=8")
        run("sysctl", "-qw", f"net.ipv4.conf.{host}.rp_filter=1")
        run("ip", "link", "set", host, "up")


def dpdk_config(socket_path, carrier_prefix=24, pbx_extra=()):
    return "\n".join([
        "interfaces:",
        "  - name: carrier",
        f"    listen: [udp://{CARRIER_SBC}:{SIP_PORT}]",
        f"    media_address: {CARRIER_SBC}",
        "  - name: pbx",
        f"    listen: [udp://{PBX_SBC}:{SIP_PORT}]",
        f"    media_address: {PBX_SBC}",
        "trunks:",
        "  - name: carrier",
        "    interface: carrier",
        f'    peers: ["{CARRIER_PEER}:{SIP_PORT}"]',
        "    keepalive: {interval: 0}",
        "  - name: pbx",
        "    interface: pbx",
        f'    peers: ["{PBX_PEER}:{SIP_PORT}"]',
        "    keepalive: {interval: 0}",
        *[f"    {line}" for line in pbx_extra],
        "routes:",
        "  - {name: carrier-to-pbx, from_trunk: carrier, to_trunk: pbx}",
        "  - {name: pbx-to-carrier, from_trunk: pbx, to_trunk: carrier}",
        "media:",
        "  backend: dpdk",
        "  dpdk:",
        f'    eal_args: ["--no-huge", "--no-pci", "-m", "256", "--file-prefix", "{FILE_PREFIX}"]',
        "    lcores: [1]",
        "    mbufs: 4095",
        "    ports:",
        f'      - {{interface: carrier, device: "net_af_packet0,iface={LINKS[CARRIER_NS][0]}",'
        f' prefix: {carrier_prefix}}}',
        f'      - {{interface: pbx, device: "net_af_packet1,iface={LINKS[PBX_NS][0]}"}}',
        "control:",
        f"  socket: {socket_path}",
        "",
    ])


def ns_udp_bound(ns, ip, port):
    r = run("ip", "netns", "exec", ns, "cat", "/proc/net/udp", check_rc=False)
    want = f"{''.join(f'{int(b):02X}' for b in reversed(ip.split('.')))}:{port:04X}"
    return want in r.stdout


def ns_sipp(t, ns, name, scenario, local_ip, **kw):
    sipp = Sipp(t, name, SCENARIOS / scenario, local_ip, netns=ns, **kw)
    t._processes.append(sipp)
    return sipp


@e2e_test
def dpdk_call_with_media(t):
    """A call carrier -> pbx through sbcd's dpdk backend with G.711 both ways:
    signalling through the TAP exception path, RTP through the DPDK worker;
    the DPDK port counters and the relay counters show it."""
    why = missing_prerequisite()
    check(why is None, f"cannot run: {why}")
    setup_network()
    t.on_close(teardown_network)
    if os.path.isdir(RUNTIME_DIR):
        os.rmdir(RUNTIME_DIR)  # an older sbcd's; fails the test if not empty
    config = t.config_path(dpdk_config(t.socket_path()))
    sbcd = t.start_sbcd(config, sip_addresses=(CARRIER_SBC, PBX_SBC), ready_timeout=30.0)
    check(os.path.isdir(RUNTIME_DIR), f"EAL made no {RUNTIME_DIR}: the check below is moot")

    uas = ns_sipp(t, PBX_NS, "pbx", "uas_answer_media.xml", PBX_PEER, media_port=7000)
    wait_until(lambda: ns_udp_bound(PBX_NS, PBX_PEER, SIP_PORT) or not uas.alive(), 5.0, 0.1)
    uac = ns_sipp(t, CARRIER_NS, "carrier", "uac_call_media.xml", CARRIER_PEER,
                  remote=f"{CARRIER_SBC}:{SIP_PORT}", media_port=6000, duration_ms=7500)
    peak = {}
    flushed = []

    def sample():
        rc, data, _ = sbcd.control.ctl("stats")
        if rc == 0 and isinstance(data, dict) and data.get("calls"):
            legs = data["calls"][0]["legs"]
            peak.update(legs)
            if not flushed and min(leg["tx_packets"] for leg in legs.values()) > 50:
                # Mid-call, the kernel forgets both peers' MACs: the workers
                # hear of it, hand the next datagrams to the kernel, which
                # resolves the peers again, and the media goes on.
                for tap in ("sbc-carrier", "sbc-pbx"):
                    run("ip", "neigh", "flush", "dev", tap)
                flushed.append(legs)
        return not uac.alive()

    wait_until(sample, 30.0, 0.5)
    uac.finish()
    uas.finish()
    check(peak, "the call never showed up in sbcctl stats")
    check(flushed, "the media never got going, so the neighbour flush was not tried")
    a, b = peak["a"], peak["b"]
    for leg, before in flushed[0].items():
        check(peak[leg]["tx_packets"] > before["tx_packets"] + 100,
              f"leg {leg}: media stopped after the neighbour flush: {before} -> {peak[leg]}")
    check(a["rtp_rx_packets"] > 100 and b["tx_packets"] > 100,
          f"RTP carrier -> pbx not relayed: rx {a['rtp_rx_packets']}, tx {b['tx_packets']}")
    check(b["rtp_rx_packets"] > 100 and a["tx_packets"] > 100,
          f"RTP pbx -> carrier not relayed: rx {b['rtp_rx_packets']}, tx {a['tx_packets']}")
    rc, data, raw = sbcd.control.ctl("stats")
    check(rc == 0, f"sbcctl stats failed: {raw}")
    media = data["media"]
    check(media["backend"] == "dpdk", f"backend is {media['backend']}")
    ports = media["ports"]
    check(len(ports) == 2, f"expected two DPDK ports, got {ports}")
    for p in ports:
        # Each port carried one direction's RTP in and the other's out.
        check(p["rx_packets"] > 200 and p["tx_packets"] > 200,
              f"port {p['device']}: rx {p['rx_packets']}, tx {p['tx_packets']}: "
              "the media did not go through DPDK")
        check(p["to_kernel"] > 0 and p["from_kernel"] > 0,
              f"port {p['device']}: no exception traffic (SIP/ARP) through the TAP: {p}")
        check(p["unresolved"] > 0,
              f"port {p['device']}: nothing went through the kernel after the flush: {p}")
    check(media["workers"] and media["workers"][0]["packets"] > 400,
          f"the worker saw too few packets: {media['workers']}")
    log = sbcd.stderr_path.read_text(errors="replace")
    for leg, peer in (("a", CARRIER_PEER), ("b", PBX_PEER)):
        check(f"leg {leg} media latched to {peer}:" in log,
              f"no latching event for leg {leg} ({peer}) in the log")
    sbcd.assert_no_calls()
    # Issue 19 item 9: nothing left under /var/run/dpdk once sbcd is gone.
    sbcd.stop()
    check(not os.path.exists(RUNTIME_DIR), f"sbcd left {RUNTIME_DIR} behind: "
          f"{os.listdir(RUNTIME_DIR) if os.path.isdir(RUNTIME_DIR) else 'not a directory'}")


@e2e_test
def dpdk_peer_behind_gateway(t):
    """The carrier's media address is off the link: 203.0.113.200, reached
    through the carrier peer 203.0.113.2 as a router (the SBC's TAP has
    203.0.113.1/25 and a route for 203.0.113.128/25 via .2). The worker
    must send that RTP to the gateway's MAC itself, not hand every datagram
    to the kernel: the port's `unresolved` count stays small."""
    why = missing_prerequisite()
    check(why is None, f"cannot run: {why}")
    setup_network()
    t.on_close(teardown_network)
    offlink = "203.0.113.200"
    run("ip", "-n", CARRIER_NS, "addr", "add", f"{offlink}/32", "dev", "lo")
    config = t.config_path(dpdk_config(t.socket_path(), carrier_prefix=25))
    sbcd = t.start_sbcd(config, sip_addresses=(CARRIER_SBC, PBX_SBC), ready_timeout=30.0)
    run("ip", "route", "add", "203.0.113.128/25", "via", CARRIER_PEER, "dev", "sbc-carrier")

    uas = ns_sipp(t, PBX_NS, "pbx", "uas_answer_media.xml", PBX_PEER, media_port=7000)
    wait_until(lambda: ns_udp_bound(PBX_NS, PBX_PEER, SIP_PORT) or not uas.alive(), 5.0, 0.1)
    uac = ns_sipp(t, CARRIER_NS, "carrier", "uac_call_media.xml", CARRIER_PEER,
                  remote=f"{CARRIER_SBC}:{SIP_PORT}", media_port=6000, duration_ms=7000,
                  extra=("-mi", offlink))
    peak = {}

    def sample():
        rc, data, _ = sbcd.control.ctl("stats")
        if rc == 0 and isinstance(data, dict) and data.get("calls"):
            peak.update(data["calls"][0]["legs"])
            peak["ports"] = data["media"]["ports"]
        return not uac.alive()

    wait_until(sample, 30.0, 0.5)
    uac.finish()
    uas.finish()
    check(peak, "the call never showed up in sbcctl stats")
    a, b = peak["a"], peak["b"]
    check(a["latched"] and a["latched"].startswith(f"{offlink}:"),
          f"the carrier leg did not latch to its off-link address: {a['latched']}")
    check(a["tx_packets"] > 150 and b["tx_packets"] > 150,
          f"media not relayed both ways: to carrier {a['tx_packets']}, to pbx {b['tx_packets']}")
    carrier_port = peak["ports"][0]
    check(carrier_port["unresolved"] < 20,
          f"the RTP to the off-link peer went through the kernel: {carrier_port}")
    sbcd.assert_no_calls()


@e2e_test
def dpdk_transcoded_call(t):
    """The pbx trunk takes only G.729, the carrier offers only PCMA: the
    DPDK worker that owns the call runs its codec chains (the same pipeline
    as the kernel backend's), each transcoded packet leaving in a frame of
    its own. The chains' counters show every packet decoded and re-encoded."""
    import media_tools as mt
    from test_transcoding import G729, carrier_pcap

    why = missing_prerequisite()
    check(why is None, f"cannot run: {why}")
    setup_network()
    t.on_close(teardown_network)
    build = mt.build_dir_of(t)
    pcap = carrier_pcap(t, build, G729, mt.reference_speech())
    config = t.config_path(dpdk_config(t.socket_path(), pbx_extra=["codecs: [G729]"]))
    sbcd = t.start_sbcd(config, sip_addresses=(CARRIER_SBC, PBX_SBC), ready_timeout=30.0)

    uas = ns_sipp(t, PBX_NS, "pbx", G729.scenario, PBX_PEER, media_port=7000,
                  extra=("-key", "pcap", str(pcap)))
    wait_until(lambda: ns_udp_bound(PBX_NS, PBX_PEER, SIP_PORT) or not uas.alive(), 5.0, 0.1)
    uac = ns_sipp(t, CARRIER_NS, "carrier", "uac_call_media.xml", CARRIER_PEER,
                  remote=f"{CARRIER_SBC}:{SIP_PORT}", media_port=6000, duration_ms=7500)
    peak = {}

    def sample():
        rc, data, _ = sbcd.control.ctl("stats")
        if rc == 0 and isinstance(data, dict) and data.get("calls"):
            call = data["calls"][0]
            peak.update(call["legs"])
            peak["media"] = call.get("media")
            peak["transcoded_calls"] = data["media"].get("transcoded_calls")
        return not uac.alive()

    wait_until(sample, 30.0, 0.5)
    uac.finish()
    uas.finish()
    check(peak, "the call never showed up in sbcctl stats")
    check(peak["media"] == "transcoded", f"the call's media is {peak['media']!r}")
    check(peak["transcoded_calls"] == {"G729/8000 <-> PCMA/8000": 1},
          f"sbcctl stats counts transcoded calls as {peak['transcoded_calls']}")
    for leg in ("a", "b"):
        chain = peak[leg].get("transcoder")
        check(chain, f"leg {leg}: no codec chain in sbcctl stats: {peak[leg]}")
        check(chain["packets_in"] > 150 and chain["packets_out"] > 150,
              f"leg {leg}: the chain did not transcode both ways: {chain}")
        check(chain["malformed"] == 0 and chain["sink_full"] == 0,
              f"leg {leg}: the chain refused packets: {chain}")
        check(peak[leg]["tx_packets"] > 150,
              f"leg {leg}: {peak[leg]['tx_packets']} packets sent to its peer")
    sbcd.assert_no_calls()


# --------------------------------------------------------------------------
# Kernel timestamps of frames on the wire (issue 19 item 7)

CLONE_NEWNET = 0x40000000
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # also SCM_TIMESTAMPNS
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


@contextlib.contextmanager
def in_netns(ns):
    """Sockets made inside the block belong to namespace `ns` (None: this
    one); setns(2) moves only the calling thread, and back afterwards."""
    if ns is None:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        check(libc.setns(target, CLONE_NEWNET) == 0,
              f"setns into {ns}: {os.strerror(ctypes.get_errno())}")
        try:
            yield
        finally:
            libc.setns(own, CLONE_NEWNET)
    finally:
        os.close(own)
        os.close(target)


def wire_tap(ns, ifname):
    """An AF_PACKET socket on `ifname` (in namespace `ns`) that stamps each
    frame with the kernel's time of receipt (SO_TIMESTAMPNS): taken as the
    frame crosses the veth, so neither this process's scheduling nor the
    background load of a CI machine shows in the figures."""
    with in_netns(ns):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((ifname, ETH_P_ALL))
    s.setblocking(False)
    return s


def rtp_frames(tap, dst_ip, dst_port, want, timeout):
    """{RTP sequence number: kernel receive time (ns)} of the IPv4/UDP
    frames to dst_ip:dst_port `tap` saw arriving, until `want` are in or
    `timeout` seconds passed."""
    dst = socket.inet_aton(dst_ip)
    seen = {}
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        if not select.select([tap], [], [], 0.05)[0]:
            continue
        while True:
            try:
                frame, anc, _, addr = tap.recvmsg(4096, socket.CMSG_SPACE(16))
            except BlockingIOError:
                break
            if addr[2] == PACKET_OUTGOING or len(frame) < 14 + 20 + 8 + 12:
                continue
            if frame[12:14] != b"\x08\x00" or frame[14 + 9] != 17 or frame[14 + 16:14 + 20] != dst:
                continue
            udp = 14 + (frame[14] & 0x0F) * 4
            if struct.unpack("!H", frame[udp + 2:udp + 4])[0] != dst_port:
                continue
            stamp = next((struct.unpack("qq", data[:16]) for level, kind, data in anc
                          if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS), None)
            if stamp is None:
                continue
            seq = struct.unpack("!H", frame[udp + 8 + 2:udp + 8 + 4])[0]
            seen.setdefault(seq, stamp[0] * 1_000_000_000 + stamp[1])
    return seen


@e2e_test
def dpdk_first_packet_to_new_peer(t):
    """Issue 19 item 7: the first RTP packet of a call towards a peer the
    SBC never talked to (its MAC unknown to the kernel and the worker) must
    leave at once, not wait for the control thread's 200 ms housekeeping
    tick (here about 0.1 ms; the bound of 50 ms only tells the two apart,
    with room for a loaded CI machine, where 6.4 ms was seen once): the worker hands it to the kernel, which
    resolves the peer (ARP) and sends it; the neighbour entry then reaches
    the worker. Measured on the wire: kernel receive timestamps of the
    frame entering the SBC's carrier port and of the frame reaching the
    PBX's namespace. Two calls, each to a fresh media address of the PBX,
    so a lucky phase of a periodic timer cannot pass the test."""
    why = missing_prerequisite()
    check(why is None, f"cannot run: {why}")
    setup_network()
    t.on_close(teardown_network)
    config = t.config_path(dpdk_config(t.socket_path()))
    sbcd = t.start_sbcd(config, sip_addresses=(CARRIER_SBC, PBX_SBC), ready_timeout=30.0)
    carrier_host, _, _ = LINKS[CARRIER_NS]
    _, pbx_inner, _ = LINKS[PBX_NS]
    limit_ns = 50_000_000
    figures = []
    for n, fresh in enumerate(("198.51.100.77", "198.51.100.78")):
        run("ip", "-n", PBX_NS, "addr", "add", f"{fresh}/24", "dev", pbx_inner)
        uas = ns_sipp(t, PBX_NS, f"pbx{n}", "uas_answer.xml", PBX_PEER, media_port=7000,
                      extra=("-mi", fresh))
        wait_until(lambda: ns_udp_bound(PBX_NS, PBX_PEER, SIP_PORT) or not uas.alive(), 5.0, 0.1)
        uac = ns_sipp(t, CARRIER_NS, f"carrier{n}", "uac_call.xml", CARRIER_PEER,
                      remote=f"{CARRIER_SBC}:{SIP_PORT}", media_port=6000, duration_ms=2500)

        def established():
            rc, data, _ = sbcd.control.ctl("stats")
            if rc == 0 and isinstance(data, dict) and data.get("calls"):
                call = data["calls"][0]
                if call["state"] == "established":
                    return call
            return None if uac.alive() else {}

        call = wait_until(established, 10.0, 0.05)
        check(call, f"call {n}: never established")
        local_ip, local_port = call["legs"]["a"]["local"].rsplit(":", 1)
        arrive = wire_tap(None, carrier_host)
        leave = wire_tap(PBX_NS, pbx_inner)
        with in_netns(CARRIER_NS):
            rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((CARRIER_PEER, 6500))
        count = 5
        for seq in range(count):
            header = struct.pack("!BBHII", 0x80, 8, seq, 160 * seq, 0x5BC0000 + n)
            rtp.sendto(header + b"\xd5" * 160, (local_ip, int(local_port)))
            time.sleep(0.02)
        rtp.close()
        ins = rtp_frames(arrive, local_ip, int(local_port), count, 2.0)
        outs = rtp_frames(leave, fresh, 7000, count, 2.0)
        arrive.close()
        leave.close()
        uac.finish()
        uas.finish()
        check(0 in ins, f"call {n}: the first RTP frame was not seen entering the SBC: {ins}")
        check(0 in outs, f"call {n}: the first RTP frame never reached {fresh}: {outs}")
        delays = {seq: (outs[seq] - ins[seq]) / 1e6 for seq in sorted(ins) if seq in outs}
        figures.append(delays)
        print(f"  call {n} to {fresh}: delay (ms) by sequence number: "
              + ", ".join(f"{s}: {d:.3f}" for s, d in delays.items()))
        check(outs[0] - ins[0] < limit_ns,
              f"call {n}: the first RTP packet to {fresh} left {delays[0]:.1f} ms after it "
              f"arrived (at most {limit_ns / 1e6:.0f} ms); delays by sequence number: {delays}")
    sbcd.assert_no_calls()
