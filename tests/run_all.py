#!/usr/bin/python3
"""Runs every test of the project and prints one verdict per test.

    tests/run_all.py --build DIR [--build-status FILE] [--asan-build DIR
                     [--asan-e2e-build-status FILE] [--asan-build-status FILE]]
                     [--tsan-build DIR [--tsan-build-status FILE]] [--skip-e2e]
                     [--e2e-jobs N] [--asan-e2e-jobs N] [--no-plain-unit]

The tests: the meson unit tests of each build (suite "unit"; with
--no-plain-unit, of the sanitized builds only), each Catch2
test case counted as one test, read from Catch2's JUnit report (names
prefixed "asan:" for --asan-build, "tsan:" for --tsan-build, a
ThreadSanitizer build of the threaded tests only); the end-to-end tests of
tests/e2e against the sbcd of each build, with real sipp peers (each test
function one test, prefixed "e2e:" or "asan:e2e:"; several at once, see
E2E_JOBS_PER_CPU); `meson install` into a staging root and
`systemd-analyze verify` on the installed unit; the example configurations;
the source format. Prints "PASS name" or "FAIL name: reason" per test and,
as the very last line, "N passed, M failed". Exits 0 iff nothing failed.

tools/test calls this once the plain build's e2e programs are built, while
the rest compiles in the background in stages: each --*-status file is where
a stage writes its exit status when it ends (its output beside it, .log for
.status). The tests that need a stage wait for its file, and a failed stage
is one failed test, with the end of its log as its reason. Standard library
only.
"""

import argparse
import concurrent.futures
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def report(self, name, ok, reason=""):
        if ok:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failed += 1
            reason = " ".join(str(reason).split()) or "failed"
            print(f"FAIL {name}: {reason}", flush=True)


# Unit-test programs run two at a time: each is one process, mostly on one
# core, and when the last build is over they are what is left to run.
UNIT_JOBS = 2


class Deferred:
    """A tally for tests that run in a thread beside others: it keeps their
    results, in order, until replay() hands them to the real tally."""

    def __init__(self):
        self.results = []

    def report(self, name, ok, reason=""):
        self.results.append((name, ok, reason))

    def replay(self, tally):
        for name, ok, reason in self.results:
            tally.report(name, ok, reason)


# --------------------------------------------------------------------------
# Unit tests (Catch2 v2 executables registered with meson, suite "unit")


def unit_tests(build_dir):
    """The meson tests of suite 'unit' in build_dir, as meson introspect gives them."""
    r = subprocess.run(["meson", "introspect", "--tests", str(build_dir)], capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"meson introspect --tests {build_dir} failed: "
                           f"{(r.stderr or r.stdout).strip()[:300]}")
    tests = json.loads(r.stdout)

    def in_unit(t):
        return any(s == "unit" or s.endswith(":unit") for s in t.get("suite") or [])

    return [t for t in tests if in_unit(t)]


def test_env(test):
    env = dict(os.environ)
    extra = test.get("env") or {}
    if isinstance(extra, dict):
        env.update({k: str(v) for k, v in extra.items()})
    # As meson test does: a sanitizer finding ends the run with an error, so it
    # shows up as a failed (crashed) test instead of a line of output.
    env.setdefault("ASAN_OPTIONS", "halt_on_error=1:abort_on_error=1:print_summary=1")
    env.setdefault("UBSAN_OPTIONS",
                   "halt_on_error=1:abort_on_error=1:print_summary=1:print_stacktrace=1")
    env.setdefault("MSAN_OPTIONS", "halt_on_error=1:abort_on_error=1:print_summary=1")
    return env


def run_cmd(cmd, test, build_dir, timeout):
    """Runs cmd like meson would; returns (exit status or None on timeout, output)."""
    try:
        r = subprocess.run(cmd, cwd=test.get("workdir") or str(build_dir), env=test_env(test),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           errors="replace", timeout=timeout)
        return r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout or ""
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        return None, out
    except OSError as e:
        return 127, str(e)


def list_test_cases(test, build_dir):
    """Catch2 test case names of one executable, or None if it does not list them."""
    rc, out = run_cmd(test["cmd"] + ["--list-test-names-only"], test, build_dir, 60)
    if rc is None or rc < 0:
        return None
    names = [line.rstrip("\r") for line in out.splitlines() if line.strip()]
    return names or None


def catch2_spec(name):
    """A test spec that selects exactly the test case `name` (Catch2 v2 escapes)."""
    out = ""
    for ch in name:
        if ch in '\\,[]*~"':
            out += "\\"
        out += ch
    return out


def one_case_cmd(cmd, case):
    """cmd, running only the test case `case`. A meson test of a program that
    holds several (tests/sbc/meson.build) selects its cases with a file-name
    filter (`-# [#test_x],[#test_y]`), which would add its cases to this one:
    Catch2 runs what matches any of its test specs."""
    if len(cmd) >= 3 and cmd[-2] == "-#" and cmd[-1].startswith("[#"):
        cmd = cmd[:-2]
    return cmd + [catch2_spec(case)]


def junit_results(path, case_names):
    """{test case: failure reason or ""} from a Catch2 JUnit report.

    Catch2 v2 writes one <testcase> per leaf section, named "case/section/...":
    a test case fails if any of its sections does.
    """
    root = ET.parse(path).getroot()
    by_length = sorted(case_names, key=len, reverse=True)
    results = {}
    for tc in root.iter("testcase"):
        name = tc.get("name", "")
        owner = next((c for c in by_length if name == c or name.startswith(c + "/")), name)
        problems = [child for child in tc if child.tag in ("failure", "error")]
        reason = results.get(owner, "")
        if problems and not reason:
            p = problems[0]
            # The text reads "FAILED:", the expression or signal, "at file:line".
            lines = [line.strip() for line in (p.text or "").splitlines()
                     if line.strip() and line.strip() != "FAILED:"]
            reason = " ".join(lines[:4]) or " ".join(
                x for x in (p.get("type", p.tag), p.get("message", "")) if x) or "failed"
        results[owner] = reason
    return results


def run_unit_executable(test, build_dir, prefix, tally, tmp):
    name = test["name"]
    timeout = max(int(test.get("timeout") or 30), 30) * (3 if prefix else 1)
    cases = list_test_cases(test, build_dir)
    if cases is None:
        rc, out = run_cmd(test["cmd"], test, build_dir, timeout)
        tally.report(f"{prefix}{name}", rc == 0, _exit_reason(rc, out))
        return
    report = Path(tmp) / f"{prefix.replace(':', '_')}{name}.xml"
    rc, out = run_cmd(test["cmd"] + ["-r", "junit", "-o", str(report)], test, build_dir, timeout)
    results = None
    if rc is not None and rc >= 0 and report.is_file():
        try:
            results = junit_results(report, cases)
        except ET.ParseError:
            results = None
    if results is None or any(c not in results for c in cases):
        # The executable died before writing its report (a crash, a sanitizer
        # abort, a hang): run each test case alone to find which one it was.
        results = {}
        for case in cases:
            one = Path(tmp) / f"{prefix.replace(':', '_')}{name}.one.xml"
            one.unlink(missing_ok=True)
            rc1, out1 = run_cmd(one_case_cmd(test["cmd"], case) + ["-r", "junit", "-o", str(one)],
                                test, build_dir, timeout)
            try:
                got = junit_results(one, [case]) if rc1 is not None and one.is_file() else {}
            except ET.ParseError:
                got = {}
            results[case] = got.get(case, _exit_reason(rc1, out1) or "no result reported")
    for case in cases:
        reason = results.get(case, "not run")
        tally.report(f"{prefix}{name}: {case}", reason == "", reason)
    for extra in sorted(set(results) - set(cases)):
        tally.report(f"{prefix}{name}: {extra}", results[extra] == "", results[extra])


def _exit_reason(rc, out):
    if rc == 0:
        return ""
    tail = " | ".join(line.strip() for line in out.strip().splitlines()[-3:])
    if rc is None:
        return f"timed out: {tail}"
    if rc < 0:
        return f"killed by signal {-rc}: {tail}"
    return f"exit status {rc}: {tail}"


def run_unit_tests(build_dir, prefix, tally, jobs=UNIT_JOBS):
    """Each unit-test program of build_dir, `jobs` at a time, their results
    reported in the order of their names."""
    build_dir = Path(build_dir).resolve()
    try:
        tests = unit_tests(build_dir)
    except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
        tally.report(f"{prefix}unit tests", False, str(e))
        return
    if not tests:
        tally.report(f"{prefix}unit tests", False, f"no tests of suite 'unit' in {build_dir}")
        return
    def run(test, tmp):
        results = Deferred()
        run_unit_executable(test, build_dir, prefix, results, tmp)
        return results

    with tempfile.TemporaryDirectory(prefix="sbc-unit-") as tmp, \
            concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = [pool.submit(run, t, tmp) for t in sorted(tests, key=lambda t: t["name"])]
        for r in runs:
            r.result().replay(tally)


# --------------------------------------------------------------------------
# End-to-end tests and the systemd unit


# How many e2e tests run at once, per CPU (tests/e2e/run_e2e.py -j). Most of
# an e2e test is waiting (on sipp's call durations, timers, peers): on two
# cores the plain build's 91 tests took 411 s one at a time, 140 s at -j 4
# and 112 s at -j 6 while using 0.6 of a CPU on average. The sanitized
# build's took 259 s at -j 2 and 150 s at -j 4 when they ran its sbcctl too;
# with the plain sbcctl (see run_e2e.run_tests) its 92 took 128 s at -j 6,
# using one CPU. Past what the CPUs can give, late packets and answers turn
# into timeouts and flaky failures. The tests marked serial (about 50 s) run
# alone after the others.
E2E_JOBS_PER_CPU = 3
ASAN_E2E_JOBS_PER_CPU = 3


def e2e_jobs(per_cpu):
    return max(1, per_cpu * (os.cpu_count() or 1))


def run_e2e(build_dir, tally, prefix="e2e:", jobs=1, kinds=("parallel", "serial"),
            sbcctl_build=None):
    sys.path.insert(0, str(REPO / "tests" / "e2e"))
    try:
        import run_e2e
    except Exception as e:  # the suite could not even load: one failure, not a crash
        tally.report("e2e", False, f"cannot load tests/e2e: {type(e).__name__}: {e}")
        return
    start = time.monotonic()
    run_e2e.run_tests(Path(build_dir).resolve(), jobs=jobs, kinds=kinds,
                      sbcctl_build=sbcctl_build,
                      report=lambda name, ok, reason: tally.report(
                          # A test that could not run here passes saying why.
                          f"{prefix}{name}" + (f" ({reason})" if ok and reason else ""), ok,
                          reason))
    print(f"{prefix} {'+'.join(kinds)}, {jobs} at a time: {time.monotonic() - start:.0f} s",
          file=sys.stderr, flush=True)


def run_install_and_unit(build_dir, tally):
    """`meson install` into a staging root; then the installed unit, with its
    /usr/local/sbin path pointed at the staged binary, through systemd-analyze
    verify (which insists that ExecStart names an existing executable)."""
    with tempfile.TemporaryDirectory(prefix="sbc-install-") as stage:
        name = "meson install: binaries, unit and configuration"
        r = subprocess.run(["meson", "install", "-C", str(build_dir), "--no-rebuild",
                            "--destdir", stage], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=120)
        root = Path(stage)
        expected = ["usr/local/sbin/sbcd", "usr/local/bin/sbcctl",
                    "usr/local/lib/systemd/system/sbcd.service",
                    "usr/local/lib/systemd/system/sbcd-drain.service", "etc/sbc/sbc.yaml"]
        missing = [e for e in expected if not (root / e).exists()]
        ok = r.returncode == 0 and not missing
        check = None
        if ok:
            check = subprocess.run([str(root / "usr/local/sbin/sbcd"), "--check-config",
                                    str(root / "etc/sbc/sbc.yaml")], capture_output=True,
                                   text=True, stdin=subprocess.DEVNULL, timeout=30)
            ok = check.returncode == 0
        tally.report(name, ok, f"exit {r.returncode}, missing {missing}, "
                     f"check-config: {check.stderr.strip()[:200] if check else 'not run'}")

        tool = shutil.which("systemd-analyze")
        for unit_name in ("sbcd.service", "sbcd-drain.service"):
            name = f"systemd-analyze verify systemd/{unit_name}"
            if not tool:
                tally.report(name, False,
                             "systemd-analyze is not installed (Debian package systemd)")
                continue
            # Both units go into the staging root, so that the drain unit's
            # Requisite= finds sbcd.service beside it.
            for u in ("sbcd.service", "sbcd-drain.service"):
                text = (REPO / "systemd" / u).read_text()
                for path in ("/usr/local/sbin/sbcd", "/usr/local/bin/sbcctl"):
                    text = text.replace(path, str(root / path.lstrip("/")))
                (root / u).write_text(text)
            try:
                r = subprocess.run([tool, "verify", str(root / unit_name)], capture_output=True,
                                   text=True, stdin=subprocess.DEVNULL, timeout=60)
            except subprocess.TimeoutExpired:
                tally.report(name, False, "timed out after 60 s")
                continue
            out = " | ".join(dict.fromkeys(line.strip()
                                           for line in (r.stdout + r.stderr).splitlines()
                                           if line.strip()))
            tally.report(name, r.returncode == 0 and not out,
                         f"exit status {r.returncode}: {out[:400]}")


def run_format_check(tally):
    """STYLE.md: the root .clang-format is checked in CI."""
    name = "clang-format: sources match .clang-format"
    tool = shutil.which("clang-format")
    if not tool:
        tally.report(name, False, "clang-format is not installed (Debian package clang-format)")
        return
    files = subprocess.run(["git", "ls-files", "*.cpp", "*.hpp"], cwd=str(REPO),
                           capture_output=True, text=True).stdout.split()
    bad = [f for f in files
           if subprocess.run([tool, "--dry-run", "--Werror", f], cwd=str(REPO),
                             capture_output=True).returncode != 0]
    tally.report(name, bool(files) and not bad, f"not formatted: {' '.join(bad[:10])}")


# The files of secrets a configuration names and sbcd reads at load time
# (a cluster's key and its store's password): an example names where they
# belong on a real node, which is not here.
SECRET_FILE_KEYS = re.compile(r"^(\s*(key_file|password_file):\s*)(\S+)", re.MULTILINE)


def with_stand_in_secrets(example, directory):
    """The path to check for `example`: itself, or a copy in `directory`
    whose key_file and password_file name stand-ins made for this run (a
    fresh random key: no key is kept in the repository for anyone to use)."""
    text = example.read_text()

    def stand_in(match):
        path = Path(directory) / f"{example.stem}.{match.group(2)}"
        if match.group(2) == "key_file":
            path.write_text(secrets.token_hex(32) + "\n")
        else:
            path.write_text("stand-in password\n")
        return match.group(1) + str(path)

    checked = SECRET_FILE_KEYS.sub(stand_in, text)
    if checked == text:
        return example
    copy = Path(directory) / example.name
    copy.write_text(checked)
    return copy


def run_example_configs(build_dir, tally):
    """Issue 3: every example under conf/examples passes sbcd --check-config."""
    sbcd = Path(build_dir).resolve() / "sbc" / "sbcd"
    with tempfile.TemporaryDirectory(prefix="sbc-examples-") as directory:
        for example in sorted((REPO / "conf" / "examples").glob("*.yaml")):
            checked = with_stand_in_secrets(example, directory)
            r = subprocess.run([str(sbcd), "--check-config", str(checked)],
                               capture_output=True, text=True, timeout=30)
            tally.report(f"example config {example.name} passes --check-config",
                         r.returncode == 0, f"exit status {r.returncode}: {r.stderr.strip()[:400]}")


BUILD_WAIT_S = 60 * 60


def wait_for_build(status_file, tally, name):
    """Waits for a background build stage's exit status (tools/test writes it
    to NAME.status, and the stage's output to NAME.log); True when it
    succeeded. A failure (or no status within an hour) is reported as one
    failed test named `name`, with the end of the log as its reason."""
    status_path = Path(status_file)
    deadline = time.monotonic() + BUILD_WAIT_S
    while not status_path.is_file() and time.monotonic() < deadline:
        time.sleep(1)
    status = status_path.read_text().strip() if status_path.is_file() else "none"
    if status == "0":
        return True
    tail = ""
    log_file = status_path.with_suffix(".log")
    if log_file.is_file():
        lines = log_file.read_text(errors="replace").strip().splitlines()
        tail = " | ".join(line.strip() for line in lines[-8:])
    tally.report(name, False, f"exit status {status}: {tail}")
    return False


# ThreadSanitizer (issue 20, item 9): where threads share memory, the data
# plane's workers and the control thread. TSan halts at its first report, so
# a race fails the test case it happened in. The suppressions file names only
# third-party code, each entry with its reason.
TSAN_OPTIONS = ("halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:"
                f"suppressions={REPO / 'tests' / 'tsan.supp'}")


def run_tsan_tests(build_dir, status_file, tally):
    """The unit tests of a ThreadSanitizer build that holds only the threaded
    tests' programs (tools/test builds those targets alone): each test whose
    program was built, each Catch2 test case one test prefixed "tsan:"."""
    if status_file and not wait_for_build(status_file, tally, "build with ThreadSanitizer"):
        return
    build_dir = Path(build_dir).resolve()
    try:
        tests = unit_tests(build_dir)
    except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
        tally.report("tsan:unit tests", False, str(e))
        return
    built = [t for t in tests if t.get("cmd") and Path(t["cmd"][0]).is_file()]
    if not built:
        tally.report("tsan:unit tests", False, f"no test program built in {build_dir}")
        return
    with tempfile.TemporaryDirectory(prefix="sbc-tsan-") as tmp:
        for test in sorted(built, key=lambda t: t["name"]):
            env = dict(test.get("env") or {})
            env.setdefault("TSAN_OPTIONS", TSAN_OPTIONS)
            run_unit_executable(dict(test, env=env), build_dir, "tsan:", tally, tmp)


def main():
    ap = argparse.ArgumentParser(description="Runs all tests of sbc.")
    ap.add_argument("--build", required=True, help="the normal meson build directory")
    ap.add_argument("--build-status",
                    help="a file the background build of the rest of --build (the unit "
                    "tests) writes its exit status to; the e2e programs are built already")
    ap.add_argument("--asan-build", help="a build with -Db_sanitize=address,undefined")
    ap.add_argument("--asan-e2e-build-status",
                    help="as --build-status, for --asan-build's e2e programs")
    ap.add_argument("--asan-build-status", help="as --build-status, for all of --asan-build")
    ap.add_argument("--tsan-build", help="a build with -Db_sanitize=thread of the threaded tests")
    ap.add_argument("--tsan-build-status", help="as --build-status, for --tsan-build")
    ap.add_argument("--skip-e2e", action="store_true", help="do not run the end-to-end tests")
    ap.add_argument("--e2e-jobs", type=int, default=e2e_jobs(E2E_JOBS_PER_CPU),
                    help="e2e tests at once against --build (default: %(default)s)")
    ap.add_argument("--asan-e2e-jobs", type=int, default=e2e_jobs(ASAN_E2E_JOBS_PER_CPU),
                    help="e2e tests at once against --asan-build (default: %(default)s)")
    ap.add_argument("--no-plain-unit", action="store_true",
                    help="run no unit tests in --build (tools/test: they run in --asan-build)")
    args = ap.parse_args()

    tally = Tally()
    e2e = not args.skip_e2e
    # The order follows the background builds (tools/test): each group of
    # tests starts as soon as what it runs is built. Those builds run under
    # SCHED_IDLE, which gives way at once to any test that wakes, so the e2e
    # tests marked serial (harness.serial: alone, and one measures packet
    # spacing to a millisecond or two) run beside them, after the others.
    # The serial ones wait for the plain build to be complete: the demo test
    # runs tools/demo, which runs ninja in it.
    if e2e:
        run_e2e(args.build, tally, jobs=args.e2e_jobs, kinds=("parallel",))
    plain_built = not args.build_status or wait_for_build(
        args.build_status, tally, "build of the rest of the plain build")
    if plain_built and not args.no_plain_unit:
        run_unit_tests(args.build, "", tally)
    if plain_built:
        run_install_and_unit(Path(args.build).resolve(), tally)
    if e2e and plain_built:
        run_e2e(args.build, tally, jobs=args.e2e_jobs, kinds=("serial",))
    run_example_configs(args.build, tally)
    run_format_check(tally)

    asan = args.asan_build
    if asan and args.asan_e2e_build_status and not wait_for_build(
            args.asan_e2e_build_status, tally,
            "build with AddressSanitizer and UndefinedBehaviorSanitizer"):
        asan = None  # reported once: the rest of that build needs the same code
    if asan and e2e:
        # The same calls through the sanitized sbcd: a memory error or a
        # leak in the SIP paths makes it exit non-zero, failing the test.
        # sbcctl from the plain build: see run_e2e.run_tests.
        run_e2e(asan, tally, "asan:e2e:", jobs=args.asan_e2e_jobs, sbcctl_build=args.build)
    # The ThreadSanitizer build comes before the rest of the sanitized one
    # (tools/test): its tests run in a thread while that builds, after the
    # sanitized e2e tests (some of which measure packet timing), so that all
    # that is left when the last build is over is the sanitized unit tests.
    tsan = Deferred()
    tsan_thread = None
    if args.tsan_build:
        tsan_thread = threading.Thread(
            target=run_tsan_tests, args=(args.tsan_build, args.tsan_build_status, tsan))
        tsan_thread.start()
    if asan and (not args.asan_build_status or wait_for_build(
            args.asan_build_status, tally, "build of the sanitized unit tests")):
        run_unit_tests(asan, "asan:", tally)
    if tsan_thread:
        tsan_thread.join()
        tsan.replay(tally)
    print(f"{tally.passed} passed, {tally.failed} failed", flush=True)
    return 0 if tally.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
