#!/usr/bin/env python3
"""Runs the skyfs mount-level integration tests.

    python3 tests/integration/run.py --skyfs PATH/TO/skyfs [-k PATTERN] [-v] [-j N]

Discovers tests/integration/test_*.py (unittest). Each test mounts a real
daemon on a fresh temporary state directory and mountpoint (see harness.py)
and always tears it down. Needs root (or FUSE for the user) and fusermount3.
The last line printed is "N passed, N failed" (plus ", N skipped"); the exit
status is non-zero when anything failed.

-j N (or SKYFS_TEST_JOBS) runs the test modules in N processes at once (whole
modules per process, each test with its own daemon, state directory and
mountpoint as always): most of a mount test's time is spent waiting on
sshd, fakes and jobs, so two processes on two cores take about half as long.
Each process's report is printed whole once it is done, then the sum.
"""

import argparse
import os
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class Result(unittest.TestResult):
    def __init__(self, verbose, stream):
        super().__init__()
        self.verbose = verbose
        self.stream = stream
        self.passed = []
        self._t0 = 0.0
        self._pending = []
        self._ok = True
        self._current = None

    def _line(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()

    def startTest(self, test):
        super().startTest(test)
        self._t0 = time.monotonic()
        self._pending = []
        self._ok = True
        self._current = test
        if self.verbose:
            self.stream.write("%s ... " % test.id())
            self.stream.flush()

    def _took(self):
        return "%.1fs" % (time.monotonic() - self._t0)

    # Failures can be reported before the test's cleanups ran (which is
    # where the daemon's log tail is collected): report them at stopTest.
    def _report(self, test, kind, err):
        tb = "".join(traceback.format_exception(*err)).rstrip()
        if test is not self._current:
            # a class or module fixture, outside any test
            self._line("%s: %s\n%s\n%s" % (kind, test, tb, "-" * 70))
            return
        self._ok = False
        self._pending.append((kind, tb))

    def stopTest(self, test):
        super().stopTest(test)
        self._current = None
        if self._ok and test in self.passed:
            if self.verbose:
                self._line("ok (%s)" % self._took())
            return
        if not self._pending:
            return
        kind = self._pending[0][0]
        if self.verbose:
            self._line("%s (%s)" % (kind, self._took()))
        else:
            self._line("%s: %s (%s)" % (kind, test.id(), self._took()))
        for _, tb in self._pending:
            self._line(tb)
        for log, tail in getattr(test, "log_tails", []):
            self._line("---- last lines of %s" % log)
            self._line(tail)
        self._line("-" * 70)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed.append(test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._report(test, "FAIL", err)

    def addError(self, test, err):
        super().addError(test, err)
        self._report(test, "ERROR", err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if self.verbose:
            self._line("skipped: %s" % reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed.append(test)
        if self.verbose:
            self._line("expected failure (%s)" % self._took())

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        if self.verbose:
            self._line("UNEXPECTED SUCCESS")
        else:
            self._line("UNEXPECTED SUCCESS: %s" % test.id())


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


def by_module(suite):
    """The suite's tests grouped by module, the slowest-looking first: a
    test that boots sshd nodes (clouds, ssh) takes seconds, most others a
    fraction of one."""
    modules = {}
    for t in flatten(suite):
        modules.setdefault(type(t).__module__, []).append(t)

    def weight(name):
        slow = "sshnodes" in vars(sys.modules[name]) or name == "test_hostile"
        return len(modules[name]) * (8 if slow else 1)

    return [(m, modules[m]) for m in sorted(modules, key=lambda m: (-weight(m), m))]


def claim(queue):
    """The next module index of the shared queue file (flock'd counter),
    or None when every module is taken."""
    import fcntl
    with open(queue, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        n = int(f.read() or 0)
        f.seek(0)
        f.truncate()
        f.write(str(n + 1))
    return n


def run_shards(args, count):
    """Runs count copies of this script, one shard each; prints their reports
    and the sum. The exit status as main's."""
    import re
    import subprocess
    import tempfile
    procs = []
    # every process takes the next module from one queue: the modules'
    # lengths vary too much for a fixed split
    fd, queue = tempfile.mkstemp(prefix="skyfs-it-queue-")
    os.write(fd, b"0")
    os.close(fd)
    for i in range(count):
        out = tempfile.TemporaryFile(mode="w+")
        argv = [sys.executable, os.path.abspath(__file__), "--skyfs", args.skyfs,
                "--shard", queue] + sum((["-k", k] for k in args.k), [])
        if args.verbose:
            argv.append("-v")
        procs.append((subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT), out))
    passed = failed = skipped = ran = 0
    t0 = time.monotonic()
    for i, (proc, out) in enumerate(procs):
        proc.wait()
        out.seek(0)
        text = out.read()
        out.close()
        sys.stdout.write("---- shard %d of %d\n%s" % (i + 1, count, text))
        m = re.search(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$", text, re.M)
        t = re.search(r"^\((\d+) tests in", text, re.M)
        if not m:
            failed += 1
            continue
        passed += int(m.group(1))
        failed += int(m.group(2))
        skipped += int(m.group(3) or 0)
        ran += int(t.group(1)) if t else 0
    os.unlink(queue)
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print("(%d tests in %.1fs, %d processes)" % (ran, time.monotonic() - t0, count))
    print(line)
    return 1 if failed or ran == 0 else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--skyfs", required=True, help="the skyfs binary to test")
    ap.add_argument("-k", action="append", default=[], metavar="PATTERN",
                    help="only tests whose id contains PATTERN (or matches it as a glob)")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per test")
    ap.add_argument("-j", "--jobs", type=int,
                    default=int(os.environ.get("SKYFS_TEST_JOBS", "1") or 1),
                    help="test processes at once (whole modules each)")
    ap.add_argument("--shard", help=argparse.SUPPRESS)   # the queue file of -j
    args = ap.parse_args()

    skyfs = os.path.abspath(args.skyfs)
    if not os.access(skyfs, os.X_OK):
        print("run.py: %s is not an executable" % skyfs, file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    os.environ["SKYFS_BIN"] = skyfs
    if args.jobs > 1 and not args.shard:
        args.skyfs = skyfs
        return run_shards(args, args.jobs)

    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    if args.k:
        loader.testNamePatterns = [p if any(c in p for c in "*?[") else "*%s*" % p
                                   for p in args.k]
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    result = Result(args.verbose, sys.stdout)
    t0 = time.monotonic()
    try:
        if args.shard:
            modules = by_module(suite)
            while True:
                n = claim(args.shard)
                if n >= len(modules):
                    break
                unittest.TestSuite(modules[n][1]).run(result)
        else:
            suite.run(result)
    except KeyboardInterrupt:
        print("\ninterrupted")
        result.failures.append((None, "interrupted"))
    elapsed = time.monotonic() - t0

    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    line = "%d passed, %d failed" % (len(result.passed), failed)
    if result.skipped:
        line += ", %d skipped" % len(result.skipped)
    print("(%d tests in %.1fs)" % (result.testsRun, elapsed))
    print(line)
    return 1 if failed or result.testsRun == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
