"""Helpers for the skyfs mount-level integration tests (standard library only).

Every test gets a fresh temporary directory holding the state directory, the
mountpoint and the daemon's log, and a real `skyfs -f` mounted on it. The
cleanup always unmounts, stops the daemon (SIGTERM, then SIGKILL) and kills
any job process left behind, even when the test failed; the log's tail is
kept for the runner to print on failure.

Environment:
  SKYFS_BIN          the daemon to test (run.py sets it from --skyfs)
  SKYFS_WRAPPER      optional command prefix for the daemon, e.g.
                     "env ASAN_OPTIONS=detect_leaks=1" or "valgrind -q"
  SKYFS_TEST_TIMEOUT seconds one test may take before it is failed (60)
"""

import errno
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

SKYFS = os.environ.get("SKYFS_BIN", "")
TEST_TIMEOUT = float(os.environ.get("SKYFS_TEST_TIMEOUT", "60"))
MOUNT_TIMEOUT = 15.0
EXIT_TIMEOUT = 15.0
TMP_PREFIX = "skyfs-it-"


def wrapper():
    return shlex.split(os.environ.get("SKYFS_WRAPPER", ""))


# ---- small helpers ----------------------------------------------------------

class TestTimeout(AssertionError):
    pass


def wait_for(predicate, timeout, interval=0.05, what=None):
    """Polls predicate() until it returns something truthy (returned), or
    fails the test after timeout seconds, naming what (a string or a callable
    giving one) and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            desc = what() if callable(what) else what
            raise AssertionError("timed out after %.1fs waiting for %s (last value: %r)"
                                 % (timeout, desc or getattr(predicate, "__name__", "?"),
                                    last))
        time.sleep(interval)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def read(path):
    return read_bytes(path).decode("utf-8", "surrogateescape")


def write(path, data, mode=None):
    """Writes data (str or bytes) to path in one open/write/close."""
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)


def errno_of(fn, *args, **kw):
    """Runs fn; returns the errno of the OSError it raised, or None."""
    try:
        fn(*args, **kw)
    except OSError as e:
        return e.errno
    return None


def state(pool_dir):
    """First line of pool_dir/status: the pool's state word."""
    return read(os.path.join(pool_dir, "status")).split("\n", 1)[0]


def job_state(pool_dir, name):
    return read(os.path.join(pool_dir, "results", name, "status")).split("\n", 1)[0]


def kv_lines(text):
    """The "key: value" lines of a status-like text, as a dict."""
    out = {}
    for line in text.splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            out.setdefault(k, v)
    return out


def tried_lines(plan):
    """The "tried" section of a plan's text: one line per candidate tried."""
    out, on = [], False
    for ln in plan.splitlines():
        if ln.startswith("tried"):
            on = True
            continue
        if on and ln.strip():
            out.append(ln.strip())
    return out


def run_cmd(args, timeout=10, env=None, input=None, cwd=None):
    """Runs a command with a hard timeout. Returns CompletedProcess (text).
    Unlike subprocess.run, never waits without a bound after a timeout."""
    p = subprocess.Popen(args, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                         start_new_session=True)
    try:
        out, err = p.communicate(input=input.encode() if isinstance(input, str) else input,
                                 timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            p.communicate(timeout=3)
        except subprocess.TimeoutExpired:
            pass
        raise AssertionError("command %r did not finish within %ss" % (args, timeout))
    return subprocess.CompletedProcess(args, p.returncode,
                                       out.decode("utf-8", "surrogateescape"),
                                       err.decode("utf-8", "surrogateescape"))


# ---- processes ---------------------------------------------------------------

def _pids():
    for d in os.listdir("/proc"):
        if d.isdigit():
            yield int(d)


def proc_stat(pid):
    """(state letter, pgid) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            s = f.read().decode("ascii", "replace")
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[2])


def pid_alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def processes_in_pgid(pgid, include_zombies=False):
    """Pids whose process group is pgid (zombies left out unless asked)."""
    out = []
    for pid in _pids():
        st = proc_stat(pid)
        if st and st[1] == pgid and (include_zombies or st[0] not in ("Z", "X")):
            out.append(pid)
    return out


def _read_proc(pid, what):
    try:
        with open("/proc/%d/%s" % (pid, what), "rb") as f:
            return f.read()
    except OSError:
        return b""


def processes_with_cmdline(needle):
    """Live pids whose command line contains needle (str)."""
    n = needle.encode()
    me = os.getpid()
    return [pid for pid in _pids()
            if pid != me and n in _read_proc(pid, "cmdline").replace(b"\0", b" ")
            and pid_alive(pid)]


def processes_with_env(needle):
    """Live pids whose environment contains needle (str), e.g. "SKY_POOL=p"."""
    n = needle.encode()
    me = os.getpid()
    return [pid for pid in _pids()
            if pid != me and n in _read_proc(pid, "environ") and pid_alive(pid)]


def processes_under(path):
    """Live pids (not us) whose environment, command line or cwd mention path:
    the jobs a daemon whose state directory is under path started."""
    n = path.encode()
    me = os.getpid()
    out = []
    for pid in _pids():
        if pid == me:
            continue
        try:
            cwd = os.readlink("/proc/%d/cwd" % pid).encode()
        except OSError:
            cwd = b""
        if (n in _read_proc(pid, "environ") or n in _read_proc(pid, "cmdline") or
                cwd.startswith(n)) and pid_alive(pid):
            out.append(pid)
    return out


def _cmdline(pid):
    return _read_proc(pid, "cmdline").replace(b"\0", b" ").decode("utf-8", "replace").strip()


def _is_fusermount(pid):
    return os.path.basename(_read_proc(pid, "cmdline").split(b"\0")[0]) == b"fusermount3"


def mounts_under(path):
    out = []
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                mnt = line.split()[1].replace("\\040", " ")
                if mnt == path or mnt.startswith(path.rstrip("/") + "/"):
                    out.append(mnt)
    except OSError:
        pass
    return out


def abort_fuse_connection(mnt):
    """Last resort for a hung mount: abort its FUSE connection."""
    try:
        dev = os.stat(mnt).st_dev
    except OSError:
        return
    path = "/sys/fs/fuse/connections/%d/abort" % os.minor(dev)
    try:
        with open(path, "w") as f:
            f.write("1")
    except OSError:
        pass


def fusermount_u(mnt, lazy=False, timeout=10):
    args = ["fusermount3", "-uz" if lazy else "-u", mnt]
    try:
        return run_cmd(args, timeout=timeout)
    except AssertionError as e:
        return subprocess.CompletedProcess(args, -1, "", str(e))


# ---- the daemon --------------------------------------------------------------

class Daemon:
    """One `skyfs -f -o state=STATE MNT`, output to a log file."""

    def __init__(self, state_dir, mnt, log, env=None, args=()):
        self.state_dir = state_dir
        self.mnt = mnt
        self.log = log
        # hermetic: no cloud credentials, profile or endpoint of the machine
        # running the tests reaches the daemon; a test gives its own
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("AWS_", "RUNPOD_", "VAST_", "LAMBDA_", "SKYFS_"))}
        self.env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(state_dir, "no-aws-credentials")
        self.env["AWS_CONFIG_FILE"] = os.path.join(state_dir, "no-aws-config")
        if env:
            self.env.update(env)
        self.args = list(args)
        self.proc = None
        self._logf = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def argv(self):
        return wrapper() + [SKYFS, "-f", "-o", "state=" + self.state_dir] + self.args + [self.mnt]

    def start(self, wait=True):
        os.makedirs(self.mnt, exist_ok=True)
        self._logf = open(self.log, "ab")
        self._logf.write(("=== %s\n" % " ".join(shlex.quote(a) for a in self.argv())).encode())
        self._logf.flush()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)
        if wait:
            self.wait_mounted()
        return self

    def wait_mounted(self, timeout=MOUNT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while not os.path.ismount(self.mnt):
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError("skyfs exited with %d before mounting %s"
                                     % (rc, self.mnt))
            if time.monotonic() > deadline:
                raise AssertionError("%s not mounted after %.0fs" % (self.mnt, timeout))
            time.sleep(0.02)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def mounted(self):
        return os.path.ismount(self.mnt)

    def unmount(self, timeout=10):
        """fusermount3 -u; returns its CompletedProcess."""
        return fusermount_u(self.mnt, timeout=timeout)

    def wait_exit(self, timeout=EXIT_TIMEOUT):
        """The daemon's exit status, or None if it still runs after timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Unmounts and ends the daemon whatever its state; never raises.
        Returns what went wrong with a daemon that was still running (its
        exit status after the unmount was not 0, or it had to be killed),
        else None."""
        if self.proc is None:
            return None
        problem = None
        was_running = self.running()
        try:
            if self.running() and self.mounted():
                r = fusermount_u(self.mnt, timeout=10)
                if r.returncode != 0:
                    problem = "fusermount3 -u failed (%s); unmounted lazily" % r.stderr.strip()
                    fusermount_u(self.mnt, lazy=True, timeout=10)
            rc = self.wait_exit(EXIT_TIMEOUT)
            if was_running and rc is None:
                problem = "the daemon did not exit within %.0fs of the unmount" % EXIT_TIMEOUT
            elif was_running and rc != 0 and problem is None:
                problem = "the daemon exited with status %d after the unmount" % rc
            if rc is None:
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(self.proc.pid, sig)
                    except OSError:
                        pass
                    if self.wait_exit(5) is not None:
                        break
                    if sig == signal.SIGKILL:
                        abort_fuse_connection(self.mnt)
                        self.wait_exit(5)
        finally:
            if self.mounted():
                fusermount_u(self.mnt, lazy=True, timeout=10)
            if self._logf:
                self._logf.close()
                self._logf = None
        return problem

    def log_text(self):
        try:
            return read(self.log)
        except OSError:
            return ""


def _on_alarm(signum, frame):
    raise TestTimeout("test took longer than %.0fs" % TEST_TIMEOUT)


# ---- the test case base ------------------------------------------------------

class SkyfsTestCase(unittest.TestCase):
    """Starts a fresh daemon per test; cleanup always tears it down.

    self.tmp     the test's temporary directory
    self.state   its state directory    self.mnt   its mountpoint
    self.pools   self.mnt + "/pools"    self.daemon the running Daemon
    """
    daemon_env = None      # extra environment for the daemon
    daemon_args = ()       # extra daemon arguments, e.g. ("-o", "catalog_max_age=1d")
    autostart = True

    def setUp(self):
        if not SKYFS:
            self.fail("SKYFS_BIN is not set (run through run.py --skyfs PATH)")
        self.tmp = tempfile.mkdtemp(prefix=TMP_PREFIX)
        self.state = os.path.join(self.tmp, "state")
        self.mnt = os.path.join(self.tmp, "mnt")
        self.pools = os.path.join(self.mnt, "pools")
        self.daemons = []
        self.log_tails = []
        self.leftovers = []
        self._leftover_cmd = {}
        self.addCleanup(self._cleanup)
        if TEST_TIMEOUT > 0 and hasattr(signal, "SIGALRM"):
            signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)
        self.daemon = self.start_daemon() if self.autostart else None

    def _cleanup(self):
        if hasattr(signal, "SIGALRM"):
            signal.setitimer(signal.ITIMER_REAL, 0)
        problems = []
        for d in reversed(self.daemons):
            problem = d.stop()
            if problem:
                problems.append("%s (log %s)" % (problem, os.path.basename(d.log)))
        # jobs a daemon failed to take down: kill them, remember them.
        # libfuse's auto_unmount helper (fusermount3) goes by itself.
        deadline = time.monotonic() + 2
        while processes_under(self.tmp) and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(3):
            left = processes_under(self.tmp)
            if not left:
                break
            for p in left:
                if not _is_fusermount(p) and p not in self.leftovers:
                    self.leftovers.append(p)
                    self._leftover_cmd[p] = _cmdline(p)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.2)
        if self.leftovers:
            problems.append("processes left behind (killed): %s" % ", ".join(
                "%d %r" % (p, self._leftover_cmd.get(p, "")) for p in self.leftovers))
        for mnt in mounts_under(self.tmp):
            problems.append("%s still mounted" % mnt)
            fusermount_u(mnt, lazy=True)
        for d in self.daemons:
            text = d.log_text()
            if text:
                self.log_tails.append((d.log, "\n".join(text.splitlines()[-40:])))
        shutil.rmtree(self.tmp, ignore_errors=True)
        if problems:
            raise AssertionError("at teardown: " + "; ".join(problems))

    # -- daemons

    def start_daemon(self, state_dir=None, mnt=None, env=None, wait=True, args=()):
        """Starts another daemon; args (e.g. ["-o", "catalog_max_age=100000d"])
        come after the class's daemon_args, before the mountpoint."""
        e = dict(self.daemon_env or {})
        e.update(env or {})
        d = Daemon(state_dir or self.state, mnt or self.mnt,
                   os.path.join(self.tmp, "daemon-%d.log" % len(self.daemons)), e,
                   list(self.daemon_args) + list(args))
        self.daemons.append(d)
        d.start(wait=wait)
        return d

    # -- paths and pools

    def pool_path(self, name, *rest):
        return os.path.join(self.pools, name, *rest)

    def make_pool(self, name, spec=None, wait_state="ready", timeout=10):
        """mkdir pools/NAME, write spec, wait until its state is wait_state."""
        path = self.pool_path(name)
        os.mkdir(path)
        if spec is not None:
            write(os.path.join(path, "spec"), spec)
            if wait_state:
                self.wait_state(path, wait_state, timeout)
        return path

    def wait_state(self, pool_dir, want, timeout=10):
        wants = (want,) if isinstance(want, str) else tuple(want)

        def check():
            s = state(pool_dir)
            return s if s in wants else None
        return wait_for(check, timeout, what=lambda: "pool %s state in %s (status:\n%s)"
                        % (os.path.basename(pool_dir), wants,
                           _safe_read(os.path.join(pool_dir, "status"))))

    def wait_job_state(self, pool_dir, name, want, timeout=10):
        wants = (want,) if isinstance(want, str) else tuple(want)
        path = os.path.join(pool_dir, "results", name, "status")

        def check():
            s = job_state(pool_dir, name)
            return s if s in wants else None
        return wait_for(check, timeout, what=lambda: "job %s state in %s (status:\n%s)"
                        % (name, wants, _safe_read(path)))

    def submit(self, pool_dir, name, payload, broadcast=False):
        """Writes payload (str/bytes) into jobs/NAME (or broadcast/NAME)."""
        path = os.path.join(pool_dir, "broadcast" if broadcast else "jobs", name)
        write(path, payload)
        return os.path.join(pool_dir, "results", name)

    def wait_exit_file(self, pool_dir, name, timeout=15, node=None):
        """Polls for results/NAME/exit (written last) and returns its code."""
        rel = [pool_dir, "results", name] + ([node] if node else []) + ["exit"]
        path = os.path.join(*rel)
        wait_for(lambda: os.path.exists(path), timeout, what=path)
        return int(read(path).strip())

    def cat_wait(self, pool_dir, name, timeout=15):
        """`cat results/NAME/wait` with a timeout: returns its output."""
        r = run_cmd(["cat", os.path.join(pool_dir, "results", name, "wait")], timeout=timeout)
        self.assertEqual(r.returncode, 0, "cat wait failed: %s" % r.stderr)
        return r.stdout

    def assertWait(self, pool_dir, name, want, timeout=15):
        """`cat results/NAME/wait` prints want; else fail showing the job's
        status and stderr."""
        got = self.cat_wait(pool_dir, name, timeout)
        if got != "%d\n" % want:
            res = os.path.join(pool_dir, "results", name)
            self.fail("job %s: wait printed %r, expected %d\n-- status:\n%s-- stderr:\n%s"
                      % (name, got, want, _safe_read(os.path.join(res, "status")),
                         _safe_read(os.path.join(res, "stderr"))[-2000:]))

    def assertNotInMount(self, *secrets):
        """None of secrets is in any file under the mount (the jobs' own
        payloads aside) or in the daemon's log."""
        for root, _, files in os.walk(self.mnt):
            for f in files:
                p = os.path.join(root, f)
                if "/jobs/" in p or "/broadcast/" in p:
                    continue
                try:
                    text = read(p)
                except OSError:
                    continue
                for secret in secrets:
                    self.assertNotIn(secret, text, p)
        log = self.daemon.log_text()
        for secret in secrets:
            self.assertNotIn(secret, log)

    def assertErrno(self, want, fn, *args, **kw):
        got = errno_of(fn, *args, **kw)
        self.assertEqual(got, want, "expected %s, got %s" % (
            errno.errorcode.get(want, want),
            errno.errorcode.get(got, got) if got is not None else "success"))


def _safe_read(path):
    try:
        return read(path)
    except OSError as e:
        return "<%s>" % e
