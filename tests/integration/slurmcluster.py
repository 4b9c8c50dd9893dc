"""A real one-node Slurm 22.05 cluster for tests (standard library only).

    from slurmcluster import SlurmCluster, have_slurm

    with SlurmCluster(workdir, cpus=2, gres="gpu:a100:2") as c:   # started, node idle
        c.url                                  # "http://127.0.0.1:27202" (slurmrestd, JWT)
        tok = c.token()                        # JWT for root (scontrol token)
        status, body = c.api("GET", "jobs")    # /slurm/v0.0.38/jobs with root's token
        c.conf, c.env()                        # slurm.conf; {"SLURM_CONF": ...} for srun
        jobid = c.sbatch(["--wrap", "sleep 100"])
        c.squeue()                             # [{"id", "name", "state", "reason", "user"}]
        c.scancel(jobid)
        c.command(["srun", "--overlap", "--jobid=%d" % jobid, "true"])

SlurmCluster(workdir, cpus=2, gres=None, local_socket=False, memory=None,
             sched_params=TEST_SCHED_PARAMS).

What it owns (started as root, stopped by pid in stop(), never by name):
- slurmctld -D and slurmd -D of a one-node cluster: NodeName `hostname -s`,
  NodeAddr 127.0.0.1, CPUs=cpus, partition "debug", ClusterName "skyt<port>";
  SlurmctldPort, SlurmdPort and the slurmrestd port come from 27200-27999
  (below the ephemeral range), each claimed with an flock on
  /run/slurmcluster/port_<port>.lock for the object's lifetime, so that
  several clusters (other test runs, a hand-made one on 6817/6818) coexist;
- slurmrestd `-s openapi/v0.0.38 -a rest_auth/jwt 127.0.0.1:<port>` running
  as the dedicated user `skyslurm` (created if missing: slurmrestd refuses
  root) with SLURM_JWT=daemon; the cluster has AuthAltTypes=auth/jwt and
  AuthAltParameters=jwt_key=<workdir>/jwt.key;
- with local_socket=True, a second slurmrestd `-a rest_auth/local` on the unix
  socket `socket` (also as skyslurm). It accepts root and skyslurm peers but
  acts as skyslurm for both (jobs submitted there belong to skyslurm), so
  tests use the TCP+JWT one;
- the jobs' slurmstepd processes (slurmd forks them off, they are not its
  descendants) and everything below them, found by the marker
  SKYFS_SLURMCLUSTER=<cluster>:<workdir> in the daemons' environment;
- munged: reused when one answers on /run/munge/munge.socket.2 (then never
  stopped); started as user munge only when none answers, and then stopped
  by the last SlurmCluster (of any process) that releases it (shared flock on
  /run/slurmcluster/munged-<dev>-<ino>.lock, named after /run/munge, and the
  pid in munged-<dev>-<ino>.started next to it).

Everything else lives under `workdir`, which the caller owns and removes:
slurm.conf, gres.conf and dev/ (gres), jwt.key (0600), state/, spool/,
slurmctld.pid, slurmd.pid, restd/ (the unix socket) and the logs
slurmctld.log, slurmd.log, slurmrestd.log, slurmrestd-local.log, munged.log,
slurmctld.out.log and slurmd.out.log (stdout/stderr: a copy of their log plus
what they say before opening it). workdir and its parents in the temporary
directory get o+x (search only): slurmrestd reads slurm.conf as skyslurm.

gres="gpu:a100:2" (or "gpu:2") adds GresTypes=gpu, Gres= on the node and a
gres.conf `Name=gpu Type=a100 File=<workdir>/dev/gpu0,<workdir>/dev/gpu1`:
fake devices, character devices with /dev/null's numbers (Count= without
File= does not work for gpu in 22.05: the node reports 0 and is drained).
GET nodes then reports "gres": "gpu:a100:2", and a job with --gres=gpu:1
gets CUDA_VISIBLE_DEVICES=0 and SLURM_JOB_GPUS=0.

memory=N (MB, at most the machine's) sets RealMemory=N; without it the node
has 1 MB and a job asking for memory (memory_per_node=100) is refused
("Requested node configuration is not available"). Memory is not consumable.

sched_params is the SchedulerParameters= value. The default,
TEST_SCHED_PARAMS = "batch_sched_delay=0,sched_min_interval=0", is tuned for
fast batch starts so that tests do not wait on the scheduler: a job starts
about 0.5 s after submission (the first one after start takes about 2 s).
It is not Slurm's default: batch_sched_delay defaults to 3 s (how long a batch
job's scheduling may be deferred), and sched_min_interval to 2 us. None or ""
writes no SchedulerParameters line at all, i.e. Slurm's defaults (what
scripts/bench-slurm.sh measures its baseline against).

Settings worth knowing: KillWait=3 (cancel: SIGTERM, SIGKILL 3 s later),
MinJobAge=300 (ended jobs stay visible to GET job/{id} for 5 minutes),
SchedulerParameters=<sched_params> (above),
ProctrackType=proctrack/linuxproc, TaskPlugin=task/none, no accounting
(account and qos are not checked). Every subprocess call and every wait has
a timeout; a failed start raises RuntimeError with the daemons' log tails
(at once when the node is drained or invalid).
"""

import errno
import fcntl
import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from sshnodes import (Fixture, _all_pids, _environ, _signal, can_bind, descendants,
                      make_searchable, pid_alive, run)

SLURMCTLD = "/usr/sbin/slurmctld"
SLURMD = "/usr/sbin/slurmd"
SLURMRESTD = "/usr/sbin/slurmrestd"
MUNGED = "/usr/sbin/munged"
CLIENTS = ("sinfo", "squeue", "scancel", "sbatch", "scontrol", "srun")

API = "/slurm/v0.0.38/"
REST_USER = "skyslurm"
PARTITION = "debug"
LOCK_DIR = "/run/slurmcluster"
PORTS = range(27200, 28000)
MUNGE_SOCKET = "/run/munge/munge.socket.2"
MARK_VAR = "SKYFS_SLURMCLUSTER"
# SchedulerParameters for tests (fast batch starts; Slurm's default
# batch_sched_delay is 3 s): see the module docstring, sched_params
TEST_SCHED_PARAMS = "batch_sched_delay=0,sched_min_interval=0"

START_TIMEOUT = 30.0   # until the node is idle and slurmrestd answers ping
TERM_GRACE = 5.0       # SIGTERM, then SIGKILL after this long
CMD_TIMEOUT = 15.0     # scontrol, squeue, sbatch, ...


def _which(name):
    for d in os.environ.get("PATH", "/usr/bin:/bin").split(":") + ["/usr/bin", "/usr/sbin"]:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def have_slurm():
    """True when the daemons (slurmctld, slurmd, slurmrestd, munged) and the
    client commands are installed."""
    return (all(os.access(p, os.X_OK) for p in (SLURMCTLD, SLURMD, SLURMRESTD, MUNGED))
            and all(_which(c) for c in CLIENTS + ("munge",)))


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def marked_pids(mark):
    """Live pids whose environment holds MARK_VAR=mark (the daemons and the
    slurmstepd processes that slurmd forked, which are not its descendants),
    plus everything below them."""
    tag = ("%s=%s" % (MARK_VAR, mark)).encode()
    found = []
    for pid in _all_pids():
        if pid != os.getpid() and tag in _environ(pid).split(b"\0") and pid_alive(pid):
            found.append(pid)
    out = list(found)
    for pid in found:
        out += [p for p in descendants(pid) if p not in out]
    return out


def log_tail(path, lines=25):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def _lock(path, mode=fcntl.LOCK_EX, timeout=30.0):
    """An fd holding flock(mode) on path, polling up to timeout; None when
    mode has LOCK_NB and it is taken."""
    os.makedirs(LOCK_DIR, mode=0o755, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, (mode & ~fcntl.LOCK_NB) | fcntl.LOCK_NB)
            return fd
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                os.close(fd)
                raise
        if mode & fcntl.LOCK_NB:
            os.close(fd)
            return None
        if time.monotonic() >= deadline:
            os.close(fd)
            raise RuntimeError("SlurmCluster: lock %s still taken after %.0fs" % (path, timeout))
        time.sleep(0.05)


def claim_port(port):
    """Takes port (on every address) until release_claim(fd): an exclusive
    flock on /run/slurmcluster/port_<port>.lock and bind probes on 0.0.0.0 and
    127.0.0.1. Returns the lock's fd, or None when the port is taken."""
    fd = _lock(os.path.join(LOCK_DIR, "port_%d.lock" % port), fcntl.LOCK_EX | fcntl.LOCK_NB)
    if fd is None:
        return None
    if not (can_bind("0.0.0.0", port) and can_bind("127.0.0.1", port)):
        os.close(fd)
        return None
    return fd


def release_claim(fd):
    if fd is not None:
        os.close(fd)


# ---- munged ---------------------------------------------------------------------

_MUNGE_MUTEX = os.path.join(LOCK_DIR, "munged.mutex")


def _munge_files():
    """(users lock, started mark) for the munged serving MUNGE_SOCKET, named
    after the socket directory's device and inode: "munged-<dev>-<ino>.lock"
    and ".started", so that a private /run/munge (another mount namespace)
    gets its own count."""
    d = os.path.dirname(MUNGE_SOCKET)
    try:
        st = os.stat(d)
        key = "%x-%x" % (st.st_dev, st.st_ino)
    except OSError:
        key = "none"
    base = os.path.join(LOCK_DIR, "munged-%s" % key)
    return base + ".lock", base + ".started"


def munge_works():
    """True when a munged answers on the default socket (`munge -n`)."""
    try:
        return run(["munge", "-n", "-S", MUNGE_SOCKET], timeout=5).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def acquire_munged(log):
    """Makes sure munged answers (starting it as user munge, in the foreground
    and its own session, when none does) and registers this caller as a user
    of it. Returns (users fd, Popen or None) for release_munged()."""
    mutex = _lock(_MUNGE_MUTEX)
    try:
        proc = None
        if not munge_works():
            pw = pwd.getpwnam("munge")
            d = os.path.dirname(MUNGE_SOCKET)
            os.makedirs(d, mode=0o755, exist_ok=True)
            os.chown(d, pw.pw_uid, pw.pw_gid)
            with open(log, "ab") as f:
                proc = subprocess.Popen([MUNGED, "--foreground", "--force",
                                         "--socket=%s" % MUNGE_SOCKET],
                                        stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                        user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                                        start_new_session=True)
            deadline = time.monotonic() + 10
            while not munge_works():
                if proc.poll() is not None or time.monotonic() >= deadline:
                    if proc.poll() is None:
                        _signal(proc.pid, signal.SIGKILL)
                    try:
                        proc.wait(timeout=3)
                    except subprocess.TimeoutExpired:
                        pass
                    raise RuntimeError("SlurmCluster: munged did not start (status %s); "
                                       "log %s:\n%s" % (proc.returncode, log, log_tail(log)))
                time.sleep(0.05)
        users_path, mark = _munge_files()
        if proc is not None:
            with open(mark, "w") as f:
                f.write("%d\n" % proc.pid)
        users = _lock(users_path, fcntl.LOCK_SH)
        return (users, users_path, mark), proc
    finally:
        os.close(mutex)


def release_munged(users, proc):
    """Drops this caller's use of munged; when nobody else uses it and a
    SlurmCluster started it (the pid in munged.started is still a munged),
    stops it. A munged started by anyone else is never touched."""
    if users is None:
        return
    users, users_path, mark = users
    mutex = _lock(_MUNGE_MUTEX)
    try:
        os.close(users)
        alone = _lock(users_path, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if alone is None:
            return
        try:
            try:
                with open(mark) as f:
                    pid = int(f.read().strip())
            except (OSError, ValueError):
                return
            if pid_alive(pid) and "munged" in _cmdline(pid):
                _signal(pid, signal.SIGTERM)
                deadline = time.monotonic() + TERM_GRACE
                while pid_alive(pid) and time.monotonic() < deadline:
                    if proc is not None and proc.pid == pid:
                        proc.poll()
                    time.sleep(0.02)
                if pid_alive(pid):
                    _signal(pid, signal.SIGKILL)
            if proc is not None and proc.pid == pid:
                try:
                    proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    pass
            os.unlink(mark)
        finally:
            os.close(alone)
    finally:
        os.close(mutex)


# ---- the REST user ----------------------------------------------------------------

def ensure_rest_user(user=REST_USER):
    """The dedicated non-root user slurmrestd runs as (a system user without
    login, created when missing; needs root). Returns its pwd entry."""
    try:
        return pwd.getpwnam(user)
    except KeyError:
        pass
    if os.geteuid() != 0:
        raise RuntimeError("SlurmCluster: user %s does not exist and creating it needs root" % user)
    r = run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", user])
    try:
        return pwd.getpwnam(user)     # also fine when a concurrent run created it
    except KeyError:
        raise RuntimeError("SlurmCluster: useradd %s failed: %s" % (user, r.stderr.strip()))


def parse_gres(gres):
    """"gpu:a100:2" -> ("gpu", "a100", 2); "gpu:2" -> ("gpu", None, 2)."""
    parts = gres.split(":")
    if len(parts) == 3:
        name, type_, count = parts
    elif len(parts) == 2:
        (name, count), type_ = parts, None
    else:
        raise ValueError("SlurmCluster: gres must be NAME:[TYPE:]COUNT, not %r" % gres)
    return name, type_, int(count)


# ---- the cluster ------------------------------------------------------------------

class SlurmCluster(Fixture):
    """A one-node Slurm cluster with slurmrestd; a context manager (start / stop).

    Attributes: workdir, cpus, gres, node, cluster (ClusterName), ctld_port,
    slurmd_port, rest_port, conf, url, socket (unix socket of the rest_auth/local
    slurmrestd, or None), logs (name -> path), pids_seen, sched_params
    (SchedulerParameters= value; None or "": Slurm's defaults)."""

    def __init__(self, workdir, cpus=2, gres=None, local_socket=False, memory=None,
                 sched_params=TEST_SCHED_PARAMS):
        self.workdir = os.path.abspath(workdir)
        self.cpus = int(cpus)
        self.memory = memory
        self.sched_params = sched_params or None
        self.gres = gres
        self.node = socket.gethostname().split(".")[0]
        self.local_socket = local_socket
        self.conf = os.path.join(self.workdir, "slurm.conf")
        self.gres_conf = os.path.join(self.workdir, "gres.conf")
        self.jwt_key = os.path.join(self.workdir, "jwt.key")
        self.state = os.path.join(self.workdir, "state")
        self.spool = os.path.join(self.workdir, "spool")
        self.restd_dir = os.path.join(self.workdir, "restd")
        self.socket = os.path.join(self.restd_dir, "slurmrestd.sock") if local_socket else None
        self.logs = {name: os.path.join(self.workdir, name + ".log")
                     for name in ("slurmctld", "slurmd", "slurmctld.out", "slurmd.out",
                                  "slurmrestd", "slurmrestd-local", "munged")}
        self.pids_seen = set()
        self._claims = []
        self._procs = {}            # name -> Popen
        self._munge = (None, None)
        self._token = None
        self.timings = {}

        if gres is not None:
            parse_gres(gres)
        os.makedirs(self.workdir, exist_ok=True)
        self._pw = ensure_rest_user()
        make_searchable(self.workdir, "SlurmCluster: slurmrestd (user %s) could not read %s"
                        % (REST_USER, self.conf))
        try:
            self.ctld_port, self.slurmd_port, self.rest_port = self._pick_ports(3)
        except BaseException:
            self.close()
            raise
        self.cluster = "skyt%d" % self.ctld_port
        self.mark = "%s:%s" % (self.cluster, self.workdir)
        self.url = "http://127.0.0.1:%d" % self.rest_port

    def _pick_ports(self, n):
        low = _ephemeral_low()
        got = []
        for port in PORTS:
            if port >= low:
                break
            fd = claim_port(port)
            if fd is not None:
                self._claims.append(fd)
                got.append(port)
                if len(got) == n:
                    return got
        raise RuntimeError("SlurmCluster: fewer than %d free ports in %d-%d"
                           % (n, PORTS[0], PORTS[-1]))

    def close(self):
        """Releases the ports claimed (after stop())."""
        for fd in getattr(self, "_claims", []):
            release_claim(fd)
        self._claims = []

    # ---- configuration ----

    def config_lines(self):
        w = self.workdir
        node = "NodeName=%s NodeAddr=127.0.0.1 CPUs=%d State=UNKNOWN" % (self.node, self.cpus)
        if self.memory:
            node += " RealMemory=%d" % self.memory
        lines = [
            "# one-node test cluster (written by tests/integration/slurmcluster.py)",
            "ClusterName=%s" % self.cluster,
            "SlurmctldHost=%s(127.0.0.1)" % self.node,
            "SlurmctldPort=%d" % self.ctld_port,
            "SlurmdPort=%d" % self.slurmd_port,
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            "AuthAltTypes=auth/jwt",
            "AuthAltParameters=jwt_key=%s" % self.jwt_key,
            "StateSaveLocation=%s/state" % w,
            "SlurmdSpoolDir=%s/spool" % w,
            "SlurmctldPidFile=%s/slurmctld.pid" % w,
            "SlurmdPidFile=%s/slurmd.pid" % w,
            "SlurmctldLogFile=%s" % self.logs["slurmctld"],
            "SlurmdLogFile=%s" % self.logs["slurmd"],
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "MpiDefault=none",
            "ReturnToService=2",
            "KillWait=3",
            "MinJobAge=300",
        ]
        if self.sched_params:
            lines.append("SchedulerParameters=%s" % self.sched_params)
        if self.gres:
            name, type_, count = parse_gres(self.gres)
            lines.append("GresTypes=%s" % name)
            node += " Gres=%s" % self.gres
        lines += [node,
                  "PartitionName=%s Nodes=ALL Default=YES MaxTime=INFINITE State=UP" % PARTITION]
        return lines

    def _write_files(self):
        for d in (self.state, self.spool):
            if os.path.isdir(d):
                run(["rm", "-rf", "--one-file-system", d], timeout=30, check=True)
            os.makedirs(d, mode=0o755)
        with open(self.conf, "w") as f:
            f.write("\n".join(self.config_lines()) + "\n")
        os.chmod(self.conf, 0o644)
        if self.gres:
            name, type_, count = parse_gres(self.gres)
            files = self._fake_devices(name, count)
            with open(self.gres_conf, "w") as f:
                f.write("NodeName=%s Name=%s%s File=%s\n"
                        % (self.node, name, " Type=%s" % type_ if type_ else "",
                           ",".join(files)))
            os.chmod(self.gres_conf, 0o644)
        elif os.path.exists(self.gres_conf):
            os.unlink(self.gres_conf)
        if not os.path.exists(self.jwt_key):
            fd = os.open(self.jwt_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, os.urandom(32))
            finally:
                os.close(fd)
        if self.local_socket:
            os.makedirs(self.restd_dir, exist_ok=True)
            os.chown(self.restd_dir, self._pw.pw_uid, self._pw.pw_gid)
            os.chmod(self.restd_dir, 0o755)
        for name in ("slurmctld", "slurmd"):
            try:
                os.unlink(os.path.join(self.workdir, name + ".pid"))
            except FileNotFoundError:
                pass

    def _fake_devices(self, name, count):
        """count device files for gres.conf File=: character devices with
        /dev/null's numbers (1, 3) under workdir/dev, so that slurmd counts
        them and jobs get CUDA_VISIBLE_DEVICES / SLURM_JOB_GPUS; plain files
        when mknod is refused (the node still registers the count, but jobs
        get no CUDA_VISIBLE_DEVICES). Count= without File= does not work for
        gpu in 22.05: the node reports 0 and is drained (INVAL)."""
        dev = os.path.join(self.workdir, "dev")
        os.makedirs(dev, mode=0o755, exist_ok=True)
        files = []
        for i in range(count):
            path = os.path.join(dev, "%s%d" % (name, i))
            if not os.path.exists(path):
                try:
                    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
                except OSError:
                    open(path, "w").close()
            files.append(path)
        return files

    def env(self):
        """What a client (srun in the skyfs daemon, sbatch, ...) needs to
        reach this cluster: {"SLURM_CONF": conf}. Merge into an environment."""
        return {"SLURM_CONF": self.conf}

    def _client_env(self):
        e = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        e.update(self.env())
        return e

    def _daemon_env(self, extra=None):
        e = self._client_env()
        e[MARK_VAR] = self.mark
        e.update(extra or {})
        return e

    # ---- lifecycle (sshnodes.Fixture's context manager) ----

    def _spawn(self, name, args, log, env, user=None):
        """Starts a daemon in the foreground and its own session; its
        stdout/stderr (a copy of its log, plus what it says before it opens
        the log file) go to log (<name>.log for slurmrestd, which has no log
        file of its own; <name>.out for the others)."""
        with open(log, "ab") as f:
            f.write(("---- slurmcluster: start %s %s\n"
                     % (time.strftime("%H:%M:%S"), " ".join(args))).encode())
            f.flush()
            kw = {}
            if user is not None:
                kw = dict(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
            p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=f, stderr=f, env=env,
                                 cwd=self.workdir, start_new_session=True, **kw)
        self._procs[name] = p
        self.pids_seen.add(p.pid)
        return p

    def start(self):
        """Starts munged (when needed), slurmctld, slurmd and slurmrestd;
        returns when the node is idle and slurmrestd answers ping with a token
        (RuntimeError after 30 s, with the logs' tails)."""
        t0 = time.monotonic()
        self._write_files()
        if self._munge[0] is None:
            self._munge = acquire_munged(self.logs["munged"])
            if self._munge[1] is not None:
                self.pids_seen.add(self._munge[1].pid)
        deadline = time.monotonic() + START_TIMEOUT
        self._spawn("slurmctld", [SLURMCTLD, "-D", "-f", self.conf], self.logs["slurmctld.out"],
                    self._daemon_env())
        self._spawn("slurmd", [SLURMD, "-D", "-f", self.conf], self.logs["slurmd.out"],
                    self._daemon_env())
        self._wait(deadline, self._node_idle, "node %s idle" % self.node)
        self.timings["idle"] = time.monotonic() - t0
        restd_env = self._daemon_env({"SLURM_JWT": "daemon"})
        self._spawn("slurmrestd", [SLURMRESTD, "-s", "openapi/v0.0.38", "-a", "rest_auth/jwt",
                                   "127.0.0.1:%d" % self.rest_port],
                    self.logs["slurmrestd"], restd_env, user=self._pw)
        if self.local_socket:
            try:
                os.unlink(self.socket)
            except FileNotFoundError:
                pass
            self._spawn("slurmrestd-local", [SLURMRESTD, "-s", "openapi/v0.0.38",
                                             "-a", "rest_auth/local", "unix:" + self.socket],
                        self.logs["slurmrestd-local"], self._daemon_env(), user=self._pw)
        self._token = self.token()
        self._wait(deadline, self._rest_ready, "slurmrestd ping on %s" % self.url)
        if self.local_socket:
            self._wait(deadline, self._local_ready, "slurmrestd ping on %s" % self.socket)
        self.timings["restd"] = time.monotonic() - t0

    def _wait(self, deadline, ready, what):
        while True:
            for name, p in self._procs.items():
                if p.poll() is not None:
                    raise RuntimeError("SlurmCluster: %s exited with status %s while waiting "
                                       "for %s\n%s" % (name, p.returncode, what,
                                                       self.failure_report()))
            if ready():
                return
            if time.monotonic() >= deadline:
                raise RuntimeError("SlurmCluster: no %s after %.0fs\n%s"
                                   % (what, START_TIMEOUT, self.failure_report()))
            time.sleep(0.05)

    def _node_idle(self):
        """True when sinfo shows the node idle; RuntimeError at once when the
        controller drained it or marked it invalid (bad gres, CPUs...)."""
        try:
            r = self._client(["sinfo", "-h", "-n", self.node, "-o", "%T|%E"], timeout=5)
        except subprocess.TimeoutExpired:
            return False
        state, _, reason = r.stdout.strip().partition("|")
        if r.returncode == 0 and state.rstrip("*~#!%$@^-") in ("inval", "drained", "draining"):
            raise RuntimeError("SlurmCluster: node %s is %s: %s\n%s"
                               % (self.node, state, reason, self.failure_report()))
        return r.returncode == 0 and state == "idle"

    def _rest_ready(self):
        try:
            status, body = self.api("GET", "ping", timeout=3)
        except (OSError, ValueError):
            return False
        return status == 200 and any(p.get("ping") == "UP" for p in body.get("pings", []))

    def _local_ready(self):
        if not os.path.exists(self.socket):
            return False
        r = run(["curl", "-s", "-m", "3", "--unix-socket", self.socket,
                 "http://localhost" + API + "ping"], timeout=5)
        return r.returncode == 0 and '"UP"' in r.stdout

    def failure_report(self, lines=25):
        out = []
        for name, path in self.logs.items():
            # the .out files repeat their log: only their end (early fatal errors)
            tail = log_tail(path, 6 if name.endswith(".out") else lines)
            if tail:
                out.append("---- %s (%s):\n%s" % (name, path, tail))
        return "\n".join(out)

    def log_tails(self, lines=25):
        """[(log path, tail)] of every daemon, for a test's failure report."""
        return [(path, log_tail(path, lines)) for path in self.logs.values()
                if os.path.exists(path)]

    def stop(self):
        """Cancels every job of the cluster, then stops slurmrestd, slurmd and
        slurmctld (SIGTERM, SIGKILL after 5 s) by pid, then kills whatever
        carries this cluster's marker (slurmstepd, job processes) and drops
        the use of munged. RuntimeError if any process survives."""
        procs = getattr(self, "_procs", {})
        if procs.get("slurmctld") is not None and procs["slurmctld"].poll() is None:
            try:
                self.cancel_all(wait=8)
            except (subprocess.TimeoutExpired, RuntimeError):
                pass
        for group in (("slurmrestd", "slurmrestd-local"), ("slurmd",), ("slurmctld",)):
            self._stop_procs([procs[n] for n in group if n in procs])
        left = marked_pids(self.mark) if hasattr(self, "mark") else []
        self.pids_seen.update(left)
        for pid in left:
            _signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and self.survivors():
            time.sleep(0.02)
        survivors = self.survivors()
        munge = getattr(self, "_munge", (None, None))
        self._munge = (None, None)
        release_munged(*munge)
        self._procs = {}
        if survivors:
            raise RuntimeError("SlurmCluster: processes left behind: %s"
                               % ["%d %s" % (p, _cmdline(p)) for p in survivors])

    def _stop_procs(self, procs):
        live = [p for p in procs if p.poll() is None]
        kids = set()
        for p in live:
            kids.update(descendants(p.pid))
        self.pids_seen.update(kids)
        for p in live:
            _signal(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + TERM_GRACE
        while time.monotonic() < deadline and any(p.poll() is None for p in live):
            time.sleep(0.02)
        for p in live:
            if p.poll() is None:
                _signal(p.pid, signal.SIGKILL)
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
        for pid in kids:
            if pid_alive(pid):
                _signal(pid, signal.SIGKILL)

    def survivors(self):
        """Pids this object started or saw (munged excepted) still alive."""
        munged = self._munge[1].pid if getattr(self, "_munge", (None, None))[1] else None
        return sorted(p for p in self.pids_seen if p != munged and pid_alive(p))

    def pid(self, name):
        """Pid of a daemon ("slurmctld", "slurmd", "slurmrestd", ...) or None."""
        p = self._procs.get(name)
        return p.pid if p is not None and p.poll() is None else None

    # ---- clients ----

    def _client(self, args, timeout=CMD_TIMEOUT, input=None, check=False):
        """Runs a Slurm client command against this cluster (SLURM_CONF set,
        other SLURM_* variables dropped)."""
        return run(args, timeout=timeout, input=input, check=check, env=self._client_env())

    def command(self, args, timeout=CMD_TIMEOUT, input=None, check=False):
        """Public form of _client(): any client (srun, scontrol, sacct ...)."""
        return self._client(list(args), timeout=timeout, input=input, check=check)

    def token(self, user="root", lifespan=3600):
        """A JWT for user from `scontrol token` (parses SLURM_JWT=...)."""
        r = self._client(["scontrol", "token", "username=%s" % user, "lifespan=%d" % lifespan])
        for line in r.stdout.splitlines():
            if line.startswith("SLURM_JWT="):
                return line[len("SLURM_JWT="):].strip()
        raise RuntimeError("SlurmCluster: scontrol token failed (status %d): %s %s"
                           % (r.returncode, r.stdout.strip(), r.stderr.strip()))

    def headers(self, user="root", token=None):
        """The JWT headers slurmrestd wants."""
        if token is None:
            if user == "root":
                token = self._token = self._token or self.token()
            else:
                token = self.token(user)
        return {"X-SLURM-USER-NAME": user, "X-SLURM-USER-TOKEN": token}

    def api(self, method, path, body=None, user="root", token=None, timeout=10):
        """One request to slurmrestd at /slurm/v0.0.38/<path>; returns
        (HTTP status, parsed JSON body, or the raw text when it is not JSON)."""
        data = None
        headers = self.headers(user, token)
        if body is not None:
            data = (body if isinstance(body, (bytes, str)) else json.dumps(body))
            data = data.encode() if isinstance(data, str) else data
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + API + path.lstrip("/"), data=data,
                                     headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        text = raw.decode("utf-8", "replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def squeue(self):
        """Jobs the controller knows and squeue shows (pending, running,
        completing...): [{"id": int, "name", "state", "reason", "user"}]."""
        r = self._client(["squeue", "-h", "-o", "%i\t%T\t%r\t%u\t%j"], check=True)
        jobs = []
        for line in r.stdout.splitlines():
            f = line.split("\t", 4)
            if len(f) < 5:
                continue
            jobs.append({"id": int(f[0]) if f[0].isdigit() else f[0], "state": f[1],
                         "reason": f[2], "user": f[3], "name": f[4]})
        return jobs

    def scancel(self, jobid, signal_name=None):
        """scancel jobid (with --signal=signal_name when given); CompletedProcess."""
        args = ["scancel"] + (["--signal=%s" % signal_name] if signal_name else []) + [str(jobid)]
        return self._client(args)

    def sbatch(self, args, timeout=CMD_TIMEOUT):
        """sbatch --parsable ARGS (e.g. ["--wrap", "sleep 100"]); returns the job id.
        Output goes to /dev/null unless ARGS name a file (-o/--output): sbatch's
        default, slurm-<id>.out in the caller's directory, would land in the
        source tree."""
        args = list(args)
        if not any(a in ("-o", "--output") or a.startswith("--output=") for a in args):
            args = ["--output=/dev/null"] + args
        r = self._client(["sbatch", "--parsable"] + args, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("SlurmCluster: sbatch %s failed: %s" % (args, r.stderr.strip()))
        return int(r.stdout.strip().split(";")[0])

    def cancel_all(self, wait=10.0):
        """Cancels every job of the cluster and waits (up to wait seconds)
        until squeue shows none."""
        ids = [str(j["id"]) for j in self.squeue()]
        if ids:
            self._client(["scancel"] + ids)
        deadline = time.monotonic() + wait
        while ids and time.monotonic() < deadline:
            ids = [j for j in self.squeue() if j["state"] not in ("CANCELLED", "COMPLETED")]
            if ids:
                time.sleep(0.1)
        return not ids

    def __repr__(self):
        return "SlurmCluster(%s, node=%s, url=%s, conf=%s)" % (self.cluster, self.node,
                                                               self.url, self.conf)


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


if __name__ == "__main__":
    # python3 slurmcluster.py [CPUS [GRES]]: start a cluster in a temporary
    # directory, print how to reach it and wait for Ctrl-C.
    import sys
    d = tempfile.mkdtemp(prefix="skyfs-slurm-")
    with SlurmCluster(d, cpus=int(sys.argv[1]) if len(sys.argv) > 1 else 2,
                      gres=sys.argv[2] if len(sys.argv) > 2 else None) as c:
        print(c)
        print("export SLURM_CONF=%s" % c.conf)
        print("token: %s" % c.token())
        print("timings: %s" % c.timings)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    print("state left in %s" % d)
