"""The network of a redundant pair of sbcd nodes, for the e2e tests of issue 22.

    caller 192.0.2.11    callee 192.0.2.12    redis 192.0.2.3
          |                    |                    |
    ======+========= bridge (switch namespace) =====+=========
                |                          |
         node a 192.0.2.1           node b 192.0.2.2
         sbcd + keepalived          sbcd + keepalived
                \\________ VRRP ___________/
          shared: 192.0.2.100 (carrier side), 192.0.2.101 (pbx side)

Every box is a network namespace of its own, joined to a bridge in a switch
namespace by a veth whose two ends are made inside their namespaces: nothing
of it touches the host's namespace, so the host's own use of 192.0.2.0/24
(CI machines have their uplink there) does not matter, and neither do the
addresses of another run. What must be unique on the machine is unique per
run (`PairNet.token`, from the test process's id and a counter): namespace
names, interface names (<= 15 characters) and the VRRP router id.

Node a and node b each run sbcd and keepalived (VRRPv3, advert_int 0.1,
unicast to the other node, both BACKUP with nopreempt, a with the higher
priority, and tools/sbc-vrrp-notify as the `notify` script). The node
namespaces set net.ipv4.ip_nonlocal_bind=1, so both sbcds listen on the
shared addresses (SIP and media) from the start, and whichever node holds
them serves the calls. redis-server runs in its own namespace with an ACL
user and password and no persistence; after `use_redis_tls()` it serves
TLS only, demanding a client certificate, and the nodes' `cluster.store.tls`
trusts its CA and presents theirs. sipp and rtp_peer.py run in the
caller's and callee's namespaces.

`PairNet.up()` brings it all up in the order production does (sbcd before
keepalived; a's keepalived first, so that a is master); `kill_node()`
takes a node down as a dead host would go, and `revive_node()` brings it
back as a rebooted host comes, as backup; the teardown (registered with the
test context before anything is made) kills every process left in the
run's namespaces and deletes them, whether the test passed or not. A later
run also deletes the namespaces of runs whose process died before it could
clean up (`sweep_stale`).

Needs root, iproute2, procps (sysctl), keepalived, redis-server and
redis-tools: `missing_prerequisite()` names what is missing.
"""

import itertools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import harness
import pki
from harness import SIP_PORT, Sbcd, Sipp, check, wait_until

REPO = harness.REPO
NOTIFY_SCRIPT = REPO / "tools" / "sbc-vrrp-notify"
RTP_PEER = Path(__file__).resolve().parent / "rtp_peer.py"

SUBNET_BITS = 24
# Hosts and their addresses on the shared segment; a and b are the nodes.
ADDRESSES = {
    "a": "192.0.2.1",
    "b": "192.0.2.2",
    "redis": "192.0.2.3",
    "caller": "192.0.2.11",
    "callee": "192.0.2.12",
}
# One letter per host for interface names, which have 15 characters.
_HOST_LETTERS = {"a": "a", "b": "b", "redis": "r", "caller": "c", "callee": "d"}
VIP_CARRIER = "192.0.2.100"  # the carrier-side interface's SIP and media address
VIP_PBX = "192.0.2.101"  # the pbx-side interface's
VIPS = (VIP_CARRIER, VIP_PBX)
PRIORITY = {"a": 150, "b": 100}
REDIS_PORT = 6379
REDIS_USER = "sbc"
# The test's own look into the store (redis_cli): every command. The nodes
# log in as REDIS_USER, whose rights are the ones conf/README.md names.
REDIS_ADMIN = "sbc-admin"
# The peers' RTP port (rtp_peer.py), named in their SDP by -key rtp_port.
RTP_PORT = 40000
NS_PREFIX = "sbcpair-"
# How long the notify script waits for sbcd's control socket (its --wait).
NOTIFY_WAIT_SECONDS = 10
START_TIMEOUT = 10.0
# VRRPv3 master-down time at advert_int 0.1 is about 0.35 s (research-22.md
# section 4); the deadline leaves room for a loaded machine.
MASTER_TIMEOUT = 10.0

# conf/examples/60-sbc-cluster.conf, set in the nodes' namespaces (sysctls
# of net.* are per namespace).
NODE_SYSCTLS = ("net.ipv4.ip_nonlocal_bind=1", "net.ipv6.ip_nonlocal_bind=1")

_run_counter = itertools.count(1)


def missing_prerequisite():
    """Why the pair cannot be built here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, veths, keepalived)"
    for tool, package in (("ip", "iproute2"), ("sysctl", "procps"), ("keepalived", "keepalived"),
                          ("redis-server", "redis-server"), ("redis-cli", "redis-tools"),
                          ("sipp", "sip-tester")):
        if shutil.which(tool) is None:
            return f"needs {tool} (Debian package {package})"
    return None


def run(*argv, check_rc=True, timeout=20, env=None):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, env=env)
    if check_rc:
        check(r.returncode == 0, f"{' '.join(map(str, argv))}: {(r.stderr or r.stdout).strip()}")
    return r


def namespace_pids(ns):
    r = run("ip", "netns", "pids", ns, check_rc=False)
    return [int(p) for p in r.stdout.split() if p.isdigit()]


def freeze_namespace_processes(ns):
    """SIGSTOP to every process in namespace `ns`, again until no new one
    appears (keepalived may be starting a notify script); returns their pids."""
    stopped = set()
    for _ in range(20):
        new = [pid for pid in namespace_pids(ns) if pid not in stopped]
        if not new:
            break
        for pid in new:
            _signal(pid, signal.SIGSTOP)
        stopped.update(new)
    return stopped


def kill_namespace_processes(ns):
    """SIGKILL to every process in namespace `ns`, and wait until they are gone
    (or zombies, whose parent reaps them)."""
    pids = namespace_pids(ns)
    for pid in pids:
        _signal(pid, signal.SIGKILL)

    def gone():
        return all(_dead(pid) for pid in pids)

    wait_until(gone, 5.0, 0.02)


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _dead(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def sweep_stale():
    """Deletes the namespaces of pair runs whose test process no longer exists
    (one killed before its teardown ran), with whatever still runs in them."""
    r = run("ip", "netns", "list", check_rc=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(re.escape(NS_PREFIX) + r"(\d+)-\d+-", name)
        if not m or Path(f"/proc/{m.group(1)}").exists():
            continue
        kill_namespace_processes(name)
        run("ip", "netns", "del", name, check_rc=False)


def only_root_writes(path):
    """Whether no user but root can change `path` or a directory above it
    (keepalived's enable_script_security test)."""
    path = Path(path).resolve()
    for part in (path, *path.parents):
        st = part.stat()
        if st.st_uid != 0 or st.st_mode & 0o022:
            return False
    return True


def _proc_entries(pid, table):
    """(ip, port, state) of the IPv4 sockets in /proc/<pid>/net/<table>: the
    table of the network namespace process `pid` is in."""
    out = []
    try:
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        fields = line.split()
        if len(fields) < 4:
            continue
        hex_ip, hex_port = fields[1].split(":")
        ip = ".".join(str(b) for b in reversed(bytes.fromhex(hex_ip)))
        out.append((ip, int(hex_port, 16), fields[3]))
    return out


def bound_in_namespace_of(pid, ip, port, table="udp"):
    """Whether something in `pid`'s namespace has `ip`:`port` bound (udp) or
    listening (tcp)."""
    want_state = "0A" if table == "tcp" else None
    return any(e_ip in (ip, "0.0.0.0") and e_port == port
               and (want_state is None or state == want_state)
               for e_ip, e_port, state in _proc_entries(pid, table))


class Node:
    """One sbcd node of the pair: its namespace, link, processes and files."""

    def __init__(self, pair, name):
        self.name = name
        self.partner = "b" if name == "a" else "a"
        self.ns = pair.ns(name)
        self.ifname = pair.ifname(name)
        self.address = ADDRESSES[name]
        self.priority = PRIORITY[name]
        workdir = Path(pair.t.workdir)
        self.socket = workdir / f"sbcd-{name}.sock"
        self.config_path = workdir / f"sbcd-{name}.yaml"
        self.keepalived_conf = workdir / f"keepalived-{name}.conf"
        self.notify_log = workdir / f"notify-{name}.log"
        self.notify_state = workdir / f"notify-{name}.state"
        self.cdr_file = workdir / f"cdr-{name}.jsonl"
        # keepalived's track_file: sbcd writes 1 there to hand its addresses
        # over (sbcctl drain --hand-over), which puts its instance in FAULT.
        self.hand_over_file = workdir / f"hand-over-{name}"
        self.pid_files = [workdir / f"keepalived-{name}{suffix}.pid"
                          for suffix in ("", "-vrrp", "-checkers")]
        self.sbcd = None  # harness.Sbcd while started
        self.keepalived = None  # harness.Process while started
        self.starts = 0  # how often the node has started: each start's logs apart


class RtpPeer:
    """rtp_peer.py in a namespace; `result()` waits for its JSON report."""

    def __init__(self, process, report_path, seconds):
        self.process = process
        self.report_path = report_path
        self.seconds = seconds

    def result(self, timeout=None):
        timeout = self.seconds + 5.0 if timeout is None else timeout
        rc = self.process.wait(timeout)
        check(rc is not None, f"{self.process.name} did not stop within {timeout} s")
        check(rc == 0 and self.report_path.is_file(),
              f"{self.process.name} exited with status {rc}: {self.process.stderr_tail()}")
        return json.loads(self.report_path.read_text())

    def stop(self):
        """Ends it early (it still writes its report)."""
        self.process.signal(signal.SIGTERM)


class PairNet:
    """The namespaces, links and processes of one pair run; see the module comment.

    `t` is the test's harness.TestContext: its directory holds every file
    (configurations, logs, pid files, sockets), its process list every
    process, and its close() the teardown.
    """

    def __init__(self, t):
        self.t = t
        self.run_id = f"{os.getpid()}-{next(_run_counter)}"
        # Process ids are below 2**22, six hex digits: padded, so that no two
        # (pid, counter) pairs make the same token.
        self.token = f"{os.getpid():06x}{int(self.run_id.rsplit('-', 1)[1]):x}"
        # VRRP router ids must differ between pairs on one segment; each run
        # has a segment of its own, but a distinct id costs nothing and keeps
        # a capture of two runs readable.
        self.vrid = int(self.run_id.replace("-", "")) % 255 + 1
        self.redis_password = secrets.token_hex(16)
        self.nodes = {"a": Node(self, "a"), "b": Node(self, "b")}
        self.redis = None
        self.redis_pki = None  # use_redis_tls(): the store's certificates (pki.Pki)
        self.with_sbcd = True  # up(sbcd=False): the nodes run keepalived only
        self._namespaces = []
        t.on_close(self.teardown)

    # -- names ---------------------------------------------------------------
    def ns(self, host):
        """The namespace name of `host` ("switch", "a", "b", "redis", "caller", ...)."""
        return f"{NS_PREFIX}{self.run_id}-{host}"

    def ifname(self, host, switch_end=False):
        name = f"sp{self.token}{_HOST_LETTERS[host]}{'s' if switch_end else ''}"
        check(len(name) <= 15, f"interface name {name} is longer than 15 characters")
        return name

    @property
    def bridge(self):
        return f"sp{self.token}br"

    def node(self, name):
        check(name in self.nodes, f"no node {name!r}: the nodes are a and b")
        return self.nodes[name]

    # -- building ------------------------------------------------------------
    def up(self, sbcd_extra=(), redis=True, sbcd=True, **generated):
        """Builds the network and starts redis-server, both sbcds and both
        keepalived, returning once a is master and b is backup.

        `sbcd_extra`: more top-level YAML for the nodes' sbcd configuration
        (a string or a list of lines), or a function of the node's name
        returning it (for a `cluster:` section of the node's own); the other
        keyword arguments go to harness.generated_config."""
        why = missing_prerequisite()
        check(why is None, f"cannot build the pair: {why}")
        sweep_stale()
        self.with_sbcd = sbcd
        self.build()
        if redis:
            self.start_redis()
        for name in ("a", "b"):
            extra = sbcd_extra(name) if callable(sbcd_extra) else sbcd_extra
            self.write_sbcd_config(name, extra, **generated)
            if sbcd:
                self.start_sbcd(name)
        self.start_keepalived("a")
        self.wait_master("a")
        self.start_keepalived("b")
        self.wait_state("b", "BACKUP")
        return self

    def build(self):
        """The switch namespace with its bridge, a namespace per host joined to
        it, and conf/examples/60-sbc-cluster.conf's sysctls in the nodes'."""
        switch = self.ns("switch")
        self.add_namespace(switch)
        run("ip", "-n", switch, "link", "add", self.bridge, "type", "bridge")
        run("ip", "-n", switch, "link", "set", self.bridge, "up")
        for host, address in ADDRESSES.items():
            ns = self.ns(host)
            self.add_namespace(ns)
            if host in self.nodes:
                # research-22.md section 3: sofia-sip binds its listeners with
                # a bare bind(), so the standby can hold the shared addresses
                # only with nonlocal binding allowed in its namespace.
                run("ip", "netns", "exec", ns, "sysctl", "-qw", *NODE_SYSCTLS)
            inner, outer = self.ifname(host), self.ifname(host, switch_end=True)
            # Both ends made where they belong: no name ever exists in the
            # host's namespace, where another run's could clash with it.
            run("ip", "link", "add", inner, "netns", ns, "type", "veth", "peer", "name", outer,
                "netns", switch)
            run("ip", "-n", switch, "link", "set", outer, "master", self.bridge, "up")
            run("ip", "-n", ns, "addr", "add", f"{address}/{SUBNET_BITS}", "dev", inner)
            run("ip", "-n", ns, "link", "set", inner, "up")

    def add_namespace(self, ns):
        """A network namespace named `ns` (from ns()), deleted by the teardown."""
        run("ip", "netns", "add", ns)
        self._namespaces.append(ns)
        run("ip", "-n", ns, "link", "set", "lo", "up")

    def exec_in(self, host, *argv, check_rc=True, timeout=20, env=None):
        """Runs a command in `host`'s namespace; returns the CompletedProcess."""
        return run("ip", "netns", "exec", self.ns(host), *argv, check_rc=check_rc,
                   timeout=timeout, env=env)

    def start_in(self, host, name, argv, **kw):
        """Starts a process in `host`'s namespace, registered with the test
        (killed at its end); `ip netns exec` execs it, so the pid is its own."""
        return self.t.start(name, ["ip", "netns", "exec", self.ns(host), *argv], **kw)

    # -- redis ---------------------------------------------------------------
    def use_redis_tls(self):
        """Before up(): redis-server serves TLS only on REDIS_PORT (`port 0`,
        `tls-port`, `tls-auth-clients yes`), with certificates made for the
        run; the nodes' cluster sections and redis_cli() use TLS too."""
        self.redis_pki = pki.make_redis_pki(Path(self.t.workdir) / "redis-pki",
                                            ADDRESSES["redis"])
        return self

    def _redis_tls_lines(self):
        if self.redis_pki is None:
            return [f"port {REDIS_PORT}"]
        p = self.redis_pki
        return ["port 0", f"tls-port {REDIS_PORT}", f"tls-cert-file {p.redis_pem}",
                f"tls-key-file {p.redis_key}", f"tls-ca-cert-file {p.ca_pem}",
                "tls-auth-clients yes"]

    def start_redis(self):
        """redis-server on 192.0.2.3:6379: the default user off, user `sbc`
        with a password, nothing saved to disk."""
        workdir = Path(self.t.workdir)
        data = workdir / "redis"
        data.mkdir(exist_ok=True)
        conf = workdir / "redis.conf"
        conf.write_text("\n".join([
            f"bind {ADDRESSES['redis']}",
            *self._redis_tls_lines(),
            "daemonize no",
            'logfile ""',
            f"dir {data}",
            # No persistence: a run leaves no dump behind, and the pair must
            # not depend on what a restarted Redis remembers.
            'save ""',
            "appendonly no",
            "user default off",
            f"user {REDIS_USER} on >{self.redis_password} ~sbc:* ~e2e:* +@read +@write +@keyspace "
            "+@scripting +client|setname +time",
            f"user {REDIS_ADMIN} on >{self.redis_password} ~* &* +@all",
            "",
        ]))
        conf.chmod(0o600)
        self.redis = self.start_in("redis", "redis", ["redis-server", conf])
        pid = self.redis.pid
        wait_until(lambda: bound_in_namespace_of(pid, ADDRESSES["redis"], REDIS_PORT, "tcp")
                   or not self.redis.alive(), START_TIMEOUT, 0.05)
        check(self.redis.alive(), f"redis-server exited at start: {self.redis.stdout_tail()}")
        rc, out = self.redis_cli("PING")
        check(rc == 0 and out.strip() == "PONG", f"redis-server does not answer: {out}")

    def stop_redis(self):
        """redis-server dies at once (SIGKILL), as a crashed or rebooted store
        host goes: its connections are reset, and with no persistence what
        it held is lost. start_redis() brings an empty one back."""
        check(self.redis is not None and self.redis.alive(), "redis-server is not running")
        self.redis.signal(signal.SIGKILL)
        self.redis.wait(5.0)
        self.redis = None

    def redis_cli(self, *args, host="redis"):
        """redis-cli as the test's admin user, from `host`'s namespace;
        (status, output)."""
        env = dict(os.environ, REDISCLI_AUTH=self.redis_password)
        tls = [] if self.redis_pki is None else [
            "--tls", "--cacert", self.redis_pki.ca_pem, "--cert", self.redis_pki.client_pem,
            "--key", self.redis_pki.client_key]
        r = self.exec_in(host, "redis-cli", "-h", ADDRESSES["redis"], "-p", REDIS_PORT,
                         "--user", REDIS_ADMIN, *tls, *args, check_rc=False, env=env)
        return r.returncode, (r.stdout + r.stderr).strip()

    @property
    def redis_address(self):
        return f"{ADDRESSES['redis']}:{REDIS_PORT}"

    # -- sbcd ----------------------------------------------------------------
    def sbcd_config_text(self, name, extra=(), **generated):
        """The node's sbcd configuration: harness.generated_config's two
        interfaces and trunks, the interfaces on the shared addresses (SIP
        and media), the carrier trunk's peer the caller and the pbx trunk's
        the callee, the node's own control socket and CDR file, then `extra`
        (top-level YAML, a string or a list of lines)."""
        node = self.node(name)
        addresses = _Addresses(VIP_CARRIER, VIP_PBX, ADDRESSES["caller"], ADDRESSES["callee"])
        if isinstance(extra, str):
            extra = extra.splitlines()
        top = ["cdr:", f"  file: {node.cdr_file}", *list(generated.pop("extra_top", ())),
               *extra]
        return harness.generated_config(addresses, node.socket, extra_top=top, **generated)

    def write_sbcd_config(self, name, extra=(), **generated):
        node = self.node(name)
        node.config_path.write_text(self.sbcd_config_text(name, extra, **generated))
        return node.config_path

    def start_sbcd(self, name):
        """sbcd on the node's written configuration, in its namespace; returns
        once it answers sbcctl and listens on both shared addresses, which
        (nonlocal binding) it does whether the node holds them or not."""
        node = self.node(name)
        if node.socket.exists():
            node.socket.unlink()  # a killed sbcd's; the new one must make its own
        sbcd = Sbcd(self.t, node.config_path, node.socket, name=f"sbcd-{name}-{node.starts}",
                    netns=node.ns)
        self.t._processes.append(sbcd)
        node.sbcd = sbcd
        sbcd.wait_ready(VIPS)
        return sbcd

    def sbcctl(self, name, *args, **kw):
        """sbcctl --json against node `name`'s sbcd: (status, JSON or None, raw output)."""
        return harness.Control(self.t.sbcctl_bin, self.node(name).socket).ctl(*args, **kw)

    def cdrs(self, name):
        """The CDRs node `name`'s sbcd has written so far."""
        path = self.node(name).cdr_file
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def cluster_section(self, name, key_hex=None):
        """A `cluster:` section for node `name` (top-level YAML lines, for
        `sbcd_extra`): its name and partner, the shared store with the ACL
        user's password in a file, and a sealing key file, both in the test's
        directory. For the tests of sbcd's cluster support; sbcd without it
        refuses the key."""
        node = self.node(name)
        workdir = Path(self.t.workdir)
        key_file = workdir / "cluster.key"
        if not key_file.exists():
            key_file.write_text((key_hex or secrets.token_hex(32)) + "\n")
            key_file.chmod(0o600)
        password_file = workdir / "redis.password"
        if not password_file.exists():
            password_file.write_text(self.redis_password + "\n")
            password_file.chmod(0o600)
        return [
            "cluster:",
            f"  node: {node.name}",
            f"  partner: {node.partner}",
            f"  key_file: {key_file}",
            f"  hand_over_file: {node.hand_over_file}",
            "  store:",
            f'    address: "{self.redis_address}"',
            f"    user: {REDIS_USER}",
            f"    password_file: {password_file}",
        ] + ([] if self.redis_pki is None else [
            "    tls:",
            f"      ca_file: {self.redis_pki.ca_pem}",
            f"      cert_file: {self.redis_pki.client_pem}",
            f"      key_file: {self.redis_pki.client_key}",
            "      server_name: redis.test",
        ])

    # -- keepalived ----------------------------------------------------------
    def keepalived_config_text(self, name):
        """keepalived.conf for node `name`: conf/examples/keepalived-pair-a.conf's
        choices (see the comments there) on the test's addresses, and the notify
        script from the source tree pointed at this node's sbcd and log."""
        node = self.node(name)
        partner = self.node(node.partner)
        notify = " ".join([
            str(NOTIFY_SCRIPT), "--socket", str(node.socket), "--sbcctl", self.t.sbcctl_bin,
            "--log", str(node.notify_log), "--state", str(node.notify_state),
            # Without sbcd no socket ever appears: nothing to wait for.
            "--wait", str(NOTIFY_WAIT_SECONDS if self.with_sbcd else 0)])
        vips = "\n".join(f"        {vip}/{SUBNET_BITS} dev {node.ifname}" for vip in VIPS)
        # As in production where it can be: keepalived refuses a script that
        # a user other than root could change. A checkout owned by a user
        # cannot have it (keepalived -t then warns, and start_keepalived
        # lets that one warning pass).
        security = "    enable_script_security\n" if only_root_writes(NOTIFY_SCRIPT) else ""
        return f"""# keepalived for sbc pair node {name} (tests/e2e/cluster_net.py)
global_defs {{
    router_id sbc-{self.token}-{name}
    vrrp_version 3
    # sbcctl must reach sbcd's control socket.
    script_user root
{security}}}

# sbcctl drain --hand-over: sbcd writes 1 here once its calls are in the
# store; weight 0 makes a non-zero value a fault, so the partner takes over.
track_file sbc_hand_over {{
    file "{node.hand_over_file}"
    weight 0
    init_file 0
}}

vrrp_instance sbc {{
    state BACKUP
    nopreempt
    interface {node.ifname}
    virtual_router_id {self.vrid}
    priority {node.priority}
    advert_int 0.1
    unicast_src_ip {node.address}
    unicast_peer {{
        {partner.address}
    }}
    virtual_ipaddress {{
{vips}
    }}
    track_file {{
        sbc_hand_over
    }}
    notify "{notify}"
}}
"""

    def start_keepalived(self, name):
        """keepalived in the node's namespace, in the foreground (-n), logging
        to its stderr file (-l -D, no syslog -G), VRRP only (-P), with pid files
        of its own (the defaults under /run are shared by every namespace)."""
        node = self.node(name)
        node.keepalived_conf.write_text(self.keepalived_config_text(name))
        # keepalived -t: a configuration it rejects fails here, with its words.
        r = self.exec_in(name, "keepalived", "-t", "-f", node.keepalived_conf, check_rc=False)
        complaints = [line for line in (r.stderr + r.stdout).splitlines()
                      if line.strip() and "SECURITY VIOLATION" not in line]
        check(r.returncode == 0 or not complaints,
              f"keepalived rejects {node.keepalived_conf}: {' | '.join(complaints)[-400:]}")
        for f in node.pid_files:
            f.unlink(missing_ok=True)
        pid, vrrp_pid, checkers_pid = node.pid_files
        node.keepalived = self.start_in(
            name, f"keepalived-{name}-{node.starts}",
            ["keepalived", "-n", "-l", "-D", "-G", "-P", "-f", node.keepalived_conf,
             "-p", pid, "-r", vrrp_pid, "-c", checkers_pid])
        node.starts += 1
        return node.keepalived

    # -- state ---------------------------------------------------------------
    def holds_vips(self, name):
        """Whether node `name`'s interface carries every shared address."""
        node = self.node(name)
        r = self.exec_in(name, "ip", "-j", "addr", "show", "dev", node.ifname, check_rc=False)
        try:
            links = json.loads(r.stdout or "[]")
        except ValueError:
            return False
        held = {a.get("local") for link in links for a in link.get("addr_info", [])}
        return all(vip in held for vip in VIPS)

    def notify_events(self, name):
        """The events the notify script received on node `name`, in order, as
        [state, outcome]: outcome is None while the script is still busy with
        the event, else "told" (sbcd took it), "failed" (sbcctl did not
        succeed: before sbcd has `sbcctl cluster`, always) or "superseded" (a
        later event was there first, so this one was not told)."""
        try:
            text = self.node(name).notify_log.read_text(errors="replace")
        except OSError:
            return []
        events = {}
        for state, seq, what in re.findall(
                r"sbc-vrrp-notify: \S+ \S+ (\S+) \(priority \d+\) #(\d+): (.*)", text):
            event = events.setdefault(int(seq), [state, None])
            if what.startswith("told sbcd"):
                event[1] = "told"
            elif what.startswith("superseded"):
                event[1] = "superseded"
            elif re.match(r"sbcctl cluster \w+ failed", what):
                event[1] = "failed"
        return [events[seq] for seq in sorted(events)]

    def wait_state(self, name, state, timeout=MASTER_TIMEOUT):
        """Waits until the latest event of node `name`'s notify script is
        `state` (MASTER, BACKUP, FAULT, STOP) and the script is done with it."""
        def reached():
            events = self.notify_events(name)
            return events and events[-1][0] == state and events[-1][1] is not None

        wait_until(reached, timeout, 0.02)
        check(reached(), f"node {name} did not become {state} within {timeout} s (notify "
              f"events {self.notify_events(name)}; keepalived: {self._keepalived_tail(name)})")

    def wait_master(self, name, timeout=MASTER_TIMEOUT):
        """Waits until node `name` holds the shared addresses and its notify
        script has been called with MASTER (it has told sbcd, or tried to)."""
        wait_until(lambda: self.holds_vips(name), timeout, 0.02)
        check(self.holds_vips(name), f"node {name} does not hold {', '.join(VIPS)} after "
              f"{timeout} s (keepalived: {self._keepalived_tail(name)})")
        self.wait_state(name, "MASTER", timeout)

    def _keepalived_tail(self, name):
        proc = self.node(name).keepalived
        return proc.stderr_tail(3) if proc else "not started"

    # -- failures ------------------------------------------------------------
    def kill_node(self, name):
        """Node `name` dies as a host does, all at once and saying nothing:
        every process in its namespace (sbcd, keepalived and its VRRP child,
        a notify script under way) is frozen, its link goes down, then they
        are all killed. Frozen first, because keepalived's VRRP child gets
        SIGTERM when its parent dies and would hand the addresses over with
        a priority-0 advertisement, which a dead host never sends. The link
        matters too: a killed keepalived releases nothing, so the node would
        keep answering ARP for the shared addresses (research-22.md
        section 4)."""
        node = self.node(name)
        if node.sbcd is not None:
            node.sbcd.stopped = True  # killed on purpose: not checked at the end
        freeze_namespace_processes(node.ns)
        run("ip", "-n", node.ns, "link", "set", node.ifname, "down")
        kill_namespace_processes(node.ns)
        for proc in (node.sbcd, node.keepalived):
            if proc is not None:
                proc.wait(2.0)  # reap our own children

    def revive_node(self, name):
        """Node `name` boots again after kill_node: the shared addresses it
        held are gone (a reboot forgets them), its link comes up, and sbcd then
        keepalived start. With nopreempt it joins as backup; returns once its
        notify script has said so."""
        node = self.node(name)
        check(not namespace_pids(node.ns), f"node {name} still runs processes: kill it first")
        for vip in VIPS:
            self.exec_in(name, "ip", "addr", "del", f"{vip}/{SUBNET_BITS}", "dev", node.ifname,
                         check_rc=False)
        run("ip", "-n", node.ns, "link", "set", node.ifname, "up")
        self.wait_partner_hears(name)
        if self.with_sbcd:
            self.start_sbcd(name)
        self.start_keepalived(name)
        self.wait_state(name, "BACKUP")

    def wait_partner_hears(self, name, timeout=10.0):
        """Waits until node `name` and its partner have exchanged ARP (a
        datagram to the partner's discard port resolves it, and the partner
        learns this node's address from the request). A node whose link has
        just come up may be unknown to its partner, whose ARP entry for it
        failed while it was away and is probed again only every second: its
        adverts would not reach the node within the 0.35 s after which a
        VRRP backup that hears no master takes the addresses, nopreempt or
        not. Production has keepalived start seconds after the links, and
        the examples' vrrp_startup_delay; this stands in for that."""
        node = self.node(name)
        partner = self.node(node.partner)
        poke = ("import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
                f".sendto(b'', ('{partner.address}', 9))")

        def resolved():
            self.exec_in(name, sys.executable, "-c", poke, check_rc=False)
            r = self.exec_in(name, "ip", "neigh", "show", partner.address, "dev", node.ifname,
                             check_rc=False)
            # An answer came back (the partner resolved this node in doing
            # so): the entry has a link-layer address, REACHABLE, or already
            # DELAY or STALE on a loaded machine.
            return "lladdr" in r.stdout and "FAILED" not in r.stdout and \
                "INCOMPLETE" not in r.stdout

        check(wait_until(resolved, timeout, 0.1),
              f"node {name} cannot reach its partner at {partner.address} after {timeout} s")

    # -- peers ---------------------------------------------------------------
    def uas(self, name, scenario, host="callee", **kw):
        """A sipp UAS in `host`'s namespace on its address, port 5060; returns
        once its SIP socket is bound."""
        sipp = Sipp(self.t, name, scenario, ADDRESSES[host], netns=self.ns(host), **kw)
        self.t._processes.append(sipp)
        port = kw.get("port", SIP_PORT)
        wait_until(lambda: bound_in_namespace_of(sipp.pid, ADDRESSES[host], port)
                   or not sipp.alive(), 5.0, 0.05)
        check(sipp.alive(), f"{name} exited at start ({sipp.popen.returncode}): "
              f"{sipp.stderr_tail() or sipp.stdout_tail()}")
        return sipp

    def uac(self, name, scenario, host="caller", remote=None, **kw):
        """A sipp UAC in `host`'s namespace calling `remote` (by default the
        SBC's carrier-side shared address)."""
        remote = remote or f"{VIP_CARRIER}:{SIP_PORT}"
        sipp = Sipp(self.t, name, scenario, ADDRESSES[host], remote=remote, netns=self.ns(host),
                    **kw)
        self.t._processes.append(sipp)
        return sipp

    def rtp_peer(self, name, host, port, seconds, to=None, echo=False, bind_ip=None,
                 gap_threshold_ms=60, sniff=False, extra=()):
        """rtp_peer.py in `host`'s namespace on `bind_ip` (default the host's
        address):`port`, sending 20 ms packets to `to` ("IP:PORT"; None: to
        whoever sends first) or echoing (`echo`), for `seconds`; returns once
        its socket is bound. Its report (RtpPeer.result()) gives the longest gap
        in the media it received. `sniff`: it only watches the RTP arriving
        for the address and `port` (0: any) of a peer that owns its socket.
        `extra`: more rtp_peer.py arguments (`--echo-seq-from N`)."""
        workdir = Path(self.t.workdir)
        report = workdir / f"{name}.rtp.json"
        ready = workdir / f"{name}.rtp.ready"
        for f in (report, ready):
            f.unlink(missing_ok=True)
        argv = [sys.executable, RTP_PEER, "--bind", f"{bind_ip or ADDRESSES[host]}:{port}",
                "--seconds", seconds, "--report", report, "--ready", ready,
                "--gap-threshold-ms", gap_threshold_ms]
        if to:
            argv += ["--to", to]
        if echo:
            argv.append("--echo")
        if sniff:
            argv.append("--sniff")
        argv += list(extra)
        proc = self.start_in(host, name, argv)
        wait_until(lambda: ready.exists() or not proc.alive(), 5.0, 0.02)
        check(ready.exists(), f"{name} did not start: {proc.stderr_tail()}")
        return RtpPeer(proc, report, seconds)

    def established_call(self, name, timeout=10.0):
        """The first established call in node `name`'s `sbcctl stats` (with its
        legs' local media addresses), waiting up to `timeout` s for one."""
        def established():
            rc, data, _ = self.sbcctl(name, "stats")
            if rc == 0 and isinstance(data, dict):
                for call in data.get("calls") or []:
                    if call.get("state") == "established":
                        return call
            return None

        call = wait_until(established, timeout, 0.05)
        check(call, f"no established call on node {name} within {timeout} s")
        return call

    def call_media(self, name, seconds, port=RTP_PORT, tag=""):
        """RTP both ways through node `name`'s established call: an rtp_peer on
        the caller's and the callee's `port` (the port their sipp's SDP named,
        -key rtp_port; the *_keyed_media.xml scenarios), each sending to the
        SBC's media address of its own leg for `seconds`. Returns the two
        RtpPeers (caller's, callee's); their results give each end's longest
        gap, the figure a failover is judged by."""
        legs = self.established_call(name)["legs"]
        caller = self.rtp_peer(f"caller-rtp{tag}", "caller", port, seconds, to=legs["a"]["local"])
        callee = self.rtp_peer(f"callee-rtp{tag}", "callee", port, seconds, to=legs["b"]["local"])
        return caller, callee

    # -- teardown ------------------------------------------------------------
    def teardown(self):
        """Kills whatever still runs in the run's namespaces and deletes them;
        runs at the test's end (TestContext.close), passed or failed."""
        for ns in reversed(self._namespaces):
            kill_namespace_processes(ns)
        for node in self.nodes.values():
            for proc in (node.sbcd, node.keepalived):
                if proc is not None:
                    proc.wait(1.0)
        for ns in reversed(self._namespaces):
            run("ip", "netns", "del", ns, check_rc=False)
        self._namespaces = []

    # -- rolling upgrade -----------------------------------------------------
    def wait_sbcd_exit(self, name, timeout=30.0):
        """Waits until node `name`'s sbcd exits by itself (after `sbcctl drain
        --hand-over`), which it must do with status 0; keepalived stays up,
        its instance in FAULT while the hand-over file says 1."""
        sbcd = self.node(name).sbcd
        check(sbcd is not None, f"node {name} has no sbcd")
        rc = sbcd.wait(timeout)
        check(rc is not None, f"node {name}'s sbcd did not exit within {timeout} s of its "
              f"hand-over: {sbcd.stderr_tail()}")
        sbcd.stopped = True  # exited on purpose: not checked at the end
        check(rc == 0, f"node {name}'s sbcd exited with status {rc}: {sbcd.stderr_tail()}")

    def restart_sbcd(self, name):
        """Node `name`'s sbcd, gone after a hand-over, starts again on the same
        configuration (the upgraded binary, as an operator would start it):
        it writes 0 to its hand-over file, keepalived leaves FAULT for BACKUP
        (nopreempt: the partner keeps the addresses) and the notify script
        makes the new sbcd standby. Returns once the script has told it."""
        node = self.node(name)
        check(node.sbcd is None or not node.sbcd.alive(), f"node {name}'s sbcd still runs")
        check(node.keepalived is not None and node.keepalived.alive(),
              f"node {name}'s keepalived is not running")
        node.starts += 1  # the new sbcd's logs beside the old one's
        self.start_sbcd(name)
        self.wait_state(name, "BACKUP")
        return node.sbcd


class _Addresses:
    """The four addresses harness.generated_config reads off a harness.Net."""

    def __init__(self, carrier_sbc, pbx_sbc, carrier_peer, pbx_peer):
        self.carrier_sbc = carrier_sbc
        self.pbx_sbc = pbx_sbc
        self.carrier_peer = carrier_peer
        self.pbx_peer = pbx_peer
