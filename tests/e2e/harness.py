"""End-to-end test harness: real sbcd, real sipp peers, bounded in time.

Each test runs in a slot of its own (see `Net`): slot k owns the loopback
blocks 127.(10+k).1.0/24 (the carrier side) and 127.(10+k).2.0/24 (the pbx
side), and within them the layout of the demo topology (conf/sbc.yaml): the
SBC's carrier interface on .1.1, its pbx interface on .2.1, the carrier trunk's
peer on .1.2:5060 and the pbx trunk's peer on .2.2:5060. Loopback is all of
127/8 on Linux, so no two slots can collide on an address, and every port a
test binds is bound on its own slot's addresses; that is what lets several
tests run at once. A test starts sbcd with a configuration written to its own
temporary directory (its own control socket), starts sipp on the peer
addresses, waits for everything with deadlines (on state: a socket bound,
sipp's exit, sbcctl's answers, rather than fixed sleeps; a fixed window is
left only where silence is what a test checks or pacing is its point), and
checks what the peers saw: sipp's exit status, its message traces (topology
hiding, RFC 5853), and sbcd's call table through sbcctl.

Every process a test starts is registered with its context and killed in
`close()`, so a failing test never leaves anything behind for the next one.
Standard library only.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"

# conf/sbc.yaml's own blocks, used only where a test runs the shipped
# configuration as it is (the demo); slots never use them, so that an older
# checkout's e2e tests on this machine cannot collide with ours.
SHIPPED_CARRIER_PREFIX = "127.0.1."
SHIPPED_PBX_PREFIX = "127.0.2."
# Slot k's blocks are 127.(FIRST_SLOT_OCTET + k).1.x and .2.x.
FIRST_SLOT_OCTET = 10
MAX_SLOTS = 255 - FIRST_SLOT_OCTET
# Ports below are bound on a slot's own addresses, so they are the same in
# every slot.
SIP_PORT = 5060
MEDIA_MIN = 20000
MEDIA_MAX = 29999
# sipp's own RTP ports, outside the SBC's media range.
CARRIER_SIPP_MEDIA = 6000
PBX_SIPP_MEDIA = 7000

SBCD_STOP_TIMEOUT = 5.0
SBCD_START_TIMEOUT = 10.0


class Net:
    """The loopback addresses of one test slot (see the module comment).

    `carrier(n)` and `pbx(n)` name host n of the slot's carrier and pbx
    blocks; host 1 is the SBC, 2 the trunk's peer, and tests take others
    (3, 4, 9, 77, ...) for more peers and strangers.
    """

    def __init__(self, slot=0, prefixes=None):
        check(0 <= slot < MAX_SLOTS, f"slot {slot} is outside 0..{MAX_SLOTS - 1}")
        self.slot = slot
        octet = FIRST_SLOT_OCTET + slot
        self.carrier_prefix, self.pbx_prefix = prefixes or (f"127.{octet}.1.", f"127.{octet}.2.")
        self.carrier_sbc = self.carrier(1)
        self.carrier_peer = self.carrier(2)
        self.pbx_sbc = self.pbx(1)
        self.pbx_peer = self.pbx(2)

    @classmethod
    def shipped(cls):
        """conf/sbc.yaml's own addresses, for a test that runs it unchanged (a
        `serial` one: they are no slot's)."""
        return cls(prefixes=(SHIPPED_CARRIER_PREFIX, SHIPPED_PBX_PREFIX))

    def carrier(self, host):
        return f"{self.carrier_prefix}{host}"

    def pbx(self, host):
        return f"{self.pbx_prefix}{host}"

    def localize(self, text):
        """`text` (a configuration) with the shipped blocks replaced by the slot's."""
        return (text.replace(SHIPPED_CARRIER_PREFIX, self.carrier_prefix)
                .replace(SHIPPED_PBX_PREFIX, self.pbx_prefix))


def serial(fn):
    """Marks an e2e test that must run while no other test does (run_e2e.py
    runs these after the parallel ones): it uses something outside its slot,
    such as conf/sbc.yaml's fixed addresses, network namespaces, routes or a
    DPDK runtime directory of fixed names, or it asserts packet timing that
    other tests' CPU load would disturb. Put it above the test's registering
    decorator."""
    fn.serial = True
    return fn


class TestFailure(Exception):
    """An assertion of an e2e test did not hold; the message is the reason."""


class TestSkipped(Exception):
    """The test cannot run here (not root, a tool missing); the message says
    why. It counts as passed, and the runner prints the reason."""


def skip(reason):
    raise TestSkipped(reason)


def skip_if_sanitized(t, why):
    """Skips a test whose timings a sanitized sbcd (CI's asan stage, on a
    loaded machine) cannot keep: the plain build runs it."""
    if b"__asan_init" in Path(t.sbcd_bin).read_bytes():
        skip(f"sanitized build: {why}")


def check(condition, message):
    if not condition:
        raise TestFailure(message)


def wait_until(predicate, timeout, interval=0.1):
    """Polls `predicate` until it returns a true value or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# --------------------------------------------------------------------------
# Configuration files


def default_config_text():
    path = REPO / "conf" / "sbc.yaml"
    check(path.is_file(), f"{path} does not exist")
    return path.read_text()


def with_control_socket(text, socket_path):
    """conf/sbc.yaml's text with control.socket replaced (or added)."""
    lines = text.splitlines()
    out = []
    in_control = False
    replaced = False
    for line in lines:
        if re.match(r"^control\s*:", line):
            in_control = True
        elif re.match(r"^\S", line):
            in_control = False
        m = re.match(r"^(\s+socket\s*:\s*)\S.*$", line)
        if in_control and m:
            line = f"{m.group(1)}{socket_path}"
            replaced = True
        out.append(line)
    text = "\n".join(out) + "\n"
    if not replaced:
        check(not re.search(r"(?m)^control\s*:", text),
              "conf/sbc.yaml has a control section without a socket key; cannot redirect it")
        text += f"control:\n  socket: {socket_path}\n"
    return text


def generated_config(net, socket_path, routes=None, media_timeout=None, pbx_transport="udp",
                     carrier_early_offer=None, carrier_peers=None, carrier_extra=(),
                     keepalive=None, pbx_extra=(), extra_trunks=(), extra_top=()):
    """The default topology on `net`'s addresses as YAML, with optional custom
    routes and timeout, and the transport the SBC uses towards the pbx trunk's peer.

    `routes` is a list of dicts (name, from_trunk, to_trunk, ruri_user); by
    default carrier -> pbx and pbx -> carrier. `carrier_peers` replaces the
    carrier trunk's peer list (YAML flow entries), `carrier_extra` and
    `pbx_extra` add lines to those trunks, and `keepalive` is the carrier
    trunk's keepalive map in flow form; without it no trunk sends OPTIONS,
    which sipp peers would take for an unexpected message. `extra_trunks` are
    more trunks as YAML lines ("  - name: ..."), `extra_top` top-level lines
    (cdr:, ...). Route values are written as JSON, which YAML reads as flow.
    """
    if routes is None:
        routes = [
            {"name": "carrier-to-pbx", "from_trunk": "carrier", "to_trunk": "pbx"},
            {"name": "pbx-to-carrier", "from_trunk": "pbx", "to_trunk": "carrier"},
        ]
    out = ["interfaces:"]
    for name, addr in (("carrier", net.carrier_sbc), ("pbx", net.pbx_sbc)):
        out += [
            f"  - name: {name}",
            "    listen:",
            f"      - udp://{addr}:{SIP_PORT}",
            f"      - tcp://{addr}:{SIP_PORT}",
            f"    media_address: {addr}",
        ]
    out.append("trunks:")
    for name, peer in (("carrier", net.carrier_peer), ("pbx", net.pbx_peer)):
        out += [
            f"  - name: {name}",
            f"    interface: {name}",
            "    peers:",
        ]
        if name == "pbx":
            out.append(f'      - "sip:{peer}:{SIP_PORT};transport={pbx_transport}"')
        elif carrier_peers:
            out += [f"      - {p}" for p in carrier_peers]
        else:
            out.append(f'      - "{peer}:{SIP_PORT}"')
        if name == "carrier" and carrier_early_offer:
            out.append(f"    early_offer: {carrier_early_offer}")
        if name == "carrier":
            out += [f"    {line}" for line in carrier_extra]
        else:
            out += [f"    {line}" for line in pbx_extra]
        out.append(f"    keepalive: {keepalive if keepalive and name == 'carrier' else '{interval: 0}'}")
    out += list(extra_trunks)
    out.append("routes:")
    for r in routes:
        first = True
        for key, value in r.items():
            prefix = "  - " if first else "    "
            out.append(f"{prefix}{key}: {json.dumps(value)}")
            first = False
    out += ["media:", f"  port_min: {MEDIA_MIN}", f"  port_max: {MEDIA_MAX}"]
    if media_timeout is not None:
        out.append(f"  timeout: {media_timeout}")
    out += ["control:", f"  socket: {socket_path}"]
    out += list(extra_top) + [""]
    return "\n".join(out)


# --------------------------------------------------------------------------
# Sockets seen through /proc (no ss/netstat needed)


def _proc_udp_entries(table="udp", state=None, pid=None):
    """(ip, port, inode) of every bound IPv4 socket of /proc/net/<table>, only
    those in `state` (hex, e.g. "0A" for a TCP listener) when given. With
    `pid`, the table of that process's network namespace (a process started
    with `ip netns exec`) rather than ours."""
    entries = []
    proc_net = f"/proc/{pid}/net" if pid else "/proc/net"
    try:
        lines = Path(f"{proc_net}/{table}").read_text().splitlines()[1:]
    except OSError:
        return entries
    for line in lines:
        fields = line.split()
        if len(fields) < 10 or (state is not None and fields[3] != state):
            continue
        hex_ip, hex_port = fields[1].split(":")
        ip = socket.inet_ntoa(bytes.fromhex(hex_ip)[::-1])
        entries.append((ip, int(hex_port, 16), int(fields[9])))
    return entries


def udp_bound(ip, port, pid=None):
    """Whether `ip`:`port` is bound in our network namespace (or `pid`'s)."""
    return any(e_ip in (ip, "0.0.0.0") and e_port == port
               for e_ip, e_port, _ in _proc_udp_entries(pid=pid))


def tcp_listening(ip, port, pid=None):
    return any(e_ip in (ip, "0.0.0.0") and e_port == port
               for e_ip, e_port, _ in _proc_udp_entries("tcp", state="0A", pid=pid))


def socket_inodes(pid):
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]", target)
            if m:
                inodes.add(int(m.group(1)))
    except OSError:
        pass
    return inodes


def udp_ports_of(pid, ip=None, low=MEDIA_MIN, high=MEDIA_MAX):
    """The UDP (ip, port) pairs process `pid` has bound in [low, high]."""
    inodes = socket_inodes(pid)
    return sorted((e_ip, e_port) for e_ip, e_port, inode in _proc_udp_entries(pid=pid)
                  if inode in inodes and low <= e_port <= high and (ip is None or e_ip == ip))


# --------------------------------------------------------------------------
# sipp message traces


class SipMessage:
    """One message from a sipp -trace_msg file."""

    _COMPACT = {"i": "call-id", "f": "from", "t": "to", "v": "via", "m": "contact",
                "l": "content-length", "c": "content-type"}

    def __init__(self, direction, text):
        self.direction = direction  # "sent" or "received"
        self.text = text
        head, _, self.body = text.replace("\r\n", "\n").partition("\n\n")
        lines = head.split("\n")
        self.first_line = lines[0].strip() if lines else ""
        self.headers = []  # (lower-case full name, value), in order
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:
                name, value = self.headers[-1]
                self.headers[-1] = (name, value + " " + line.strip())
                continue
            name, sep, value = line.partition(":")
            if not sep:
                continue
            name = name.strip().lower()
            self.headers.append((self._COMPACT.get(name, name), value.strip()))

    @property
    def is_response(self):
        return self.first_line.startswith("SIP/2.0 ")

    @property
    def status(self):
        if not self.is_response:
            return None
        parts = self.first_line.split()
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None

    @property
    def method(self):
        if self.is_response:
            cseq = self.header("cseq") or ""
            return cseq.split()[-1] if cseq.split() else ""
        return self.first_line.split(" ", 1)[0]

    def header(self, name):
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name):
        name = name.lower()
        out = []
        for n, v in self.headers:
            if n == name:
                out += [part.strip() for part in _split_commas(v)] if n == "via" else [v]
        return out

    def sdp_lines(self, prefix):
        return [line.strip() for line in self.body.split("\n") if line.strip().startswith(prefix)]

    def __repr__(self):
        return f"<{self.direction} {self.first_line}>"


def _split_commas(value):
    parts, depth, cur = [], 0, ""
    for ch in value:
        if ch == '"':
            depth ^= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


_TRACE_SEPARATOR = re.compile(r"^-{20,} .*$", re.M)
_TRACE_HEAD = re.compile(r"^\s*(UDP|TCP|TLS|SCTP) message (sent|received)\b[^\n]*:\s*\n", re.S)


def parse_trace(path):
    """The messages of a sipp -trace_msg file, in order."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return []
    messages = []
    for chunk in _TRACE_SEPARATOR.split(text):
        m = _TRACE_HEAD.match(chunk)
        if not m:
            continue
        body = chunk[m.end():].lstrip("\n")
        messages.append(SipMessage(m.group(2), body.rstrip("\n") + "\n"))
    return messages


def _param(value, name):
    m = re.search(r";\s*" + re.escape(name) + r"=([^;>,\s]+)", value or "", re.I)
    return m.group(1) if m else None


def dialog_identifiers(messages):
    """Call-IDs, From/To tags and Via branches of all messages in a trace."""
    ids = set()
    for msg in messages:
        for name in ("call-id",):
            for v in msg.header_all(name):
                ids.add(v.strip())
        for name in ("from", "to"):
            for v in msg.header_all(name):
                tag = _param(v, "tag")
                if tag:
                    ids.add(tag)
        for v in msg.header_all("via"):
            branch = _param(v, "branch")
            if branch:
                ids.add(branch)
    ids.discard("")
    return ids


def assert_topology_hidden(carrier_msgs, pbx_msgs, carrier_prefix, pbx_prefix):
    """RFC 5853 topology hiding, as seen by the two peers.

    `carrier_prefix` and `pbx_prefix` are the two sides' address blocks
    ("127.10.1.", ...): a test passes its own slot's (TestContext does).

    Nothing the pbx side received may name a carrier-side address (and vice
    versa), and no Call-ID, tag or branch of one side's dialog may appear in
    what the other side received.
    """
    check(carrier_msgs, "the carrier-side sipp trace is empty")
    check(pbx_msgs, "the pbx-side sipp trace is empty")
    sides = (("pbx", pbx_msgs, carrier_prefix, carrier_msgs),
             ("carrier", carrier_msgs, pbx_prefix, pbx_msgs))
    for name, msgs, foreign_prefix, other_msgs in sides:
        for msg in msgs:
            if msg.direction != "received":
                continue
            check(foreign_prefix not in msg.text,
                  f"{name} side received '{msg.first_line}' naming {foreign_prefix}x: "
                  + _first_line_with(msg.text, foreign_prefix))
        received_text = "\n".join(m.text for m in msgs if m.direction == "received")
        received_ids = dialog_identifiers([m for m in msgs if m.direction == "received"])
        for ident in dialog_identifiers(other_msgs):
            leaked = ident in received_ids or (len(ident) >= 6 and ident in received_text)
            check(not leaked, f"{name} side received the other leg's identifier '{ident}'")


def _first_line_with(text, needle):
    for line in text.splitlines():
        if needle in line:
            return line.strip()
    return ""


# --------------------------------------------------------------------------
# Processes


class Process:
    """A child process with its output in files, killed on `kill()`."""

    def __init__(self, name, argv, workdir, cwd=None, env=None, new_session=False):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.stdout_path = Path(workdir) / f"{name}.stdout"
        self.stderr_path = Path(workdir) / f"{name}.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=err, cwd=cwd, env=env,
                                          start_new_session=new_session)
        self.new_session = new_session

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def wait(self, timeout):
        """The exit status, or None if it is still running after `timeout` s."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, sig):
        if not self.alive():
            return
        try:
            if self.new_session:
                os.killpg(self.popen.pid, sig)
            else:
                self.popen.send_signal(sig)
        except ProcessLookupError:
            pass

    def kill(self):
        """SIGTERM, then SIGKILL after a second: only this process (or its own group)."""
        if not self.alive():
            return
        self.signal(signal.SIGTERM)
        if self.wait(1.0) is None:
            self.signal(signal.SIGKILL)
            self.wait(2.0)

    def stderr_tail(self, lines=3):
        return _tail(self.stderr_path, lines)

    def stdout_tail(self, lines=3):
        return _tail(self.stdout_path, lines)


def _tail(path, lines):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


class Control:
    """sbcctl pointed at one control socket."""

    def __init__(self, sbcctl_bin, socket_path):
        self.sbcctl_bin = str(sbcctl_bin)
        self.socket_path = str(socket_path)

    def ctl(self, *args, timeout=6.0, json_output=True):
        """Runs sbcctl --json (or without it: the text form); returns (exit status,
        parsed JSON or None, raw output)."""
        argv = [self.sbcctl_bin, "--socket", self.socket_path,
                *(["--json"] if json_output else []), *args]
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=timeout, text=True)
        except subprocess.TimeoutExpired:
            return None, None, "sbcctl timed out"
        try:
            data = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else None
        except (ValueError, IndexError):
            data = None
        return r.returncode, data, (r.stdout + r.stderr).strip()

    def status(self):
        rc, data, _ = self.ctl("status")
        return data if rc == 0 and isinstance(data, dict) else None

    def calls(self):
        """The call list, or raises TestFailure if sbcctl cannot get it."""
        rc, data, raw = self.ctl("calls")
        check(rc == 0 and isinstance(data, dict) and isinstance(data.get("calls"), list),
              f"sbcctl calls failed (rc={rc}): {raw[:200]}")
        return data["calls"]


def sanitizer_env(asan_extra=()):
    """The environment for sbcd: for a sanitized build, the leak suppressions of
    tests/lsan.supp (leaks inside libraries, each explained there), which need
    full malloc stacks to match frames inside those libraries."""
    env = dict(os.environ)
    asan = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = ":".join(x for x in (asan, "fast_unwind_on_malloc=0", *asan_extra) if x)
    lsan = env.get("LSAN_OPTIONS", "")
    supp = f"suppressions={REPO / 'tests' / 'lsan.supp'}"
    env["LSAN_OPTIONS"] = ":".join(x for x in (lsan, supp) if x)
    return env


class Sbcd(Process):
    """sbcd under test, with sbcctl pointed at its control socket (a unix
    socket: sbcctl reaches it from any network namespace)."""

    def __init__(self, ctx, config_path, socket_path, name="sbcd", asan_extra=(), netns=None):
        # In a network namespace (cluster_net.py): `ip netns exec` execs
        # sbcd, so the process's pid is sbcd's and /proc/<pid>/net its view.
        argv = (["ip", "netns", "exec", netns] if netns else []) + [ctx.sbcd_bin]
        super().__init__(name, [*argv, "--config", config_path], ctx.workdir,
                         env=sanitizer_env(asan_extra))
        self.netns = netns
        self.config_path = Path(config_path)
        self.control = Control(ctx.sbcctl_bin, socket_path)
        self.stopped = False

    def status(self):
        return self.control.status()

    def calls(self):
        return self.control.calls()

    def wait_ready(self, sip_addresses, timeout=SBCD_START_TIMEOUT):
        pid = self.pid if self.netns else None

        def ready():
            if not self.alive():
                return True
            return self.status() is not None and all(udp_bound(a, SIP_PORT, pid)
                                                     for a in sip_addresses)

        wait_until(ready, timeout, 0.1)
        check(self.alive(), f"sbcd exited with status {self.popen.returncode} at start: "
              f"{self.stderr_tail()}")
        check(self.status() is not None, f"sbcd did not answer sbcctl status within {timeout} s")
        for a in sip_addresses:
            check(udp_bound(a, SIP_PORT, pid), f"sbcd is not listening on udp {a}:{SIP_PORT}")

    def assert_alive(self):
        check(self.alive(), f"sbcd died (status {self.popen.returncode}): {self.stderr_tail()}")

    def assert_no_calls(self, timeout=5.0):
        """No call left in sbcd's table (no leaked state) once the peers are done."""
        self.assert_alive()
        wait_until(lambda: not self.calls(), timeout, 0.2)
        left = self.calls()
        check(not left, f"{len(left)} call(s) left in sbcd after the test: {json.dumps(left)[:300]}")

    def stop(self):
        """SIGTERM; sbcd must exit 0 within SBCD_STOP_TIMEOUT, else it is killed."""
        self.stopped = True
        check(self.alive(), f"sbcd died before it was stopped (status {self.popen.returncode}): "
              f"{self.stderr_tail()}")
        self.signal(signal.SIGTERM)
        rc = self.wait(SBCD_STOP_TIMEOUT)
        if rc is None:
            self.signal(signal.SIGKILL)
            self.wait(2.0)
            raise TestFailure(f"sbcd did not exit within {SBCD_STOP_TIMEOUT} s of SIGTERM")
        check(rc == 0, f"sbcd exited with status {rc} on SIGTERM: {self.stderr_tail()}")


class Sipp(Process):
    """One sipp instance bound to one address, with its message trace."""

    def __init__(self, ctx, name, scenario, local_ip, *, remote=None, port=SIP_PORT,
                 media_port=None, calls=1, service="1000", duration_ms=None, rate=None,
                 limit=None, timeout_s=30, recv_timeout_ms=20000, extra=(), netns=None):
        self.messages_path = Path(ctx.workdir) / f"{name}.messages.log"
        self.errors_path = Path(ctx.workdir) / f"{name}.errors.log"
        scenario_path = Path(scenario)
        if not scenario_path.is_absolute():
            scenario_path = SCENARIOS / scenario
        # In a network namespace (test_dpdk.py): `ip netns exec` runs sipp there.
        argv = (["ip", "netns", "exec", netns] if netns else []) + [SIPP]
        if remote:
            argv.append(remote)
        argv += ["-sf", scenario_path, "-i", local_ip, "-p", port, "-mi", local_ip,
                 "-m", calls, "-s", service, "-nostdin", "-timeout", f"{timeout_s}s",
                 "-recv_timeout", recv_timeout_ms, "-trace_msg", "-message_file",
                 self.messages_path, "-trace_err", "-error_file", self.errors_path]
        if media_port:
            argv += ["-mp", media_port]
        if duration_ms is not None:
            argv += ["-d", duration_ms]
        if rate is not None:
            argv += ["-r", rate, "-rp", "1000"]
        if limit is not None:
            argv += ["-l", limit]
        argv += list(extra)
        super().__init__(name, argv, ctx.workdir, cwd=ctx.workdir)

    def messages(self):
        return parse_trace(self.messages_path)

    def received(self, first_word=None, status=None):
        out = []
        for m in self.messages():
            if m.direction != "received":
                continue
            if first_word is not None and m.first_line.split(" ", 1)[0] != first_word:
                continue
            if status is not None and m.status != status:
                continue
            out.append(m)
        return out

    def errors(self):
        return _tail(self.errors_path, 3)

    def finish(self, timeout=40.0):
        """Waits for sipp to exit and requires status 0 (every call succeeded)."""
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
            raise TestFailure(f"{self.name} did not finish within {timeout} s")
        check(rc == 0, f"{self.name} exited with status {rc} ({sipp_status_meaning(rc)}): "
              f"{self.errors() or self.stdout_tail(2)}")
        return rc


def sipp_status_meaning(rc):
    return {0: "all calls successful", 1: "at least one call failed",
            97: "exit on internal command", 99: "normal exit without calls processed",
            255: "fatal error", 254: "fatal error binding a socket"}.get(rc, "unknown")


# --------------------------------------------------------------------------
# Test context


class TestContext(Net):
    """What one test owns: its slot's addresses (the attributes and methods of
    Net), a temporary directory (its control socket among the rest) and the
    processes it started."""

    def __init__(self, name, sbcd_bin, sbcctl_bin, keep=False, slot=0):
        super().__init__(slot)
        self.name = name
        self.sbcd_bin = str(sbcd_bin)
        self.sbcctl_bin = str(sbcctl_bin)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"sbc-e2e-{name}-"))
        self.keep = keep
        self._processes = []
        self._sockets = []
        self._cleanups = []

    def on_close(self, fn):
        """Runs `fn()` when the test is over, after its processes are gone."""
        self._cleanups.append(fn)

    # -- sbcd --------------------------------------------------------------
    def config_path(self, text, filename="sbc.yaml"):
        path = self.workdir / filename
        path.write_text(text)
        return path

    def socket_path(self):
        return self.workdir / "control.sock"

    def default_config(self):
        """conf/sbc.yaml as shipped, on the slot's addresses, with the control socket
        moved to our directory."""
        return self.config_path(with_control_socket(self.localize(default_config_text()),
                                                    self.socket_path()))

    def assert_topology_hidden(self, carrier_msgs, pbx_msgs):
        """assert_topology_hidden on the slot's two blocks."""
        assert_topology_hidden(carrier_msgs, pbx_msgs, self.carrier_prefix, self.pbx_prefix)

    def start_sbcd(self, config_path=None, sip_addresses=None,
                   ready_timeout=SBCD_START_TIMEOUT, asan_extra=(), **generated):
        """Starts sbcd on `config_path`, else on a generated config (keyword arguments
        as for generated_config), and waits until it answers and listens on
        `sip_addresses` (by default the slot's two SBC addresses).
        `asan_extra`: more ASAN_OPTIONS, for a sanitized build."""
        if sip_addresses is None:
            sip_addresses = (self.carrier_sbc, self.pbx_sbc)
        for addr in sip_addresses:
            _check_free(addr, SIP_PORT)
        if config_path is None:
            config_path = self.config_path(generated_config(self, self.socket_path(),
                                                            **generated))
        sbcd = Sbcd(self, config_path, self.socket_path(), asan_extra=asan_extra)
        self._processes.append(sbcd)
        sbcd.wait_ready(sip_addresses, ready_timeout)
        return sbcd

    # -- sipp --------------------------------------------------------------
    def uas(self, name, scenario, local_ip=None, media_port=PBX_SIPP_MEDIA, **kw):
        """A sipp UAS (by default the pbx trunk's peer); returns once its SIP socket
        is bound."""
        local_ip = local_ip or self.pbx_peer
        _check_free(local_ip, kw.get("port", SIP_PORT))
        sipp = Sipp(self, name, scenario, local_ip, media_port=media_port, **kw)
        self._processes.append(sipp)
        port = kw.get("port", SIP_PORT)
        bound = tcp_listening if "t1" in kw.get("extra", ()) else udp_bound
        wait_until(lambda: bound(local_ip, port) or not sipp.alive(), 5.0, 0.05)
        check(sipp.alive(), f"{name} exited at start ({sipp.popen.returncode}): "
              f"{sipp.stderr_tail() or sipp.stdout_tail()}")
        return sipp

    def uac(self, name, scenario, local_ip=None, remote=None, media_port=CARRIER_SIPP_MEDIA,
            **kw):
        """A sipp UAC (by default the carrier trunk's peer calling the SBC's carrier
        interface)."""
        local_ip = local_ip or self.carrier_peer
        remote = remote or f"{self.carrier_sbc}:{SIP_PORT}"
        _check_free(local_ip, kw.get("port", SIP_PORT))
        sipp = Sipp(self, name, scenario, local_ip, remote=remote, media_port=media_port, **kw)
        self._processes.append(sipp)
        return sipp

    def start(self, name, argv, **kw):
        proc = Process(name, argv, self.workdir, **kw)
        self._processes.append(proc)
        return proc

    # -- raw sockets -------------------------------------------------------
    def udp_socket(self, ip, port=0):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        self._sockets.append(s)
        return s

    def finish(self):
        """After a test body passed: every sbcd it started and did not stop yet must
        still be alive, answer no calls left over, and exit 0 on SIGTERM."""
        for proc in self._processes:
            if isinstance(proc, Sbcd) and not proc.stopped:
                proc.assert_no_calls()
                proc.stop()

    def close(self, passed):
        for proc in reversed(self._processes):
            proc.kill()
        for s in self._sockets:
            s.close()
        for fn in reversed(self._cleanups):
            fn()
        if passed and not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _check_free(ip, port):
    check(not udp_bound(ip, port), f"udp {ip}:{port} is already in use (a leftover process?)")


def drain(sock, wait=0.0):
    """All datagrams waiting on `sock` (after up to `wait` s for the first)."""
    out = []
    sock.settimeout(wait if wait > 0 else 0.001)
    while True:
        try:
            data, addr = sock.recvfrom(65535)
        except (socket.timeout, BlockingIOError):
            break
        out.append((data, addr))
        sock.settimeout(0.05)
    return out


def cdr_lines(ctx):
    """The top-level config lines that make sbcd write CDRs into the test's directory."""
    return ["cdr:", f"  file: {Path(ctx.workdir) / 'cdr.jsonl'}"]


def read_cdrs_now(ctx):
    """Every CDR sbcd has written for the test so far."""
    path = Path(ctx.workdir) / "cdr.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_cdrs(ctx, count, timeout=5.0):
    """The CDRs sbcd wrote for the test, once there are `count` of them (a call's
    record is written when the call has ended); fails on any other number."""
    wait_until(lambda: len(read_cdrs_now(ctx)) >= count, timeout)
    got = read_cdrs_now(ctx)
    check(len(got) == count, f"expected {count} CDRs, found {len(got)}: {got}")
    return got


def media_sample(sbcd, samples):
    """Appends sbcd's current call list to `samples` (for polling during a call)."""
    try:
        samples.append((time.monotonic(), sbcd.calls()))
    except TestFailure:
        samples.append((time.monotonic(), None))


def poll_calls_while(sbcd, procs, interval=0.25, max_time=40.0):
    """Samples sbcctl calls until all `procs` have exited; returns the samples."""
    samples = []
    deadline = time.monotonic() + max_time
    while any(p.alive() for p in procs) and time.monotonic() < deadline:
        if sbcd.alive():
            media_sample(sbcd, samples)
        time.sleep(interval)
    return samples
