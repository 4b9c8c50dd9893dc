"""Real OpenSSH sshd processes on loopback as test nodes (standard library only).

    from sshnodes import SshNodes

    with SshNodes(3, workdir) as nodes:        # starts the nodes, stops them at exit
        r = nodes.ssh(0, "echo $USER")         # CompletedProcess (text)
        spec = nodes.hosts_spec()              # "skytest@127.0.0.2:22, skytest@127.0.0.3:22, ..."
        nodes.pause(1); nodes.resume(1)        # SIGSTOP / SIGCONT sshd and its sessions
        nodes.kill(2); nodes.restart(2)        # dead node (refused), back with the same key
        nodes.rekey(0)                         # new host key: known_hosts no longer matches

Needs root: it creates the dedicated login user (`useradd -m -s /bin/sh
skytest`, then `usermod -p '*' skytest` because with `UsePAM no` sshd refuses
a locked account), creates /run/sshd (sshd's privilege separation directory)
and runs sshd. Everything else lives under `workdir`, which the caller owns and
removes: the client key pair (`id_<type>`), `authorized_keys` (mode 644, read
by sshd as the login user, so workdir and its parents up to the system temporary
directory get o+x, search only; a parent elsewhere must already be searchable),
`known_hosts` (all nodes, as written by write_known_hosts()), and
per node `node<i>/` holding `ssh_host_<type>_key`, `sshd_config`, `sshd.pid`,
`sshd.log` and `remote/` (a directory owned by the login user, for tests that
want a per-node remote working directory).

Node i listens on 127.0.0.(2+i) port 22 (the whole 127.0.0.0/8 is on `lo`),
so every node has its own address. When that port is taken or cannot be bound
(a system sshd on 0.0.0.0:22, another test run), the node falls back to
127.0.0.1 on the first free port of 22200-22699 found by probing;
address(i) / port(i) always give the real pair. Each address:port in use is
claimed with an flock on /run/sshnodes/ADDRESS_PORT.lock for the object's
lifetime, so that concurrent test runs never pick the same one, not even while
a node is down between kill() and restart(). Every subprocess call and every
wait has a timeout.

The building blocks are module functions too, for other harnesses that run
sshd test nodes (tests/fakes/fake_ec2.py): ensure_user(), prepare_sshd(),
make_searchable(), keygen(), claim_address() / release_claim(),
write_sshd_config(), spawn_sshd(), sshd_ready(), sshd_pids(), signal_sshd(),
kill_sshd(), stop_sshds(), kill_survivors(), log_tail_of().
"""

import fcntl
import os
import pwd
import shlex
import signal
import socket
import subprocess
import tempfile
import time

SSHD = "/usr/sbin/sshd"
SSH = "ssh"
SFTP = "sftp"
SSH_KEYGEN = "ssh-keygen"

START_TIMEOUT = 10.0   # until a node accepts connections and wrote its PidFile
TERM_GRACE = 3.0       # SIGTERM, then SIGKILL after this long
CMD_TIMEOUT = 10.0     # ssh-keygen, useradd, ...
_START_MARK = "---- sshnodes: start"
LOCK_DIR = "/run/sshnodes"   # address claims, shared by concurrent test runs
FALLBACK_PORTS = range(22200, 22700)   # on 127.0.0.1, when 127.0.0.(2+i):22 is not free


def have_sshd():
    return os.access(SSHD, os.X_OK)


def run(args, timeout=CMD_TIMEOUT, input=None, check=False, env=None):
    """Runs a command with a hard timeout (the whole process group is killed
    when it runs over), in env (None: this process's). Returns
    CompletedProcess with text output; raises subprocess.TimeoutExpired on
    timeout, CalledProcessError if check and the status is non-zero."""
    p = subprocess.Popen(args, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                         env=env)
    try:
        out, err = p.communicate(input=input.encode() if isinstance(input, str) else input,
                                 timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(p.pid, signal.SIGKILL)
        try:
            out, err = p.communicate(timeout=3)
        except subprocess.TimeoutExpired:
            out, err = b"", b""
        raise subprocess.TimeoutExpired(args, timeout, output=out, stderr=err)
    r = subprocess.CompletedProcess(args, p.returncode, out.decode("utf-8", "surrogateescape"),
                                    err.decode("utf-8", "surrogateescape"))
    if check and r.returncode != 0:
        raise subprocess.CalledProcessError(r.returncode, args, r.stdout, r.stderr)
    return r


class Fixture:
    """A context manager around start(), stop() and close(): a start that
    fails stops what it started; close() always runs last."""

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            try:
                self.stop()
            finally:
                self.close()
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            self.close()
        return False


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except OSError:
        pass


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
        return True
    except OSError:
        return False


# ---- /proc -------------------------------------------------------------------

def _stat(pid):
    """(state letter, ppid) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            s = f.read().decode("ascii", "replace")
        rest = s[s.rindex(")") + 2:].split()
        return rest[0], int(rest[1])
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def proc_state(pid):
    """The state letter of pid ("S", "R", "T", "Z", ...) or None when gone."""
    st = _stat(pid)
    return st[0] if st else None


def _all_pids():
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    return [int(d) for d in names if d.isdigit()]


def descendants(root):
    """Live pids below root (children, grandchildren, ...), root excluded."""
    children = {}
    for pid in _all_pids():
        st = _stat(pid)
        if st and st[0] not in ("Z", "X"):
            children.setdefault(st[1], []).append(pid)
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), ()):
            if c not in out:
                out.append(c)
                todo.append(c)
    return out


def _environ(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return f.read()
    except OSError:
        return b""


# ---- building blocks (also used by tests/fakes/fake_ec2.py) -----------------

def make_searchable(path, what="the login user could not read files there"):
    """sshd reads AuthorizedKeysFile as the login user: every directory above
    it needs o+x. Adds it (search only, no listing) to path and to its parents
    inside the temporary directory (a mkdtemp directory is 0700); a parent
    elsewhere (/root, ...) is not touched but reported (RuntimeError, with
    `what` saying what would fail)."""
    tmp = os.path.realpath(tempfile.gettempdir())
    p = path
    while p != "/":
        st = os.stat(p)
        if st.st_mode & 0o001 == 0:
            real = os.path.realpath(p)
            if p == path or (real.startswith(tmp + "/") and st.st_uid == os.geteuid()):
                os.chmod(p, (st.st_mode & 0o7777) | 0o001)
            else:
                raise RuntimeError("%s: %s is not searchable by others; use a workdir under %s"
                                   % (what, p, tmp))
        p = os.path.dirname(p)


def prepare_sshd():
    """Creates sshd's privilege separation directory (/run/sshd); needs root."""
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)


def keygen(path, comment, key_type="ed25519"):
    """A fresh key pair without passphrase at path (and path.pub), replacing
    any there."""
    for f in (path, path + ".pub"):
        if os.path.exists(f):
            os.unlink(f)
    run([SSH_KEYGEN, "-q", "-t", key_type, "-N", "", "-C", comment, "-f", path], check=True)


def can_bind(address, port):
    """The port bound when a TCP socket can bind address:port (0: any), else None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, port))
        return s.getsockname()[1]
    except OSError:
        return None
    finally:
        s.close()


def claim_address(address, port):
    """Takes address:port until release_claim(fd): an exclusive flock on
    /run/sshnodes/ADDRESS_PORT.lock (every other claimant, in this process or
    another, skips it; the kernel drops it when the process dies) and a bind
    probe (nothing else listens there). Returns the lock's fd, or None when
    the address is taken."""
    os.makedirs(LOCK_DIR, mode=0o755, exist_ok=True)
    fd = os.open(os.path.join(LOCK_DIR, "%s_%d.lock" % (address, port)),
                 os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    if not can_bind(address, port):
        os.close(fd)
        return None
    return fd


def release_claim(fd):
    """Gives back what claim_address() took."""
    if fd is not None:
        os.close(fd)


def sshd_config_lines(address, port, host_key, authorized_keys, pidfile,
                      log_level="VERBOSE", comment="skyfs test node"):
    """The sshd_config that works on these machines (see
    shared/reference/machine-notes.md), as a list of lines."""
    return [
        "# %s (written by tests/integration/sshnodes.py)" % comment,
        "ListenAddress %s" % address,
        "Port %d" % port,
        "HostKey %s" % host_key,
        "PidFile %s" % pidfile,
        "AuthorizedKeysFile %s" % authorized_keys,
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "Subsystem sftp internal-sftp",
        "MaxStartups 100:30:200",
        "MaxSessions 50",
        "LogLevel %s" % log_level,
        # ClientAliveInterval / ClientAliveCountMax deliberately unset
    ]


def write_sshd_config(path, address, port, host_key, authorized_keys, pidfile,
                      log_level="VERBOSE", comment="skyfs test node"):
    """Writes sshd_config_lines() to path."""
    with open(path, "w") as f:
        f.write("\n".join(sshd_config_lines(address, port, host_key, authorized_keys, pidfile,
                                            log_level, comment)) + "\n")


def spawn_sshd(config, log, pidfile, address, port):
    """Starts `sshd -D -f config -E log` in its own session (after removing a
    stale pidfile and marking the start in the log); returns its Popen. Wait
    with sshd_ready()."""
    try:
        os.unlink(pidfile)
    except FileNotFoundError:
        pass
    with open(log, "ab") as f:
        f.write((_START_MARK + " %s on %s:%d\n"
                 % (time.strftime("%H:%M:%S"), address, port)).encode())
    return subprocess.Popen([SSHD, "-D", "-f", config, "-E", log],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def sshd_ready(proc, pidfile, address, port):
    """True when proc wrote its pid to pidfile and address:port accepts TCP."""
    try:
        with open(pidfile) as f:
            if int(f.read().strip() or 0) != proc.pid:
                return False
    except (OSError, ValueError):
        return False
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def log_tail_of(path, lines=30, since_start=False):
    """The last lines of an sshd log written through spawn_sshd() (only those
    of its latest start when since_start)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace").splitlines()
    if since_start:
        marks = [k for k, line in enumerate(text) if line.startswith(_START_MARK)]
        if marks:
            text = text[marks[-1]:]
    return "\n".join(text[-lines:])


def sshd_pids(proc, address, port, uid):
    """An sshd's listener (first, while alive), everything below it, and any
    process of uid whose SSH_CONNECTION ends in address and port (a job that
    detached from its session)."""
    if proc is None:
        return []
    pids = []
    if proc.poll() is None:
        pids.append(proc.pid)
        pids += descendants(proc.pid)
    tag = (" %s %d" % (address, port)).encode()
    for pid in _all_pids():
        if pid in pids:
            continue
        try:
            if os.stat("/proc/%d" % pid).st_uid != uid:
                continue
        except OSError:
            continue
        for var in _environ(pid).split(b"\0"):
            if var.startswith(b"SSH_CONNECTION=") and var.endswith(tag):
                if pid_alive(pid):
                    pids.append(pid)
                break
    return pids


def signal_sshd(proc, address, port, uid, sig):
    """Sends sig to an sshd's listener first (so that it forks nothing new)
    and its sessions (sshd_pids()), repeating until no new pid shows up.
    Returns the sorted pids signalled."""
    done = set()
    for _ in range(10):
        pids = [p for p in sshd_pids(proc, address, port, uid) if p not in done]
        if not pids:
            break
        for pid in pids:
            _signal(pid, sig)
        done.update(pids)
    return sorted(done)


def kill_sshd(proc, address, port, uid, timeout=5.0):
    """SIGKILLs an sshd's listener and sessions and reaps the listener; returns
    the pids killed. RuntimeError when the listener survives."""
    pids = signal_sshd(proc, address, port, uid, signal.SIGKILL)
    if proc is not None:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError("sshnodes: sshd %d survived SIGKILL" % proc.pid)
    deadline = time.monotonic() + timeout
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return pids


def stop_sshds(sshds, uid, grace=TERM_GRACE):
    """Stops several sshds and their sessions together: SIGCONT (for paused
    ones), SIGTERM, SIGKILL after grace seconds, reap. sshds: (Popen or None,
    address, port). Returns every pid seen; survivors() of them are left."""
    procs = []
    seen = set()
    for proc, address, port in sshds:
        if proc is None:
            continue
        pids = sshd_pids(proc, address, port, uid)
        seen.update(pids)
        for pid in pids:
            _signal(pid, signal.SIGCONT)
        for pid in pids:
            _signal(pid, signal.SIGTERM)
        procs.append((proc, address, port, pids))

    def alive(proc, pid):
        if pid == proc.pid:
            return proc.poll() is None
        return pid_alive(pid)

    deadline = time.monotonic() + grace
    for proc, _, _, pids in procs:
        while time.monotonic() < deadline and any(alive(proc, p) for p in pids):
            time.sleep(0.02)
    for proc, address, port, pids in procs:
        more = sshd_pids(proc, address, port, uid)
        seen.update(more)
        for pid in more + pids:
            if alive(proc, pid):
                _signal(pid, signal.SIGKILL)
    for proc, _, _, _ in procs:
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
    return seen


def kill_survivors(pids):
    """SIGKILLs whichever of pids are still alive (one more round for anything
    forked while they were being signalled); returns those alive after that."""
    left = sorted(p for p in pids if pid_alive(p))
    if left:
        for pid in left:
            _signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and any(pid_alive(p) for p in left):
            time.sleep(0.02)
        left = sorted(p for p in left if pid_alive(p))
    return left


# ---- the nodes ---------------------------------------------------------------

class _Node:
    def __init__(self, index, dir_):
        self.index = index
        self.dir = dir_
        self.host_key = None        # private key path; .pub next to it
        self.config = os.path.join(dir_, "sshd_config")
        self.pidfile = os.path.join(dir_, "sshd.pid")
        self.log = os.path.join(dir_, "sshd.log")
        self.remote = os.path.join(dir_, "remote")
        self.address = None
        self.port = None
        self.proc = None            # Popen of the listening sshd
        self.generation = 0         # host key generation (rekey)


class SshNodes(Fixture):
    """n sshd processes on loopback; a context manager (start / stop).

    Attributes: user, uid, gid, workdir, identity (client private key path),
    known_hosts (the file ssh() uses), pids_seen (every sshd listener and
    session pid this object has seen, for "nothing left behind" checks)."""

    def __init__(self, n, workdir, user="skytest", key_type="ed25519", log_level="VERBOSE"):
        if n < 1 or n > 250:
            raise ValueError("SshNodes: n must be 1..250")
        self.n = n
        self.user = user
        self.key_type = key_type
        self.log_level = log_level
        self.workdir = os.path.abspath(workdir)
        self.identity = os.path.join(self.workdir, "id_%s" % key_type)
        self.authorized_keys = os.path.join(self.workdir, "authorized_keys")
        self.known_hosts = os.path.join(self.workdir, "known_hosts")
        self.pids_seen = set()
        self._claims = {}           # (address, port) -> fd holding its flock

        os.makedirs(self.workdir, exist_ok=True)
        self._pw = ensure_user(user)
        self.uid, self.gid = self._pw.pw_uid, self._pw.pw_gid
        prepare_sshd()
        self._make_searchable(self.workdir)

        if not os.path.exists(self.identity):
            self._keygen(self.identity, "skyfs-test-client")
        with open(self.identity + ".pub") as f:
            pub = f.read().strip()
        with open(self.authorized_keys, "w") as f:
            f.write(pub + "\n")
        os.chmod(self.authorized_keys, 0o644)

        self.nodes = []
        try:
            for i in range(n):
                node = _Node(i, os.path.join(self.workdir, "node%d" % i))
                os.makedirs(node.dir, exist_ok=True)
                os.chmod(node.dir, 0o755)
                os.makedirs(node.remote, exist_ok=True)
                os.chown(node.remote, self._pw.pw_uid, self._pw.pw_gid)
                os.chmod(node.remote, 0o755)
                self._new_host_key(node)
                node.address, node.port = self._pick_address(i)
                self._write_config(node)
                self.nodes.append(node)
        except BaseException:
            self.close()
            raise

    # ---- setup helpers ----

    def _make_searchable(self, path):
        """sshd reads AuthorizedKeysFile as the login user: every directory
        above it needs o+x (see make_searchable())."""
        make_searchable(path, "SshNodes: user %s could not read %s" % (self.user,
                                                                      self.authorized_keys))

    def _keygen(self, path, comment):
        keygen(path, comment, self.key_type)

    def _new_host_key(self, node):
        node.generation += 1
        node.host_key = os.path.join(node.dir, "ssh_host_%s_key" % self.key_type)
        self._keygen(node.host_key, "skyfs-test-node%d-gen%d" % (node.index, node.generation))

    @staticmethod
    def _can_bind(address, port):
        return can_bind(address, port)

    def _claim(self, address, port):
        """Takes address:port for this object's lifetime: an exclusive flock on
        /run/sshnodes/ADDRESS_PORT.lock (other SshNodes, in this process or
        another, skip it; the kernel drops it when the process dies) and a bind
        probe (nothing else listens there). True when claimed."""
        fd = claim_address(address, port)
        if fd is None:
            return False
        self._claims[(address, port)] = fd
        return True

    def _release(self, address, port):
        release_claim(self._claims.pop((address, port), None))

    def _pick_address(self, i, avoid_default=False):
        addr = "127.0.0.%d" % (2 + i)
        if not avoid_default and self._claim(addr, 22):
            return addr, 22
        # the first free port of FALLBACK_PORTS (below the ephemeral range, so
        # that no client connection takes it while the node is down between
        # kill() and restart(); scanned in order, so few lock files pile up)
        low = _ephemeral_low()
        ports = [p for p in FALLBACK_PORTS if p < low] or [None] * 20
        for port in ports:
            port = port or self._can_bind("127.0.0.1", 0)
            if port and self._claim("127.0.0.1", port):
                return "127.0.0.1", port
        raise RuntimeError("SshNodes: no free port on 127.0.0.1 for node %d" % i)

    def close(self):
        """Releases the addresses and ports claimed (after stop())."""
        for key in list(getattr(self, "_claims", {})):
            self._release(*key)

    def _write_config(self, node):
        write_sshd_config(node.config, node.address, node.port, node.host_key,
                          self.authorized_keys, node.pidfile, self.log_level,
                          "skyfs test node %d" % node.index)

    # ---- lifecycle (Fixture's context manager) ----

    def start(self):
        """Starts every node; returns when each accepts TCP connections and
        wrote its PidFile (RuntimeError after 10 s, with the log's tail)."""
        for node in self.nodes:
            if node.proc is None or node.proc.poll() is not None:
                self._spawn(node)
        deadline = time.monotonic() + START_TIMEOUT
        for node in self.nodes:
            self._wait_ready(node, deadline, allow_fallback=True)
        self.write_known_hosts()

    def _spawn(self, node):
        node.proc = spawn_sshd(node.config, node.log, node.pidfile, node.address, node.port)
        self.pids_seen.add(node.proc.pid)

    def _ready(self, node):
        return sshd_ready(node.proc, node.pidfile, node.address, node.port)

    def _wait_ready(self, node, deadline, allow_fallback=False):
        fallbacks = 3 if allow_fallback else 0
        while True:
            if node.proc.poll() is not None:
                tail = self.log_tail(node.index, since_start=True)
                if fallbacks and ("Bind to port" in tail or "Cannot bind" in tail):
                    # lost a race for the address: take a free port on 127.0.0.1
                    fallbacks -= 1
                    self._release(node.address, node.port)
                    node.address, node.port = self._pick_address(node.index, avoid_default=True)
                    self._write_config(node)
                    self._spawn(node)
                    continue
                raise RuntimeError("SshNodes: sshd of node %d (%s:%d) exited with status %s; "
                                   "log %s:\n%s" % (node.index, node.address, node.port,
                                                    node.proc.returncode, node.log, tail))
            if self._ready(node):
                return
            if time.monotonic() >= deadline:
                raise RuntimeError("SshNodes: node %d (%s:%d) not ready after %.0fs; log %s:\n%s"
                                   % (node.index, node.address, node.port, START_TIMEOUT,
                                      node.log, self.log_tail(node.index)))
            time.sleep(0.02)

    def stop(self):
        """Stops every node and its sessions: SIGCONT (for paused ones),
        SIGTERM, SIGKILL after 3 s. Raises RuntimeError if any pid this
        object started or saw survives."""
        sshds = [(node.proc, node.address, node.port)
                 for node in (self.nodes if hasattr(self, "nodes") else ())
                 if node.proc is not None]
        self.pids_seen.update(stop_sshds(sshds, self._pw.pw_uid if hasattr(self, "_pw") else -1))
        if self.survivors():
            survivors = kill_survivors(self.pids_seen)
            if survivors:
                raise RuntimeError("SshNodes: processes left behind: %s" % survivors)

    def survivors(self):
        """Pids this object started or saw that are still alive (not zombies)."""
        return sorted(p for p in self.pids_seen if pid_alive(p))

    @staticmethod
    def _alive(node, pid):
        if node.proc is not None and pid == node.proc.pid:
            return node.proc.poll() is None
        return pid_alive(pid)

    # ---- per-node process control ----

    def _node(self, i):
        if not 0 <= i < self.n:
            raise IndexError("SshNodes: no node %r (have %d)" % (i, self.n))
        return self.nodes[i]

    def _node_pids(self, node):
        """The node's listener (first), everything below it, and any process of
        the login user whose SSH_CONNECTION ends in this node's address and port
        (a job that detached from its session)."""
        return sshd_pids(node.proc, node.address, node.port, self._pw.pw_uid)

    def session_pids(self, i):
        """Pids of node i's sessions (the listener excluded)."""
        node = self._node(i)
        return [p for p in self._node_pids(node) if p != node.proc.pid]

    def listener_pid(self, i):
        node = self._node(i)
        return node.proc.pid if node.proc is not None and node.proc.poll() is None else None

    def _signal_node(self, node, sig):
        # stop/kill the listener first so that it forks nothing new, then
        # repeat until no new descendant shows up
        done = signal_sshd(node.proc, node.address, node.port, self._pw.pw_uid, sig)
        self.pids_seen.update(done)
        return done

    def pause(self, i):
        """SIGSTOPs node i's sshd and every session process of it: new
        connections hang (TCP connects, no SSH banner) and running jobs freeze,
        as on a frozen machine. Returns the pids stopped, once each one is
        (a signal is delivered asynchronously: a running process may show
        state R for a moment after SIGSTOP was sent)."""
        pids = self._signal_node(self._node(i), signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if all(proc_state(p) in ("T", "t", "Z", None) for p in pids):
                break
            time.sleep(0.01)
        return pids

    def resume(self, i):
        """SIGCONTs what pause(i) stopped (the node's listener and sessions)."""
        return self._signal_node(self._node(i), signal.SIGCONT)

    def kill(self, i):
        """SIGKILLs node i's listener and session processes: the node is dead,
        connections are refused. Returns the pids killed."""
        node = self._node(i)
        pids = self._signal_node(node, signal.SIGKILL)
        if node.proc is not None:
            try:
                node.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                raise RuntimeError("SshNodes: sshd %d of node %d survived SIGKILL"
                                   % (node.proc.pid, i))
        deadline = time.monotonic() + 5
        while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        return pids

    def restart(self, i):
        """kill(i), then start node i again on the same address, port and
        host key; returns when it accepts connections."""
        node = self._node(i)
        self.kill(i)
        self._spawn(node)
        self._wait_ready(node, time.monotonic() + START_TIMEOUT)

    def rekey(self, i):
        """Gives node i a new host key and restarts it. known_hosts files
        written before (including self.known_hosts) no longer match until
        write_known_hosts() is called again."""
        node = self._node(i)
        self.kill(i)
        self._new_host_key(node)
        self._spawn(node)
        self._wait_ready(node, time.monotonic() + START_TIMEOUT)

    def log_tail(self, i, lines=30, since_start=False):
        """The last lines of node i's sshd log (only those of its latest start
        when since_start)."""
        return log_tail_of(self._node(i).log, lines, since_start)

    def log_tails(self, lines=30):
        """[(log path, tail)] of every node, for a test's failure report."""
        return [(nd.log, self.log_tail(nd.index, lines)) for nd in self.nodes]

    # ---- accessors ----

    def address(self, i):
        return self._node(i).address

    def port(self, i):
        return self._node(i).port

    def remote_dir(self, i):
        """A directory owned by the login user, one per node (all on this machine)."""
        return self._node(i).remote

    def host_key_path(self, i):
        return self._node(i).host_key

    def host(self, i):
        """user@address:port of node i."""
        nd = self._node(i)
        return "%s@%s:%d" % (self.user, nd.address, nd.port)

    def hosts_spec(self, nodes=None):
        """"skytest@127.0.0.2:22, skytest@127.0.0.3:22", for a skyfs spec."""
        return ", ".join(self.host(i) for i in self._indices(nodes))

    def _indices(self, nodes):
        return list(range(self.n)) if nodes is None else list(nodes)

    def host_public_key(self, i):
        """"ssh-ed25519 AAAA..." of node i's current host key."""
        with open(self._node(i).host_key + ".pub") as f:
            return " ".join(f.read().split()[:2])

    def known_hosts_name(self, i):
        """How known_hosts names node i: "addr" on port 22, else "[addr]:port"."""
        nd = self._node(i)
        return nd.address if nd.port == 22 else "[%s]:%d" % (nd.address, nd.port)

    def known_hosts_line(self, i):
        return "%s %s" % (self.known_hosts_name(i), self.host_public_key(i))

    def write_known_hosts(self, path=None, nodes=None):
        """Writes a known_hosts file (default: self.known_hosts, the one ssh()
        uses) with the current host keys of nodes (default: all). Returns path."""
        path = path or self.known_hosts
        text = "".join(self.known_hosts_line(i) + "\n" for i in self._indices(nodes))
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
        return path

    def host_fingerprint(self, i):
        """"SHA256:..." of node i's current host key (ssh-keygen -lf)."""
        r = run([SSH_KEYGEN, "-l", "-E", "sha256", "-f", self._node(i).host_key + ".pub"],
                check=True)
        return r.stdout.split()[1]

    # ---- clients ----

    def ssh_options(self, known_hosts=None, connect_timeout=None):
        """OpenSSH client options (for ssh, sftp, scp) that log in to the nodes
        with the harness's identity, checking host keys strictly against
        known_hosts (default self.known_hosts) and ignoring ~/.ssh/config."""
        opts = ["-F", "/dev/null",
                "-o", "BatchMode=yes",
                "-o", "IdentitiesOnly=yes",
                "-o", "IdentityFile=%s" % self.identity,
                "-o", "UserKnownHostsFile=%s" % (known_hosts or self.known_hosts),
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "StrictHostKeyChecking=yes",
                "-o", "UpdateHostKeys=no",
                "-o", "CheckHostIP=no",
                "-o", "ControlMaster=no",
                "-o", "ControlPath=none",
                "-o", "User=%s" % self.user]
        if connect_timeout is not None:
            opts += ["-o", "ConnectTimeout=%d" % connect_timeout]
        return opts

    def ssh_args(self, i, command, options=(), known_hosts=None):
        """argv of an OpenSSH ssh running command (one string, run by the login
        user's /bin/sh) on node i."""
        nd = self._node(i)
        return ([SSH] + self.ssh_options(known_hosts) + list(options)
                + ["-p", str(nd.port), nd.address, "--", command])

    def ssh(self, i, command, timeout=10, options=(), known_hosts=None, input=None):
        """Runs command on node i with OpenSSH's ssh; returns CompletedProcess
        (text). Raises subprocess.TimeoutExpired after timeout seconds."""
        return run(self.ssh_args(i, command, options, known_hosts), timeout=timeout, input=input)

    def sftp(self, i, batch, timeout=10, options=(), known_hosts=None):
        """Runs an sftp batch (the commands as one string) against node i."""
        nd = self._node(i)
        return run([SFTP] + self.ssh_options(known_hosts) + list(options)
                   + ["-P", str(nd.port), "-b", "-", nd.address],
                   timeout=timeout, input=batch)

    def __repr__(self):
        return "SshNodes(%s)" % self.hosts_spec()


# ---- the login user ------------------------------------------------------------

def ensure_user(user):
    """Makes sure the dedicated login user exists with /bin/sh as shell and an
    unlocked (but password-less, "*") account. Needs root. Returns its pwd entry."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        if os.geteuid() != 0:
            raise RuntimeError("SshNodes: user %s does not exist and creating it needs root"
                               % user)
        r = run(["useradd", "-m", "-s", "/bin/sh", user])
        try:
            pw = pwd.getpwnam(user)   # also fine when a concurrent run created it
        except KeyError:
            raise RuntimeError("SshNodes: useradd %s failed: %s" % (user, r.stderr.strip()))
    if pw.pw_shell != "/bin/sh":
        run(["usermod", "-s", "/bin/sh", user], check=True)
        pw = pwd.getpwnam(user)
    if _shadow_locked(user):
        run(["usermod", "-p", "*", user], check=True)
    return pw


def _shadow_locked(user):
    """True when /etc/shadow's password field for user is locked ("!...") or
    the file cannot be read (then usermod fixes it anyway)."""
    try:
        with open("/etc/shadow") as f:
            for line in f:
                fields = line.split(":")
                if fields[0] == user:
                    return len(fields) < 2 or fields[1].startswith("!")
    except OSError:
        return True
    return True


if __name__ == "__main__":
    # python3 sshnodes.py N: start N nodes in a temporary directory, print how
    # to reach them and wait for Ctrl-C.
    import sys
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    d = tempfile.mkdtemp(prefix="skyfs-sshnodes-")
    with SshNodes(n, d) as nodes:
        for i in range(n):
            print("node %d: %s  %s" % (i, nodes.host(i), nodes.host_fingerprint(i)))
            print("  " + " ".join(shlex.quote(a) for a in nodes.ssh_args(i, "true")))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    print("state left in %s" % d)
