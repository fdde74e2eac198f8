"""Prometheus /metrics end to end: sbcd with its exporter on loopback, a real
Prometheus server (Debian's prometheus) started by the test scraping it every
second while calls with media run, then a query through Prometheus's HTTP API
for the answered calls and the media packets, and `promtool check metrics` on
a direct scrape (issue 23)."""

import json
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request

from harness import cdr_lines, check, read_cdrs, skip, wait_until

TESTS = []

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def e2e_test(fn):
    TESTS.append(fn)
    return fn


def free_tcp_port():
    """A TCP port free on 127.0.0.1 right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def get_or_none(url):
    try:
        return http_get(url)
    except OSError:
        return None


def start_prometheus(t, target):
    """Prometheus on a free loopback port, its storage in the test's directory,
    scraping `target` ("IP:PORT") every second: its process and base URL."""
    port = free_tcp_port()
    config = t.workdir / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        "  - job_name: sbcd\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n")
    proc = t.start("prometheus", [PROMETHEUS, f"--config.file={config}",
                           f"--storage.tsdb.path={t.workdir / 'prometheus-data'}",
                           f"--web.listen-address=127.0.0.1:{port}"])
    base = f"http://127.0.0.1:{port}"
    ready = wait_until(lambda: (get_or_none(f"{base}/-/ready") or (0, ""))[0] == 200 or
                       not proc.alive(), 30.0, 0.2)
    check(ready and proc.alive(), f"prometheus did not start: {proc.stderr_tail()}")
    return proc, base


def query(base, expr):
    """The value of instant query `expr` (a single series), or None."""
    reply = get_or_none(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    if reply is None or reply[0] != 200:
        return None
    data = json.loads(reply[1])
    results = data.get("data", {}).get("result", [])
    if data.get("status") != "success" or len(results) != 1:
        return None
    return float(results[0]["value"][1])


@e2e_test
def prometheus_scrapes_calls_and_media(t):
    if not (shutil.which(PROMETHEUS) and shutil.which(PROMTOOL)):
        skip("Debian's prometheus package (prometheus, promtool) is not installed")
    metrics_port = free_tcp_port()
    target = f"127.0.0.1:{metrics_port}"
    sbcd = t.start_sbcd(extra_top=cdr_lines(t) + ["metrics:", f"  listen: {target}"])
    status, text = http_get(f"http://{target}/metrics")
    check(status == 200 and "sbc_calls_active 0" in text,
          f"sbcd's /metrics before any call: {status} {text[:300]}")
    prometheus, base = start_prometheus(t, target)
    # Prometheus sees sbcd up before the calls: the scrape works at all.
    check(wait_until(lambda: query(base, 'up{job="sbcd"}') == 1, 30.0, 0.5),
          f"Prometheus never scraped {target} (up != 1)")

    calls = 3
    uas = t.uas("uas", "uas_answer_media.xml", calls=calls)
    uac = t.uac("uac", "uac_call_media.xml", calls=calls, duration_ms=2000)
    # While the calls run, Prometheus sees them active and media flowing.
    check(wait_until(lambda: (query(base, "sbc_calls_active") or 0) >= 1, 30.0, 0.5),
          "Prometheus never saw a call active")
    uac.finish()
    uas.finish()
    sbcd.assert_no_calls()

    answered = 'sum(sbc_calls_answered_total{trunk="carrier"})'
    check(wait_until(lambda: query(base, answered) == calls, 30.0, 0.5),
          f"Prometheus: {answered} = {query(base, answered)}, expected {calls}")
    # The calls are over: the media total is the sum of their CDRs' counters.
    sent = sum(r["media"][leg]["packets_sent"] for r in read_cdrs(t, calls)
               for leg in ("a", "b"))
    check(sent > 0, "the CDRs count no media packets sent")
    packets = 'sum(sbc_media_packets_total{direction="tx"})'
    check(wait_until(lambda: query(base, packets) == sent, 30.0, 0.5),
          f"Prometheus: {packets} = {query(base, packets)}, expected {sent} (the CDRs' sum)")
    failed = query(base, 'sum(sbc_calls_failed_total{trunk="carrier"}) or vector(0)')
    check(failed == 0, f"Prometheus: {failed} failed calls, expected none")

    # The exposition itself, as Prometheus's own linter reads it.
    status, text = http_get(f"http://{target}/metrics")
    check(status == 200, f"/metrics answered {status}")
    for name in ("sbc_calls_answered_total", "sbc_media_packets_total", "sbc_peer_up",
                 "sbc_media_free_port_pairs", "sbc_worker_busy_ratio", "process_cpu_seconds_total",
                 "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"):
        check(f"\n{name}" in text, f"/metrics has no {name}")
    lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=30)
    check(lint.returncode == 0,
          f"promtool check metrics failed ({lint.returncode}): {lint.stdout}{lint.stderr}")
    prometheus.kill()  # SIGTERM: Prometheus shuts down cleanly
    check(not prometheus.alive(), "prometheus did not stop")
