"""End-to-end test of sbcd's systemd integration (issue 23): the real sbcd
run as systemd runs a Type=notify service, with NOTIFY_SOCKET pointing at a
datagram socket this test listens on (the service manager's end), and
WATCHDOG_USEC / WATCHDOG_PID asking for the watchdog's keep-alives.

sbcd must say READY=1 only once it serves (its SIP port answers OPTIONS
when the notice arrives), give a STATUS= line about its calls, send
WATCHDOG=1 from its loop, and say STOPPING=1 on SIGTERM.
"""

import socket
import time

from harness import (SBCD_START_TIMEOUT, SIP_PORT, Control, Process, Sbcd, check,
                     generated_config, sanitizer_env)

TESTS = []


def e2e_test(fn):
    TESTS.append(fn)
    return fn


class NotifiedSbcd(Sbcd):
    """sbcd with a service manager's environment. WATCHDOG_PID must be
    sbcd's own pid, unknown before it starts: a shell sets it to its own
    ($$) and execs sbcd, which keeps that pid."""

    def __init__(self, ctx, config_path, socket_path, notify_path):
        env = sanitizer_env()
        env["NOTIFY_SOCKET"] = str(notify_path)
        env["WATCHDOG_USEC"] = "2000000"
        env.pop("JOURNAL_STREAM", None)  # the test reads sbcd's stderr
        Process.__init__(self, "sbcd",
                         ["sh", "-c", 'WATCHDOG_PID=$$ exec "$0" --config "$1"', ctx.sbcd_bin,
                          config_path], ctx.workdir, env=env)
        self.netns = None
        self.config_path = config_path
        self.control = Control(ctx.sbcctl_bin, socket_path)
        self.stopped = False


class ManagerSocket:
    """The service manager's end of NOTIFY_SOCKET: the notices in order."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.notices = []

    def wait_for(self, predicate, timeout):
        """Receives until a notice satisfies `predicate`; that notice, or None."""
        deadline = time.monotonic() + timeout
        seen = len(self.notices)
        while True:
            for n in self.notices[seen:]:
                if predicate(n):
                    return n
            seen = len(self.notices)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                self.notices.append(self.sock.recv(4096).decode(errors="replace"))
            except socket.timeout:
                return None

    def close(self):
        self.sock.close()


def assignments(notice):
    """sd_notify's newline-separated VAR=value pairs as a dict."""
    return dict(line.split("=", 1) for line in notice.splitlines() if "=" in line)


def options_request(src_ip, dst_ip):
    return (f"OPTIONS sip:{dst_ip}:{SIP_PORT} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {src_ip}:{SIP_PORT};branch=z9hG4bKnotify1\r\n"
            f"From: <sip:probe@{src_ip}>;tag=n1\r\n"
            f"To: <sip:{dst_ip}>\r\n"
            f"Call-ID: notify-1@{src_ip}\r\n"
            "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()


@e2e_test
def test_systemd_notify(t):
    manager = ManagerSocket(t.workdir / "notify.sock")
    t.on_close(manager.close)
    config_path = t.config_path(generated_config(t, t.socket_path()))
    sbcd = NotifiedSbcd(t, config_path, t.socket_path(), t.workdir / "notify.sock")
    t._processes.append(sbcd)

    ready = manager.wait_for(lambda n: "READY=1" in n.splitlines(), SBCD_START_TIMEOUT)
    check(ready is not None,
          f"no READY=1 within {SBCD_START_TIMEOUT} s (notices {manager.notices}): "
          f"{sbcd.stderr_tail()}")
    # Ready means serving: the carrier's peer gets its OPTIONS answered now.
    probe = t.udp_socket(t.carrier_peer, SIP_PORT)
    probe.settimeout(5.0)
    probe.sendto(options_request(t.carrier_peer, t.carrier_sbc), (t.carrier_sbc, SIP_PORT))
    try:
        answer = probe.recv(65535).decode(errors="replace")
    except socket.timeout:
        answer = ""
    check(answer.startswith("SIP/2.0 200"),
          f"OPTIONS right after READY=1 got {answer.splitlines()[:1] or 'no answer'}")

    status = assignments(ready).get("STATUS", "")
    check("0 calls" in status and "peers up" in status,
          f"READY=1 came with STATUS={status!r}, not the calls and peers up")
    check(manager.wait_for(lambda n: "WATCHDOG=1" in n.splitlines(), 5.0) is not None,
          f"no WATCHDOG=1 within 5 s of READY=1 (WATCHDOG_USEC=2 s): {manager.notices}")
    refreshed = manager.wait_for(lambda n: n.startswith("STATUS="), 10.0)
    check(refreshed is not None and "calls" in refreshed,
          f"no STATUS= refresh within 10 s: {manager.notices}")

    sbcd.stop()  # SIGTERM, exit 0
    stopping = manager.wait_for(lambda n: "STOPPING=1" in n.splitlines(), 1.0)
    check(stopping is not None, f"no STOPPING=1 on SIGTERM: {manager.notices}")
    check("sbcd is stopping" in assignments(stopping).get("STATUS", ""),
          f"STOPPING=1 came with {stopping!r}")
