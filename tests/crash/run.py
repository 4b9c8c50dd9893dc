#!/usr/bin/env python3
"""Crash-recovery tests: SIGKILL the daemon at random points, restart it on
the same state directory, check what recovery left.

    python3 tests/crash/run.py --skyfs build/skyfs [--seed S] [--points N]
                               [--only I[,J...]] [--keep] [-v]

Each kill point runs one scenario (see README.md next to this file) against a
fresh state directory: the local provider, or the fake EC2
(tests/fakes/fake_ec2.py, one per run, instances are real sshd processes).
A seeded RNG picks the scenario, its sizes and the moment of the SIGKILL;
the daemon is then started again on the same state directory, recovery is
awaited and the invariants are checked:

  (1) no instance alive in the fake that no live pool owns (while pools live:
      every live instance is a node of a live pool; after the final rmdir and
      unmount: nothing of the point alive, no key pair or security group left)
  (2) every submitted job ends succeeded (re-run allowed, attempts counted)
      or lost/cancelled with a reason in results/<job>/status; nothing stays
      queued or running once its pool is ready again
  (3) no result claims completion while incomplete: where `exit` exists it
      is an integer and stdout is complete (ends with the job's sentinel)
  (4) no job process left over: the killed daemon's local jobs are killed by
      the recovering one, and nothing of the point runs after the unmount
  (5) the daemon answers after the restart (ls pools, cat status) and exits
      with status 0 at the final unmount
  (6) recover = resume adopts the machines still alive (aws)

Environment: SKYFS_CRASH_SEED (default: random), SKYFS_CRASH_POINTS (50),
SKYFS_CRASH_POINT_TIMEOUT (seconds one point may take, 90). The first line is
"crash: seed S, N kill points"; one line per point; the last line is
"N passed, N failed". Standard library only; needs root (FUSE, sshd nodes).
"""

import argparse
import errno
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, "integration"))
sys.path.insert(0, os.path.join(TESTS, "fakes"))

import harness  # noqa: E402
from harness import read, run_cmd  # noqa: E402

ACCESS = "AKIDSKYFSTEST"
SECRET = "skyfs/test/secret+KEY"
AWS_BASE = ("provider = aws\nregion = us-east-1\naccelerator = T4\nssh_user = skytest\n"
            "node_timeout = 5s\n")
POINT_TIMEOUT = float(os.environ.get("SKYFS_CRASH_POINT_TIMEOUT", "90"))
SETTLE_TIMEOUT = 30.0       # recovery, jobs, teardown: each at most this long
TERMINAL = ("succeeded", "failed", "cancelled", "lost")
LIVE_INSTANCE = ("pending", "running")
GONE_ERRNOS = (errno.ENOTCONN, errno.ECONNABORTED, errno.ENODEV, errno.EIO, errno.EINTR,
               errno.ENOENT)


class Violation(Exception):
    """An invariant does not hold: (number, what)."""

    def __init__(self, inv, what):
        Exception.__init__(self, "(%s) %s" % (inv, what))
        self.inv = inv
        self.what = what


def safe_read(path):
    try:
        return read(path)
    except OSError as e:
        return "<%s>" % e.strerror


def kv(text):
    return harness.kv_lines(text)


def payload_of(name, lines, pause):
    """A job printing "line 1".."line N" with pauses, then END-<name>."""
    return ("seq 1 %d | while read i; do echo \"line $i\"; sleep %s; done\n"
            "echo END-%s\n" % (lines, pause, name))


def expected_stdout(name, lines):
    return "".join("line %d\n" % i for i in range(1, lines + 1)) + "END-%s\n" % name


class Job:
    def __init__(self, pool, name, lines, pause, chunked=False):
        self.pool = pool
        self.name = name
        self.lines = lines
        self.pause = pause
        self.chunked = chunked      # written in two parts with a flush between
        self.submitted = None       # monotonic time its close() returned, or None
        self.error = None           # why its submission failed
        self.after_restart = False

    @property
    def payload(self):
        return payload_of(self.name, self.lines, self.pause)

    @property
    def stdout(self):
        return expected_stdout(self.name, self.lines)


class Pool:
    def __init__(self, name, provider, spec):
        self.name = name
        self.provider = provider    # "local" or "aws"
        self.spec = spec
        self.teardown = "recover = teardown" in spec
        self.spec_written = False
        self.rmdir_started = False
        self.removed = False
        self.jobs = {}
        self.node_ids = set()       # instance ids before the kill (aws)


class Killed(Exception):
    """The daemon was killed: the scenario's timeline stops here."""


class Point:
    """One kill point: a scenario against a fresh state directory."""

    @property
    def step(self):
        return self._step

    @step.setter
    def step(self, value):
        # where the point is (for a failure's message) and when (for -v)
        self._step = value
        self.steps.append((time.monotonic(), value))

    def __init__(self, run, idx):
        self.run = run
        self.idx = idx
        self.rng = random.Random("%s:%d" % (run.seed, idx))
        self.tmp = tempfile.mkdtemp(prefix="skyfs-crash-%d-" % idx)
        self.state = os.path.join(self.tmp, "state")
        self.mnt = os.path.join(self.tmp, "mnt")
        self.pools_dir = os.path.join(self.mnt, "pools")
        self.log = os.path.join(self.tmp, "daemon.log")
        self.marker = "p%d-%s" % (idx, os.path.basename(self.tmp).rsplit("-", 1)[-1])
        self.pools = {}
        self.daemon = None
        self.daemon_args = []
        self.env = {}
        self.phase = "start"
        self.kill_phase = None
        self.kill_at = None
        self.killing = threading.Event()
        self.killed = threading.Event()
        self.timer = None
        self.t0 = None
        self.restart_wall = None
        self.old_journal = {}
        self.old_local_pids = []
        self.steps = []
        self.step = "setup"
        self.notes = []
        self.soft_violations = []
        self.fake_before = None
        self.aborted = False

    # ---- the daemon ----

    def start_daemon(self, extra=()):
        d = harness.Daemon(self.state, self.mnt, self.log, self.env,
                           self.daemon_args + list(extra))
        self.daemon = d
        d.start(wait=True)
        return d

    def arm(self, delay):
        """The SIGKILL fires delay seconds from now."""
        self.kill_at = (time.monotonic() - self.t0) + delay
        self.timer = threading.Timer(delay, self._kill)
        self.timer.daemon = True
        self.timer.start()

    def _kill(self):
        self.kill_phase = self.phase
        self.kill_at = time.monotonic() - self.t0
        self.killing.set()
        try:
            os.kill(self.daemon.pid, signal.SIGKILL)
        except OSError:
            pass
        self.killed.set()

    def set_phase(self, phase):
        self.phase = phase
        if self.killing.is_set():
            raise Killed()

    def fs(self, fn, *args):
        """Runs a mount operation before the kill: an error after the kill
        stops the timeline; one before it is a failure."""
        if self.killing.is_set():
            raise Killed()
        try:
            return fn(*args)
        except OSError as e:
            if self.killing.is_set():
                raise Killed()
            raise Violation(5, "%s%r failed before any kill: %s" % (fn.__name__, args, e))

    def soft(self, inv, what):
        """A violation after which the point goes on (so that one daemon bug
        does not hide the next); the point fails at its end."""
        self.soft_violations.append(Violation(inv, what))

    def wait_killed(self):
        if not self.killed.wait(POINT_TIMEOUT):
            raise Violation(5, "the kill timer never fired")

    # ---- scenario steps (before the kill) ----

    def make_pool(self, name, provider, spec):
        p = Pool(name, provider, spec)
        self.pools[name] = p
        path = os.path.join(self.pools_dir, name)
        self.set_phase("mkdir")
        self.fs(os.mkdir, path)
        self.set_phase("spec write")
        self.fs(harness.write, os.path.join(path, "spec"), spec)
        p.spec_written = True
        self.set_phase("provisioning")
        return p

    def pool_path(self, pool, *rest):
        return os.path.join(self.pools_dir, pool.name, *rest)

    def submit(self, pool, job):
        pool.jobs[job.name] = job
        path = self.pool_path(pool, "jobs", job.name)
        data = job.payload.encode()
        if self.killing.is_set():
            raise Killed()
        try:
            if job.chunked:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    half = len(data) // 2
                    os.write(fd, data[:half])
                    os.close(os.dup(fd))          # a flush: submitted, not sealed
                    time.sleep(self.rng.uniform(0.05, 0.3))
                    os.write(fd, data[half:])
                finally:
                    os.close(fd)
            else:
                harness.write(path, data)
            job.submitted = time.monotonic()
        except OSError as e:
            job.error = str(e)
            if self.killing.is_set():
                raise Killed()
            raise Violation(5, "submitting %s/%s failed before any kill: %s"
                            % (pool.name, job.name, e))

    def pool_state(self, pool):
        return self.fs(harness.state, self.pool_path(pool))

    def wait_pool(self, pool, wants, timeout=SETTLE_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            s = self.pool_state(pool)
            if s in wants:
                return s
            if s in ("failed", "invalid") or time.monotonic() > deadline:
                raise Violation(5, "pool %s is %s, not %s, before any kill:\n%s"
                                % (pool.name, s, "/".join(wants),
                                   safe_read(self.pool_path(pool, "status"))))
            time.sleep(0.02)

    def wait_jobs(self, pool, timeout=SETTLE_TIMEOUT):
        deadline = time.monotonic() + timeout
        for job in list(pool.jobs.values()):
            st = self.pool_path(pool, "results", job.name, "status")
            while True:
                s = self.fs(harness.read, st).split("\n", 1)[0]
                if s in TERMINAL:
                    break
                if time.monotonic() > deadline:
                    raise Violation(2, "before any kill, job %s stays %s" % (job.name, s))
                time.sleep(0.02)

    def record_nodes(self, pool):
        if pool.provider != "aws":
            return
        try:
            for n in os.listdir(self.pool_path(pool, "nodes")):
                i = kv(read(self.pool_path(pool, "nodes", n))).get("instance")
                if i:
                    pool.node_ids.add(i)
        except OSError:
            if self.killing.is_set():
                raise Killed()
            raise

    def new_jobs(self, pool, count, prefix="j", chunked_p=0.25):
        out = []
        for _ in range(count):
            name = "%s%d" % (prefix, len(pool.jobs) + len(out))
            out.append(Job(pool, name, self.rng.randint(4, 10),
                           self.rng.choice(("0.01", "0.02")),
                           chunked=self.rng.random() < chunked_p))
        return out

    # ---- the fake cloud ----

    def mine(self, inst):
        """Whether a fake instance was made by this point's daemon."""
        return (self.state + "/") in inst["tags"].get("skyfs:mount", "")

    @staticmethod
    def tag_pool(inst):
        # skyfs:pool = "<pool slug>-<state dir hash>-<mount id>"
        return inst["tags"].get("skyfs:pool", "").rsplit("-", 2)[0]

    def live_fake(self):
        if not self.run.ec2:
            return []
        return [i for i in self.run.ec2.instances() if i["state"] in LIVE_INSTANCE]

    # ---- after the kill ----

    def after_kill(self):
        self.step = "waiting for the killed daemon"
        d = self.daemon
        if d.wait_exit(10) is None:
            raise Violation(5, "the daemon survived SIGKILL for 10 s")
        deadline = time.monotonic() + 5
        while harness.mounts_under(self.mnt) and time.monotonic() < deadline:
            time.sleep(0.01)
        if harness.mounts_under(self.mnt):
            harness.fusermount_u(self.mnt, lazy=True)
        if d._logf:
            d._logf.close()
            d._logf = None
        # what the dead daemon's journals said: jobs dispatched, not ended
        for name in self.pools:
            jpath = os.path.join(self.state, "pools", name, "journal")
            running = {}
            try:
                with open(jpath) as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) >= 5 and parts[1] == "dispatch":
                            running[parts[2]] = int(parts[4])
                        elif len(parts) >= 3 and parts[1] == "end":
                            running.pop(parts[2], None)
            except (OSError, ValueError):
                pass
            self.old_journal[name] = running
        # the dead daemon's local job processes (killed by the next one)
        self.old_local_pids = harness.processes_under(self.state)

    def restart(self, extra=()):
        self.step = "restarting the daemon"
        self.restart_wall = time.time()
        try:
            self.start_daemon(extra)
        except AssertionError as e:
            raise Violation(5, "restart: %s" % e)
        self.step = "listing the mount after the restart"
        r = self._cmd(["ls", self.pools_dir], "ls pools")
        listed = set(r.stdout.split())
        for name in sorted(listed):
            path = os.path.join(self.pools_dir, name)
            pool = self.pools.get(name)
            if pool is not None and pool.rmdir_started:
                # the recovering daemon may finish that rmdir at any moment
                r = run_cmd(["cat", os.path.join(path, "status")], timeout=10)
                if r.returncode != 0 and not os.path.isdir(path):
                    listed.discard(name)
                    continue
                if r.returncode != 0:
                    raise Violation(5, "cat pools/%s/status after the restart failed: %s"
                                    % (name, r.stderr.strip()))
                continue
            self._cmd(["cat", os.path.join(path, "status")], "cat pools/%s/status" % name)
        for name, pool in self.pools.items():
            if name not in listed:
                if pool.rmdir_started:
                    pool.removed = True
                elif pool.spec_written or any(j.submitted for j in pool.jobs.values()):
                    raise Violation(2, "pool %s (spec accepted before the kill) is gone "
                                    "after the restart" % name)
                else:
                    pool.removed = True    # its mkdir may have been cut short
        return listed

    def _cmd(self, argv, what):
        try:
            r = run_cmd(argv, timeout=10)
        except AssertionError as e:
            raise Violation(5, "%s after the restart: %s" % (what, e))
        if r.returncode != 0:
            raise Violation(5, "%s after the restart failed: %s" % (what, r.stderr.strip()))
        return r

    def vanished(self, pool):
        """Whether the pool is gone from the mount: fine for a pool whose
        rmdir the kill interrupted (the recovering daemon may finish it),
        a violation otherwise."""
        if os.path.isdir(self.pool_path(pool)):
            return False
        if pool.rmdir_started:
            pool.removed = True
            return True
        raise Violation(2, "pool %s vanished after the restart" % pool.name)

    def live_pools(self):
        return [p for p in self.pools.values() if not p.removed]

    def results_of(self, pool):
        try:
            return sorted(os.listdir(self.pool_path(pool, "results")))
        except OSError as e:
            if self.vanished(pool):
                return []
            raise Violation(5, "ls %s/results: %s" % (pool.name, e))

    def check_results_complete(self, when):
        """(3): every result that has exit is complete."""
        for pool in self.live_pools():
            for name in self.results_of(pool):
                job = pool.jobs.get(name)
                res = self.pool_path(pool, "results", name)
                ex = os.path.join(res, "exit")
                try:
                    code = read(ex)
                except FileNotFoundError:
                    if self.vanished(pool):
                        break
                    continue
                except OSError as e:
                    raise Violation(3, "%s: reading %s/%s/exit: %s" % (when, pool.name, name, e))
                if not re.fullmatch(r"-?[0-9]+\n?", code):
                    raise Violation(3, "%s: %s/%s/exit is %r, not an integer"
                                    % (when, pool.name, name, code))
                if job is None:
                    raise Violation(2, "%s: result %s/%s of a job never submitted"
                                    % (when, pool.name, name))
                st = safe_read(os.path.join(res, "status"))
                if int(code) == 0 or st.startswith("succeeded"):
                    out = safe_read(os.path.join(res, "stdout"))
                    if out != job.stdout and self.vanished(pool):
                        break
                    if out != job.stdout:
                        raise Violation(3, "%s: %s/%s has exit %s but its stdout is "
                                        "not the job's (%d bytes, want %d; ends %r)\n"
                                        "status:\n%s" % (when, pool.name, name, code.strip(),
                                                         len(out), len(job.stdout),
                                                         out[-40:], st))

    def expected_state(self, pool):
        """What a pool must come back as: ready (resume), stopped (teardown),
        or either (its spec or rmdir was cut short, its journal was lost)."""
        if pool.rmdir_started or not pool.spec_written or getattr(pool, "journal_removed",
                                                                    False):
            return ("ready", "stopped", "empty")
        if pool.teardown or self.run_teardown:
            return ("stopped",)
        return ("ready",)

    def lenient(self, pool):
        """Whether the pool's jobs may end cancelled or lost (it is not resumed)."""
        return self.expected_state(pool) != ("ready",)

    def settle(self):
        """Waits for every pool to be back (ready, or stopped for teardown)."""
        self.step = "waiting for recovery"
        for pool in self.live_pools():
            wants = self.expected_state(pool)
            deadline = time.monotonic() + SETTLE_TIMEOUT
            while True:
                s = safe_read(self.pool_path(pool, "status")).split("\n", 1)[0]
                if s in wants:
                    break
                if s.startswith("<") and self.vanished(pool):
                    break
                if time.monotonic() > deadline or s in ("failed", "invalid"):
                    raise Violation(2, "pool %s did not come back %s after the restart "
                                    "(it is %s):\n%s" % (pool.name, "/".join(wants), s,
                                                         safe_read(self.pool_path(pool,
                                                                                  "status"))))
                time.sleep(0.05)
            pool.after_state = s

    def check_fake_owned(self):
        """(1) while pools live: every live instance of this point is a node
        of a live (ready) pool; stopped pools have nothing alive."""
        if not self.run.ec2:
            return
        self.step = "checking the fake's instances"
        deadline = time.monotonic() + 8
        while True:
            problems = []
            nodes = {}
            for pool in self.live_pools():
                if pool.provider != "aws":
                    continue
                ids = set()
                try:
                    names = os.listdir(self.pool_path(pool, "nodes"))
                except OSError:
                    names = []
                for n in names:
                    try:
                        i = kv(read(self.pool_path(pool, "nodes", n))).get("instance")
                    except OSError:
                        continue   # removed meanwhile (a resize)
                    if i:
                        ids.add(i)
                nodes[pool.name] = (getattr(pool, "after_state", None), ids)
            for inst in self.live_fake():
                if not self.mine(inst):
                    problems.append("%s (%s) of another point is alive"
                                    % (inst["id"], inst["tags"].get("skyfs:pool")))
                    continue
                owner = self.tag_pool(inst)
                if owner not in nodes:
                    problems.append("%s of pool %s is %s but that pool is gone"
                                    % (inst["id"], owner, inst["state"]))
                elif nodes[owner][0] != "ready":
                    problems.append("%s of pool %s is %s but the pool is %s"
                                    % (inst["id"], owner, inst["state"], nodes[owner][0]))
                elif inst["id"] not in nodes[owner][1]:
                    problems.append("%s of pool %s is %s but is none of its nodes (%s)"
                                    % (inst["id"], owner, inst["state"],
                                       ", ".join(sorted(nodes[owner][1])) or "none"))
            if not problems:
                return
            if time.monotonic() > deadline:
                raise Violation(1, "8 s after recovery: " + "; ".join(problems))
            time.sleep(0.1)

    def check_adopted(self):
        """(6) resume adopts the aws machines alive at the kill."""
        if not self.run.ec2:
            return
        for pool in self.live_pools():
            if pool.provider != "aws" or pool.teardown or self.run_teardown or \
                    pool.rmdir_started or not pool.node_ids or \
                    getattr(pool, "journal_removed", False):
                continue
            now = set()
            for n in os.listdir(self.pool_path(pool, "nodes")):
                try:
                    i = kv(read(self.pool_path(pool, "nodes", n))).get("instance")
                except FileNotFoundError:
                    continue   # a rank a resize (scenario R) removed meanwhile
                if i:
                    now.add(i)
            alive = {i["id"] for i in self.live_fake()}
            kept = pool.node_ids & alive
            if pool.node_ids - now:
                self.soft(6, "pool %s: the nodes %s were up at the kill but not "
                                "adopted (nodes now %s, of them alive in the fake: %s)"
                                % (pool.name, ", ".join(sorted(pool.node_ids)),
                                   ", ".join(sorted(now)) or "none",
                                   ", ".join(sorted(kept)) or "none"))

    def check_stopped_pools(self):
        """A pool back as stopped: its results stay readable, nothing runs;
        sometimes its spec is written again and then its queue must run."""
        self.step = "checking the stopped pools"
        for pool in self.live_pools():
            if getattr(pool, "after_state", None) != "stopped":
                continue
            for name in self.results_of(pool):
                res = self.pool_path(pool, "results", name)
                for f in ("status", "stdout", "stderr"):
                    try:
                        read(os.path.join(res, f))
                    except OSError as e:
                        raise Violation(2, "stopped pool %s: results/%s/%s unreadable: %s"
                                        % (pool.name, name, f, e))
                s = safe_read(os.path.join(res, "status")).split("\n", 1)[0]
                if s == "running":
                    raise Violation(2, "stopped pool %s: job %s is running"
                                    % (pool.name, name))
            if pool.spec_written and self.rng.random() < 0.5:
                self.step = "writing the spec of stopped pool %s again" % pool.name
                try:
                    harness.write(self.pool_path(pool, "spec"), pool.spec)
                except OSError as e:
                    raise Violation(2, "writing the spec of stopped pool %s again: %s"
                                    % (pool.name, e))
                pool.respec = True
                deadline = time.monotonic() + SETTLE_TIMEOUT
                while True:
                    s = safe_read(self.pool_path(pool, "status")).split("\n", 1)[0]
                    if s == "ready":
                        break
                    if time.monotonic() > deadline or s in ("failed", "invalid"):
                        raise Violation(2, "stopped pool %s, its spec written again, is not "
                                        "ready (it is %s):\n%s" % (
                                            pool.name, s,
                                            safe_read(self.pool_path(pool, "status"))))
                    time.sleep(0.05)
                pool.after_state = "ready"

    def check_old_processes(self):
        """(4): the killed daemon's local job processes are gone once the
        recovering daemon has its pools back."""
        deadline = time.monotonic() + 3
        while True:
            left = [p for p in self.old_local_pids if harness.pid_alive(p)]
            if not left:
                return
            if time.monotonic() > deadline:
                return self.soft(4, "local job processes of the killed daemon still run "
                                "after recovery: %s" % ", ".join(
                                    "%d %r" % (p, harness._cmdline(p)) for p in left))
            time.sleep(0.05)

    def wait_all_jobs(self):
        """(2): every job ends; succeeded ones are complete; lost ones say why."""
        self.step = "waiting for the jobs"
        deadline = time.monotonic() + SETTLE_TIMEOUT
        for pool in self.live_pools():
            results = set(self.results_of(pool))
            for job in pool.jobs.values():
                if job.name not in results:
                    if job.submitted is not None:
                        raise Violation(2, "job %s/%s was submitted (close returned) but "
                                        "has no result after the restart"
                                        % (pool.name, job.name))
                    continue
                st_path = self.pool_path(pool, "results", job.name, "status")
                while True:
                    text = safe_read(st_path)
                    s = text.split("\n", 1)[0]
                    if s in TERMINAL:
                        break
                    if s == "queued" and getattr(pool, "after_state", None) == "stopped":
                        # a stopped pool keeps its queue until a spec is
                        # written again (README, Lifecycle)
                        break
                    if time.monotonic() > deadline:
                        raise Violation(2, "job %s/%s stays %s (pool %s):\n%s"
                                        % (pool.name, job.name, s,
                                           safe_read(self.pool_path(pool, "status"))
                                           .split("\n", 1)[0], text))
                    time.sleep(0.05)
                if s in TERMINAL:
                    self.check_job_end(pool, job, s, text)

    def check_job_end(self, pool, job, s, text):
        st = kv(text)
        where = "job %s/%s" % (pool.name, job.name)
        if s == "succeeded":
            out = safe_read(self.pool_path(pool, "results", job.name, "stdout"))
            if out != job.stdout:
                raise Violation(3, "%s succeeded but its stdout is not the job's (%d bytes, "
                                "want %d; ends %r)" % (where, len(out), len(job.stdout),
                                                       out[-40:]))
            ex = safe_read(self.pool_path(pool, "results", job.name, "exit"))
            if ex.strip() != "0":
                raise Violation(3, "%s succeeded but exit is %r" % (where, ex))
            # re-run after the restart: the attempt the dead daemon made counts
            before = None if getattr(pool, "journal_removed", False) else \
                self.old_journal.get(pool.name, {}).get(job.name)
            started = st.get("started", "")
            if before is not None and started and self.restart_wall and \
                    _iso_after(started, self.restart_wall):
                try:
                    attempts = int(st.get("attempts", "0"))
                except ValueError:
                    attempts = 0
                if attempts < before + 1:
                    self.soft(2, "%s was running (attempt %d) at the kill and ran again "
                                    "after the restart, but says attempts: %s"
                                    % (where, before, st.get("attempts")))
            return
        if s in ("lost", "cancelled") and (self.lenient(pool) or s == "lost"):
            self.notes.append("%s %s (%s)" % (where, s, st.get("error", "").strip()))
            if not st.get("error", "").strip():
                raise Violation(2, "%s ended %s without a reason in its status:\n%s"
                                % (where, s, text))
            if s == "lost" and job.submitted is not None and self.killed_at_mono and \
                    self.killed_at_mono - job.submitted > 1.0 and not self.lenient(pool):
                raise Violation(2, "%s was submitted %.1f s before the kill and ended lost "
                                "(%s)" % (where, self.killed_at_mono - job.submitted,
                                          st.get("error")))
            return
        raise Violation(2, "%s ended %s:\n%s" % (where, s, text))

    def final_teardown(self):
        """rmdir every pool, unmount: nothing may be left."""
        self.step = "final rmdir"
        for pool in self.live_pools():
            path = self.pool_path(pool)
            try:
                r = run_cmd(["rmdir", path], timeout=SETTLE_TIMEOUT)
            except AssertionError as e:
                raise Violation(5, "final rmdir %s: %s" % (pool.name, e))
            if r.returncode != 0:
                raise Violation(5, "final rmdir %s failed: %s" % (pool.name, r.stderr.strip()))
            pool.removed = True
        self.step = "final unmount"
        problem = self.daemon.stop()
        if problem:
            raise Violation(5, "at the final unmount: %s" % problem)
        self.check_nothing_left()

    def check_nothing_left(self):
        if self.run.ec2:
            deadline = time.monotonic() + 5
            while True:
                alive = [i for i in self.run.ec2.instances() if i["state"] != "terminated"]
                if not alive:
                    break
                if time.monotonic() > deadline:
                    raise Violation(1, "after the final rmdir and unmount, alive in the fake: %s"
                                    % ", ".join("%s %s (%s)" % (i["id"], i["state"],
                                                                i["tags"].get("skyfs:pool"))
                                                for i in alive))
                time.sleep(0.05)
            keys = set(self.run.ec2.key_pairs()) - self.fake_before[0]
            groups = {g["name"] for g in self.run.ec2.security_groups()} - self.fake_before[1]
            if (keys or groups) and getattr(self, "journal_delete", None):
                # nothing records them once the journal is gone: a note
                self.notes.append("left in the fake (the journal was deleted): key pairs %s, "
                                  "security groups %s" % (sorted(keys), sorted(groups)))
            elif keys or groups:
                raise Violation(1, "after the final rmdir and unmount, left in the fake: "
                                "key pairs %s, security groups %s"
                                % (sorted(keys) or "none", sorted(groups) or "none"))
        deadline = time.monotonic() + 3
        while True:
            left = [p for p in set(harness.processes_under(self.tmp) +
                                   harness.processes_with_env("CRASHPT=" + self.marker))
                    if not harness._is_fusermount(p)]
            if not left:
                break
            if time.monotonic() > deadline:
                raise Violation(4, "after the final unmount, still running: %s" % ", ".join(
                    "%d %r" % (p, harness._cmdline(p)) for p in left))
            time.sleep(0.05)
        if harness.mounts_under(self.tmp):
            raise Violation(5, "still mounted after the final unmount: %s"
                            % harness.mounts_under(self.tmp))

    # ---- the whole point ----

    def execute(self):
        sc = self.run.pick_scenario(self.rng)
        self.scenario = sc
        self.run_teardown = False
        if self.run.ec2:
            self.env = self.run.ec2.daemon_env()
            self.calls_before = len(self.run.ec2.calls)
            self.fake_before = (set(self.run.ec2.key_pairs()),
                                {g["name"] for g in self.run.ec2.security_groups()})
        self.daemon_args = ["-o", "api_timeout=2s", "-o", "sweep_interval=1s"]
        self.step = "starting the daemon"
        self.start_daemon()
        self.t0 = time.monotonic()
        self.killed_at_mono = None
        self.step = "scenario %s before the kill" % sc
        try:
            getattr(self, "scenario_" + sc.replace("-", "_"))()
            self.set_phase("idle")
            self.wait_killed()
        except Killed:
            self.wait_killed()
        self.killed_at_mono = self.t0 + self.kill_at
        self.after_kill()
        extra = []
        if getattr(self, "journal_delete", None):
            for name in self.journal_delete:
                try:
                    os.unlink(os.path.join(self.state, "pools", name, "journal"))
                except OSError:
                    pass
                self.pools[name].journal_removed = True
        if self.run_teardown:
            extra = ["-o", "recover=teardown"]
        self.restart(extra)
        self.step = "checking results right after the restart"
        self.check_results_complete("right after the restart")
        self.settle()
        self.check_old_processes()
        self.check_fake_owned()
        self.check_adopted()
        self.check_stopped_pools()
        # more work for pools that are back
        for pool in self.live_pools():
            if getattr(pool, "after_state", None) == "ready" and self.rng.random() < 0.5:
                for job in self.new_jobs(pool, self.rng.randint(1, 2), prefix="r",
                                         chunked_p=0):
                    job.after_restart = True
                    pool.jobs[job.name] = job
                    try:
                        harness.write(self.pool_path(pool, "jobs", job.name), job.payload)
                        job.submitted = time.monotonic()
                    except OSError as e:
                        raise Violation(5, "submitting %s/%s after the restart: %s"
                                        % (pool.name, job.name, e))
        self.wait_all_jobs()
        self.check_results_complete("once every job ended")
        self.check_fake_owned()
        self.final_teardown()

    def describe(self):
        return "scenario %s, kill at %.2fs during %s" % (
            self.scenario, self.kill_at or 0.0, self.kill_phase or "?")

    # ---- scenarios ----

    def local_spec(self, recover=None):
        spec = "nodes = 2\nslots = 2\nenv.CRASHPT = %s\n" % self.marker
        if recover:
            spec += "recover = %s\n" % recover
        return spec

    def aws_spec(self, recover=None):
        spec = AWS_BASE + "nodes = %d\nslots = %d\nenv.CRASHPT = %s\n" % (
            self.rng.randint(1, 3), self.rng.randint(1, 2), self.marker)
        if recover:
            spec += "recover = %s\n" % recover
        return spec

    def _local_run(self, recover):
        """mkdir, spec, K streaming jobs; the kill lands anywhere in [0, T]."""
        self.arm(self.rng.uniform(0, 1.0))
        pool = self.make_pool("a", "local", self.local_spec(recover))
        jobs = self.new_jobs(pool, self.rng.randint(4, 6))
        self.set_phase("dispatch")
        for job in jobs:
            self.submit(pool, job)
        self.set_phase("output streaming")
        self.wait_jobs(pool)
        self.set_phase("jobs done")

    def scenario_A(self):
        """local provider, recover = resume (the default)."""
        self._local_run(None)

    def scenario_A_td(self):
        """local provider, recover = teardown (spec key or -o recover=teardown)."""
        if self.rng.random() < 0.5:
            self._local_run("teardown")
        else:
            self.run_teardown = True
            self._local_run(None)

    def scenario_A_rm(self):
        """local provider, the kill lands during the pool's rmdir."""
        pool = self.make_pool("a", "local", self.local_spec())
        self.wait_pool(pool, ("ready",))
        self.set_phase("dispatch")
        for job in self.new_jobs(pool, self.rng.randint(2, 4), chunked_p=0):
            self.submit(pool, job)
        self.set_phase("output streaming")
        time.sleep(self.rng.uniform(0.0, 0.3))
        self.set_phase("rmdir")
        pool.rmdir_started = True
        self.arm(self.rng.uniform(0, 0.08))
        self.fs(os.rmdir, self.pool_path(pool))
        self.set_phase("after rmdir")

    def _aws_run(self, recover, where):
        pool_name = "b"
        spec = self.aws_spec(recover)
        if where == "provisioning":
            self.arm(self.rng.uniform(0, 1.4))
        pool = self.make_pool(pool_name, "aws", spec)
        self.wait_pool(pool, ("ready",))
        self.record_nodes(pool)
        self.set_phase("dispatch")
        jobs = self.new_jobs(pool, self.rng.randint(2, 4))
        if where == "jobs":
            self.arm(self.rng.uniform(0, 0.7))
        for job in jobs:
            self.submit(pool, job)
        self.set_phase("output streaming")
        self.wait_jobs(pool)
        self.set_phase("jobs done")
        if where == "rmdir":
            self.set_phase("rmdir")
            pool.rmdir_started = True
            self.arm(self.rng.uniform(0, 1.3))
            self.fs(os.rmdir, self.pool_path(pool))
            self.set_phase("after rmdir")
        return pool

    def scenario_B(self):
        """aws (fake), recover = resume: the kill during provisioning, jobs or rmdir."""
        self._aws_run(None, self.rng.choice(("provisioning", "jobs", "jobs", "rmdir")))

    def scenario_B_td(self):
        """aws (fake), recover = teardown: the kill during provisioning or jobs."""
        where = self.rng.choice(("provisioning", "jobs"))
        if self.rng.random() < 0.5:
            self._aws_run("teardown", where)
        else:
            self.run_teardown = True
            self._aws_run(None, where)

    def scenario_C(self):
        """aws (fake): the pool's journal is lost with the daemon (deleted
        after the kill); the orphan sweep must terminate its machines."""
        self.journal_delete = ["b"]
        self._aws_run(None, "jobs")

    def scenario_R(self):
        """aws (fake): the kill lands while a live pool grows or shrinks
        (its spec's nodes rewritten), with jobs queued and running."""
        pool = self._aws_run(None, "none")
        before = {}
        for n in self.fs(os.listdir, self.pool_path(pool, "nodes")):
            before[int(n.split("-")[1])] = kv(read(self.pool_path(pool, "nodes", n)))["instance"]
        old = len(before)
        new = self.rng.choice([k for k in (1, 2, 3) if k != old])
        # ranks both counts have are adopted whenever the kill lands
        pool.node_ids = {i for rank, i in before.items() if rank < min(old, new)}
        spec = re.sub(r"^nodes = \d+$", "nodes = %d" % new, pool.spec, flags=re.M)
        for job in self.new_jobs(pool, self.rng.randint(1, 3), chunked_p=0):
            self.submit(pool, job)
        self.set_phase("resize %d -> %d" % (old, new))
        self.arm(self.rng.uniform(0, 1.2))
        self.fs(harness.write, self.pool_path(pool, "spec"), spec)
        pool.spec = spec
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while len(self.fs(os.listdir, self.pool_path(pool, "nodes"))) != new or \
                self.pool_state(pool) != "ready":
            if time.monotonic() > deadline:
                raise Violation(5, "pool %s did not resize to %d before any kill:\n%s"
                                % (pool.name, new, safe_read(self.pool_path(pool, "status"))))
            time.sleep(0.02)
        self.wait_jobs(pool)
        self.set_phase("resized")


def _iso_after(iso, wall):
    """Whether an ISO time of the status ("2026-01-02T03:04:05.678Z") is after wall."""
    import calendar
    m = re.match(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?Z", iso)
    if not m:
        return False
    t = calendar.timegm(tuple(int(x) for x in m.groups()[:6]) + (0, 0, 0))
    t += float("0." + (m.group(7) or "0"))
    return t >= wall - 0.001


class Run:
    SCENARIOS_LOCAL = [("A", 4), ("A-td", 1), ("A-rm", 1)]
    SCENARIOS_AWS = [("B", 3), ("B-td", 1), ("C", 1), ("R", 1)]

    def __init__(self, seed, points, keep, verbose):
        self.seed = seed
        self.points = points
        self.keep = keep
        self.verbose = verbose
        self.ec2 = None
        self.fake_dir = None
        self.scenarios = list(self.SCENARIOS_LOCAL)

    def start_fake(self):
        import sshnodes
        if not sshnodes.have_sshd():
            print("crash: OpenSSH server not installed: aws scenarios left out")
            return
        from fake_ec2 import FakeEC2
        self.fake_dir = tempfile.mkdtemp(prefix="skyfs-crash-ec2-")
        self.ec2 = FakeEC2(self.fake_dir, access_key=ACCESS, secret_key=SECRET)
        self.ec2.terminate_delay = 0.1
        self.scenarios += self.SCENARIOS_AWS

    def stop_fake(self):
        if self.ec2:
            try:
                self.ec2.close()
            except RuntimeError as e:
                print("crash: fake EC2: %s" % e)
            shutil.rmtree(self.fake_dir, ignore_errors=True)

    def pick_scenario(self, rng):
        total = sum(w for _, w in self.scenarios)
        x = rng.uniform(0, total)
        for name, w in self.scenarios:
            if x < w:
                return name
            x -= w
        return self.scenarios[-1][0]

    def point(self, idx):
        pt = Point(self, idx)
        t0 = time.monotonic()
        failure = None
        watchdog = threading.Timer(POINT_TIMEOUT, self._abort, (pt,))
        watchdog.daemon = True
        watchdog.start()
        try:
            pt.execute()
        except Violation as v:
            failure = str(v)
        except Exception:
            failure = "harness error during %s:\n%s" % (pt.step, traceback.format_exc())
        finally:
            watchdog.cancel()
        if pt.soft_violations:
            first = "; ".join(str(v).split("\n", 1)[0] for v in pt.soft_violations)
            failure = first + ("; then " + failure if failure else "")
        if pt.aborted and failure:
            failure = "(5) point took over %.0f s (during %s; FUSE connection aborted): %s" % (
                POINT_TIMEOUT, pt.step, failure)
        took = time.monotonic() - t0
        if failure:
            self.report_failure(pt, failure, took)
        else:
            print("point %d: %s: ok (%.1fs)%s" % (idx, pt.describe(), took,
                                                  "".join("; note: " + n for n in pt.notes)))
        if self.verbose:
            marks = pt.steps + [(time.monotonic(), "end")]
            print("    " + ", ".join("%s %.2fs" % (name, marks[i + 1][0] - t)
                                     for i, (t, name) in enumerate(marks[:-1])))
        sys.stdout.flush()
        self.cleanup(pt, keep=bool(failure) or self.keep)
        return failure is None

    def _abort(self, pt):
        pt.aborted = True
        harness.abort_fuse_connection(pt.mnt)
        if pt.daemon and pt.daemon.running():
            try:
                os.kill(pt.daemon.pid, signal.SIGKILL)
            except OSError:
                pass

    def report_failure(self, pt, failure, took):
        print("point %d: %s: FAILED: %s, state dir kept at %s (%.1fs)"
              % (pt.idx, pt.describe(), failure.split("\n", 1)[0], pt.state, took))
        rest = failure.split("\n", 1)[1:]
        out = []
        if rest:
            out.append(rest[0])
        out.append("reproduce: python3 tests/crash/run.py --skyfs %s --seed %s --only %d"
                   % (harness.SKYFS, self.seed, pt.idx))
        log = safe_read(pt.log).splitlines()
        out.append("---- last lines of %s" % pt.log)
        out.extend(log[-40:])
        for name in pt.pools:
            ev = os.path.join(pt.state, "pools", name, "events")
            if os.path.exists(ev):
                out.append("---- %s" % ev)
                out.extend(safe_read(ev).splitlines()[-40:])
        if self.ec2:
            mine = [i for i in self.ec2.instances() if pt.mine(i)]
            if mine:
                out.append("---- the point's fake instances")
                out.extend("%s %s %s" % (i["id"], i["state"], i["tags"].get("skyfs:pool"))
                           for i in mine)
            calls = self.ec2.calls[getattr(pt, "calls_before", 0):]
            if calls:
                out.append("---- the point's EC2 API calls, in order")
                seq = []
                for action, params in calls:
                    tag = action
                    if action == "DescribeInstances" and any(
                            v == "tag-key" for v in params.values()):
                        tag += "(sweep)"
                    if seq and seq[-1][0] == tag:
                        seq[-1][1] += 1
                    else:
                        seq.append([tag, 1])
                out.append(" ".join("%s%s" % (t, " x%d" % n if n > 1 else "") for t, n in seq))
        print("\n".join("    " + ln for ln in out))

    def cleanup(self, pt, keep):
        d = pt.daemon
        if d is not None:
            d.stop()
        for m in harness.mounts_under(pt.tmp):
            harness.fusermount_u(m, lazy=True)
        for _ in range(3):
            left = [p for p in set(harness.processes_under(pt.tmp) +
                                   harness.processes_with_env("CRASHPT=" + pt.marker))
                    if not harness._is_fusermount(p)]
            if not left:
                break
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.1)
        if self.ec2:
            # what a failed point left must not fail the next ones
            for i in self.ec2.instances():
                if i["state"] in LIVE_INSTANCE and pt.mine(i):
                    try:
                        self.ec2.reclaim(i["id"])
                    except Exception:
                        pass
            with self.ec2._lock:
                for k in set(self.ec2._key_pairs) - pt.fake_before[0] if pt.fake_before else ():
                    self.ec2._key_pairs.pop(k, None)
                if pt.fake_before:
                    for gid, g in list(self.ec2._groups.items()):
                        if g["name"] not in pt.fake_before[1]:
                            self.ec2._groups.pop(gid, None)
        if not keep:
            shutil.rmtree(pt.tmp, ignore_errors=True)
            # the fake's nodes share their login user's home: the point's
            # node directories (~/.skyfs/<pool id>) would pile up there
            if self.ec2:
                home = os.path.join(self.ec2._pw.pw_dir, ".skyfs")
                for pid in {i["tags"].get("skyfs:pool", "") for i in self.ec2.instances()
                            if pt.mine(i)}:
                    if pid and "/" not in pid and not pid.startswith("."):
                        shutil.rmtree(os.path.join(home, pid), ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--skyfs", required=True, help="the skyfs binary to test")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--points", type=int, default=None)
    ap.add_argument("--only", default=None, help="run only these points (comma-separated)")
    ap.add_argument("--keep", action="store_true", help="keep every point's directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    seed = args.seed
    if seed is None and os.environ.get("SKYFS_CRASH_SEED"):
        seed = int(os.environ["SKYFS_CRASH_SEED"])
    if seed is None:
        seed = random.SystemRandom().randrange(1, 1 << 31)
    points = args.points
    if points is None:
        points = int(os.environ.get("SKYFS_CRASH_POINTS", "50"))
    which = list(range(points))
    if args.only:
        which = [int(x) for x in args.only.split(",") if x.strip()]
    print("crash: seed %d, %d kill points" % (seed, len(which)))
    sys.stdout.flush()

    skyfs = os.path.abspath(args.skyfs)
    if not os.access(skyfs, os.X_OK):
        print("crash: %s is not an executable" % skyfs)
        print("0 passed, 1 failed")
        return 1
    harness.SKYFS = skyfs
    os.environ["SKYFS_BIN"] = skyfs

    run = Run(seed, points, args.keep, args.verbose)
    passed = failed = 0
    t0 = time.monotonic()
    try:
        run.start_fake()
        for idx in which:
            if run.point(idx):
                passed += 1
            else:
                failed += 1
    except KeyboardInterrupt:
        print("interrupted")
        failed += 1
    finally:
        run.stop_fake()
    took = time.monotonic() - t0
    print("(%d kill points in %.1fs, %.2fs each)" % (passed + failed, took,
                                                    took / max(1, passed + failed)))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
