"""Cloud instances that are real sshd processes on loopback addresses, for the
fake cloud endpoints (fake_ec2.py and friends); standard library only.

    from fakenodes import NodeHost, have_sshd

    host = NodeHost(workdir, user="skytest")   # the login user, /run/sshd
    node = host.boot(authorized_keys=["ssh-ed25519 AAAA... c"],
                     host_key_private=None,     # OpenSSH private key text, or None: generate
                     name="i-0123")             # files in workdir/i-0123/
    node.address, node.port                     # "127.0.1.7", 22 (known at once)
    node.wait_ready(timeout=10.0)               # True once sshd listens
    node.ready, node.failed, node.alive         # listening / why it could not start / running
    node.host_public, node.host_key_source      # "ssh-ed25519 AAAA...", "given"|"generated"|"rekeyed"
    node.rekey()                                # new host key, sessions killed; the new public line
    node.kill()                                 # sshd and its sessions SIGKILLed; claim released
    host.kill_nodes([n1, n2])                   # several at once (one sweep)
    host.close()                                # every node killed, every claim released
    host.nodes                                  # every node booted

boot() claims the next free address of 127.0.1.1, 127.0.1.2, ..., 127.0.1.254,
127.0.2.1, ... 127.0.31.254 (port 22) with sshnodes' flock under /run/sshnodes
(so that concurrent runs never collide; RuntimeError when none is free), writes
workdir/<name>/ (authorized_keys, ssh_host_*_key, sshd_config, sshd.pid,
sshd.log) and starts sshd in a background thread; it returns at once. Ready
means sshd wrote its PidFile and listens (read from /proc/net/tcp: nothing
connects, so sshd forks nothing).

Killing finds a node's processes without scanning /proc when the kernel has
/proc/PID/task/TID/children: the listener's descendants, plus processes that
detached from a session (reparented to pid 1 or a subreaper among this
process's ancestors) whose SSH_CONNECTION names the node's address and port.
Without children files, one /proc scan per kill_nodes() call (then only pids
that appeared since). Every process found is first SIGSTOPped (it forks nothing
more and keeps its children); once a round finds nothing new, all are
SIGKILLed, and once they are gone one more round catches anything that slipped
away (forked before its parent stopped: an orphan now). host.close() always
does one full /proc scan, as a safety net.

Needs root (useradd, /run/sshd, sshd).
"""

import base64
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_INTEGRATION = os.path.join(os.path.dirname(HERE), "integration")
if _INTEGRATION not in sys.path:
    sys.path.insert(0, _INTEGRATION)

import sshnodes                 # noqa: E402
from sshnodes import have_sshd  # noqa: E402,F401  (part of this module's API)

__all__ = ["NodeHost", "Node", "have_sshd", "public_key_of_private", "listening",
           "ADDRESSES", "ADDRESS_BLOCKS", "PORT", "START_TIMEOUT"]

ADDRESS_BLOCKS = range(1, 32)      # 127.0.B.H for B in 1..31, H in 1..254
ADDRESSES = ["127.0.%d.%d" % (b, h) for b in ADDRESS_BLOCKS for h in range(1, 255)]
PORT = 22
# the sessions' PATH after the node's bin directory
SESSION_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
POWER_COMMANDS = ("shutdown", "poweroff", "halt")
START_TIMEOUT = 20.0               # many nodes boot at once on a small machine
STOP_WAIT = 5.0                    # for SIGSTOPped processes to show state T
KILL_TIMEOUT = 5.0                 # for SIGKILLed processes to be gone


# ---- keys and sockets ----------------------------------------------------------------

def _ssh_string(buf, off):
    if off + 4 > len(buf):
        raise ValueError("truncated")
    n = struct.unpack(">I", buf[off:off + 4])[0]
    if off + 4 + n > len(buf):
        raise ValueError("truncated")
    return buf[off + 4:off + 4 + n], off + 4 + n


def public_key_of_private(text):
    """"ssh-ed25519 AAAA..." of an unencrypted OpenSSH ed25519 private key
    (PROTOCOL.key: "openssh-key-v1", cipher none, one key, matching check
    words, the public key repeated inside and at the end of the 64-byte
    secret); ValueError when it is not one that sshd would load (other key
    types included: boot() hands those to `ssh-keygen -y`)."""
    lines = (text or "").strip().splitlines()
    if len(lines) < 3 or lines[0].strip() != "-----BEGIN OPENSSH PRIVATE KEY-----" \
            or lines[-1].strip() != "-----END OPENSSH PRIVATE KEY-----":
        raise ValueError("not an OpenSSH private key")
    try:
        raw = base64.b64decode("".join(l.strip() for l in lines[1:-1]), validate=True)
    except ValueError:
        raise ValueError("bad base64")
    magic = b"openssh-key-v1\0"
    if not raw.startswith(magic):
        raise ValueError("not openssh-key-v1")
    try:
        off = len(magic)
        cipher, off = _ssh_string(raw, off)
        kdf, off = _ssh_string(raw, off)
        _, off = _ssh_string(raw, off)
        if cipher != b"none" or kdf != b"none":
            raise ValueError("the key is encrypted")
        if off + 4 > len(raw):
            raise ValueError("truncated")
        nkeys = struct.unpack(">I", raw[off:off + 4])[0]
        off += 4
        if nkeys != 1:
            raise ValueError("%d keys" % nkeys)
        pub_blob, off = _ssh_string(raw, off)
        priv, off = _ssh_string(raw, off)
        kind, boff = _ssh_string(pub_blob, 0)
        pk, boff = _ssh_string(pub_blob, boff)
        if kind != b"ssh-ed25519" or len(pk) != 32:
            raise ValueError("not an ed25519 key")
        if len(priv) < 8 or priv[:4] != priv[4:8]:
            raise ValueError("check words differ")
        k2, poff = _ssh_string(priv, 8)
        pk2, poff = _ssh_string(priv, poff)
        sk, poff = _ssh_string(priv, poff)
    except struct.error as e:
        raise ValueError(str(e))
    if k2 != kind or pk2 != pk or len(sk) != 64 or sk[32:] != pk:
        raise ValueError("inconsistent private key")
    return "ssh-ed25519 " + base64.b64encode(pub_blob).decode()


def listening(address, port):
    """True when a TCP socket listens on address:port (from /proc/net/tcp:
    no connection, so sshd forks nothing)."""
    want = "%08X:%04X" % (struct.unpack("<I", socket.inet_aton(address))[0], port)
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if len(parts) > 3 and parts[1] == want and parts[3] == "0A":
                    return True
    except (OSError, StopIteration):
        pass
    return False


def _write_script(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.chmod(path + ".tmp", 0o755)
    os.replace(path + ".tmp", path)


def _first_two(line):
    return " ".join(line.split()[:2])


# ---- /proc ------------------------------------------------------------------------------

def _stat(pid):
    """(state letter, ppid) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            s = f.read()
        rest = s[s.rindex(b")") + 2:].split(None, 2)
        return rest[0].decode("ascii", "replace"), int(rest[1])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid):
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def _uid(pid):
    try:
        return os.stat("/proc/%d" % pid).st_uid
    except OSError:
        return None


def _all_pids():
    try:
        return [int(d) for d in os.listdir("/proc") if d.isdigit()]
    except OSError:
        return []


def _environ(pid):
    """pid's environment as the kernel shows it (b"" for a zombie, and for a
    moment during an exec), or None when it cannot be read."""
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return f.read()
    except OSError:
        return None


def _has_exe(pid):
    """False for a zombie or a process that is gone (cheaper than _stat())."""
    try:
        os.readlink("/proc/%d/exe" % pid)
        return True
    except OSError:
        return False


def _ssh_server_of(pid, env=None):
    """(server address, server port) of pid's SSH_CONNECTION, or None."""
    if env is None:
        env = _environ(pid)
    for var in (env or b"").split(b"\0"):
        if var.startswith(b"SSH_CONNECTION="):
            parts = var[15:].split()
            if len(parts) == 4:
                try:
                    return parts[2].decode("ascii"), int(parts[3])
                except (UnicodeDecodeError, ValueError):
                    return None
            return None
    return None


def _children_files_work():
    try:
        tid = threading.get_native_id()
    except AttributeError:
        return False
    return os.path.exists("/proc/self/task/%d/children" % tid)


# whether /proc/PID/task/TID/children exists (CONFIG_PROC_CHILDREN); a test may
# set it False to force the /proc scan
CHILDREN_FILES = _children_files_work()


def _children(pid):
    """Children of every thread of pid (an empty list when pid is gone)."""
    out = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid), "rb") as f:
                out += [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            pass
    return out


def _we_are_subreaper():
    """PR_GET_CHILD_SUBREAPER of this process (True when it cannot be told)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        flag = ctypes.c_int(0)
        if libc.prctl(37, ctypes.byref(flag), 0, 0, 0) != 0:   # PR_GET_CHILD_SUBREAPER
            return True
        return flag.value != 0
    except Exception:      # noqa: BLE001
        return True


def _ancestors():
    """Where a detached process of a session can have been reparented to:
    pid 1 and the subreapers among this process's ancestors (its parent, ...;
    this process itself only when it is one)."""
    out, pid = [], os.getpid()
    if _we_are_subreaper():
        out.append(pid)
    while pid > 1:
        st = _stat(pid)
        pid = st[1] if st else 0
        if pid > 0 and pid not in out:
            out.append(pid)
    if 1 not in out:
        out.append(1)
    return out


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
        return True
    except OSError:
        return False


class _Sweep:
    """Finds the processes of some nodes (their listeners, everything below
    them, and detached session processes whose SSH_CONNECTION names one of
    their address:port pairs), SIGSTOPs each as it is found, and finally
    SIGKILLs them all.

    listeners: pids of the nodes' sshd; servers: {(address, port)}; uid: the
    login user's; other_listeners: the other nodes' sshd pids (their trees are
    not looked into for detached processes); scan: a full /proc scan even
    when children files exist."""

    def __init__(self, listeners, servers, uid, other_listeners=(), scan=False):
        self.listeners = [p for p in listeners if p]
        self.servers = set(servers)
        self.uid = uid
        self.other = set(p for p in other_listeners if p)
        self.scan = scan or not CHILDREN_FILES
        self.found = []            # in the order found (listeners first)
        self._found = set()
        self._ppid = {}            # scan mode: pid -> ppid as last read
        self._checked = set()      # pids known not to be detached processes of ours
        self._unsure = {}          # pid -> times its environment read empty
        self._recheck = False      # a round met a process to look at again
        self._reapers = None       # children-files mode: where orphans go
        self._killed = 0           # found[:_killed] were SIGKILLed

    def _take(self, pid):
        if pid in self._found or pid == os.getpid():
            return False
        self._found.add(pid)
        self.found.append(pid)
        _signal(pid, signal.SIGSTOP)
        return True

    def _detached(self, pid):
        """pid is a detached session process of one of the nodes. A process
        of the login user whose environment reads empty (it is in the middle
        of an exec) is looked at again in the next rounds (3 times at most:
        a process can have an empty environment)."""
        if pid in self._checked:
            return False
        if _uid(pid) != self.uid:
            self._checked.add(pid)
            return False
        env = _environ(pid)
        if not env:
            tries = self._unsure.get(pid, 0) + 1
            if not _has_exe(pid) or tries > 3:     # a zombie, or gone
                self._checked.add(pid)
            else:
                self._unsure[pid] = tries
                self._recheck = True
            return False
        self._checked.add(pid)
        return _ssh_server_of(pid, env) in self.servers

    # -- with children files --

    def _tree(self, roots):
        todo = list(roots)
        while todo:
            for c in _children(todo.pop()):
                if self._take(c):
                    todo.append(c)

    def _round_children(self):
        n = len(self.found)
        self._tree(list(self.found))
        if self._reapers is None:
            self._reapers = _ancestors()
        for anc in self._reapers:
            # read twice: a children file read while the reaper reaps can
            # skip an entry
            for c in dict.fromkeys(_children(anc) + _children(anc)):
                if c not in self._found and c not in self.other and self._detached(c):
                    self._take(c)
                    self._tree([c])
        return len(self.found) > n

    # -- with a /proc scan --

    def _read(self, pids):
        for pid in pids:
            st = _stat(pid)
            if st is not None:
                self._ppid[pid] = st[1]

    def _round_scan(self, first):
        n = len(self.found)
        pids = _all_pids()
        if first:
            self._read(pids)
        else:
            # only what appeared since (a stopped process forks nothing more,
            # but a fork in flight when it was stopped completes)
            new = [p for p in pids if p not in self._ppid]
            self._read(new)
        kids = {}
        for pid, ppid in self._ppid.items():
            kids.setdefault(ppid, []).append(pid)

        def tree(roots):
            todo = list(roots)
            while todo:
                for c in kids.get(todo.pop(), ()):
                    if self._take(c):
                        todo.append(c)

        tree(list(self.found))
        # detached processes: not below any listener of this host
        below = set()
        todo = list(self.other) + list(self.found)
        while todo:
            for c in kids.get(todo.pop(), ()):
                if c not in below:
                    below.add(c)
                    todo.append(c)
        for pid in list(self._ppid):
            if pid in self._found or pid in below or pid in self.other:
                continue
            if self._detached(pid):
                self._take(pid)
                tree([pid])
        return len(self.found) > n

    def _wait_stopped(self):
        deadline = time.monotonic() + STOP_WAIT
        pending = list(self.found[self._killed:])
        while pending and time.monotonic() < deadline:
            left = []
            for pid in pending:
                st = _stat(pid)
                if st is not None and st[0] not in ("T", "t", "Z", "X"):
                    left.append(pid)
            pending = left
            if pending:
                time.sleep(0.001)

    def run(self):
        """Returns the pids found (all SIGKILLed)."""
        for pid in self.listeners:
            self._take(pid)
        self._collect(first=True)
        return self._kill_new()

    def again(self):
        """One more look once the processes found are gone: anything that
        slipped away (forked before a SIGSTOP took effect) is an orphan now,
        found among the reapers' children (or the new pids). Returns the pids
        found and SIGKILLed this time."""
        self._collect(first=False)
        return self._kill_new()

    def _kill_new(self):
        new = self.found[self._killed:]
        self._killed = len(self.found)
        for pid in new:
            _signal(pid, signal.SIGKILL)
        return new

    def _collect(self, first):
        for k in range(12):
            self._recheck = False
            if self.scan:
                more = self._round_scan(first and k == 0)
            else:
                more = self._round_children()
            if not more and not self._recheck and (k > 0 or not first):
                break
            self._wait_stopped()
            if self._recheck and not more:
                time.sleep(0.001)    # let an exec finish


def _wait_gone(pids, procs, timeout=KILL_TIMEOUT):
    """Reaps procs (Popen) and waits until pids are gone or zombies; returns
    those still alive after timeout."""
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(timeout=max(0.01, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    ours = set(p.pid for p in procs)
    pending = [p for p in pids if p not in ours]
    pause = 0.0005
    while True:
        pending = [p for p in pending if _alive(p)]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(pause)
        pause = min(pause * 1.2, 0.01)
    return sorted(pending + [p.pid for p in procs if p.poll() is None])


# ---- nodes --------------------------------------------------------------------------

class Node:
    """One sshd "instance" (see the module docstring). Attributes besides the
    API: name, dir, config, pidfile, log, authorized_keys_path, host_key_path,
    proc (Popen of the listening sshd or None), pid (its pid while running)."""

    def __init__(self, host, name, address, port, claim_fd):
        self.host = host
        self.name = name
        self.address = address
        self.port = port
        self.dir = os.path.join(host.workdir, name)
        self.config = os.path.join(self.dir, "sshd_config")
        self.pidfile = os.path.join(self.dir, "sshd.pid")
        self.log = os.path.join(self.dir, "sshd.log")
        self.authorized_keys_path = os.path.join(self.dir, "authorized_keys")
        # first on the sessions' PATH: shims for shutdown / poweroff / halt
        # (and sudo) that record a power-off request instead of acting
        self.bin_dir = os.path.join(self.dir, "bin")
        self.power_dir = os.path.join(self.dir, "power")      # the login user's
        self.shutdown_flag = os.path.join(self.power_dir, "shutdown-requested")
        self.host_key_path = os.path.join(self.dir, "ssh_host_ed25519_key")
        self.host_public = None
        self.host_key_source = None
        self.failed = None
        self.proc = None
        self._claim_fd = claim_fd
        self._lock = threading.RLock()       # spawning / killing its sshd
        self._cond = threading.Condition()   # ready / failed / killed changes
        self._ready = threading.Event()
        self._killed = False
        self._thread = None

    # -- state --

    @property
    def ready(self):
        """True while sshd listens (cleared by kill() and during rekey())."""
        return self._ready.is_set()

    @property
    def alive(self):
        """True while the listening sshd runs."""
        p = self.proc
        return p is not None and p.poll() is None

    @property
    def killed(self):
        return self._killed

    @property
    def pid(self):
        p = self.proc
        return p.pid if p is not None and p.poll() is None else None

    def _set(self, ready=None, failed=None):
        with self._cond:
            if ready is True:
                self._ready.set()
            elif ready is False:
                self._ready.clear()
            if failed is not None:
                self.failed = failed
            self._cond.notify_all()

    def wait_ready(self, timeout=10.0):
        """True once sshd listens; False when it failed, the node was killed,
        or after timeout seconds (None: until the boot is over, which
        host.start_timeout bounds)."""
        with self._cond:
            self._cond.wait_for(lambda: self._ready.is_set() or self.failed is not None
                                or self._killed, timeout)
            return self._ready.is_set()

    def __repr__(self):
        return "<Node %s %s:%d%s>" % (self.name, self.address, self.port,
                                       " killed" if self._killed else
                                       " failed" if self.failed else
                                       " ready" if self.ready else "")

    # -- boot --

    def _write_host_key(self, private):
        path = self.host_key_path
        for f in (path, path + ".pub"):
            if os.path.exists(f):
                os.unlink(f)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(private if private.endswith("\n") else private + "\n")
        pub = self.host_public
        if pub is None:
            r = sshnodes.run([sshnodes.SSH_KEYGEN, "-y", "-f", path])
            if r.returncode != 0 or not r.stdout.strip():
                raise RuntimeError("the given host key does not load (ssh-keygen -y: %s)"
                                   % (r.stderr.strip() or "status %d" % r.returncode))
            pub = _first_two(r.stdout.strip())
        with open(path + ".pub", "w") as f:
            f.write(pub + "\n")
        return pub

    def _new_host_key(self, comment):
        sshnodes.keygen(self.host_key_path, comment)
        with open(self.host_key_path + ".pub") as f:
            return _first_two(f.read())

    def _spawn(self):
        """Under self._lock: starts sshd unless the node is killed."""
        if self._killed:
            return False
        self.proc = sshnodes.spawn_sshd(self.config, self.log, self.pidfile, self.address,
                                        self.port)
        return True

    def _wait_listening(self, proc):
        """True once proc listens; False when the node was killed meanwhile;
        RuntimeError when sshd exits or is not ready in time."""
        deadline = time.monotonic() + float(self.host.start_timeout)
        pause = 0.005
        while True:
            if self._killed or self.host._closing:
                return False
            if proc.poll() is not None:
                if self._killed:
                    return False
                raise RuntimeError("sshd on %s:%d exited with status %s; log %s:\n%s"
                                   % (self.address, self.port, proc.returncode, self.log,
                                      sshnodes.log_tail_of(self.log, since_start=True)))
            # sshd writes its PidFile once it listens; the listen check is a
            # second opinion that, unlike a TCP probe, makes sshd fork nothing
            try:
                with open(self.pidfile) as f:
                    written = int(f.read().strip() or 0) == proc.pid
            except (OSError, ValueError):
                written = False
            if written and listening(self.address, self.port):
                return True
            if time.monotonic() >= deadline:
                raise RuntimeError("sshd on %s:%d not ready after %.0fs; log %s:\n%s"
                                   % (self.address, self.port, self.host.start_timeout,
                                      self.log, sshnodes.log_tail_of(self.log)))
            time.sleep(pause)
            pause = min(pause * 1.5, 0.05)

    def _write_shims(self):
        """bin/shutdown, poweroff, halt: append "NAME ARGS" to shutdown_flag
        (in power/, which the login user owns) and exit 0; bin/sudo: drops
        its options and runs the command as the login user (so that `sudo -n
        shutdown` reaches the shim, never the real one)."""
        os.makedirs(self.bin_dir, exist_ok=True)
        os.chmod(self.bin_dir, 0o755)
        os.makedirs(self.power_dir, exist_ok=True)
        os.chown(self.power_dir, self.host.uid, self.host.gid)
        os.chmod(self.power_dir, 0o755)
        flag = self.shutdown_flag.replace("'", "'\\''")
        for name in POWER_COMMANDS:
            _write_script(os.path.join(self.bin_dir, name),
                          "#!/bin/sh\n# fake %s (tests/fakes/fakenodes.py): records the request\n"
                          "printf '%%s\\n' \"%s $*\" >> '%s'\n" % (name, name, flag))
        _write_script(os.path.join(self.bin_dir, "sudo"),
                      "#!/bin/sh\n# fake sudo (tests/fakes/fakenodes.py): no privileges\n"
                      "while [ $# -gt 0 ]; do case $1 in --) shift; break;; "
                      "-u|-g|-p|-C|-D|-r|-t|-U) shift 2;; -*) shift;; *) break;; esac; done\n"
                      "exec \"$@\"\n")

    @property
    def shutdown_requested(self):
        """The power-off requests the node's sessions made ("shutdown -h now"
        lines), or None when there was none."""
        try:
            with open(self.shutdown_flag) as f:
                return f.read()
        except OSError:
            return None

    def _boot(self, authorized_keys, private):
        try:
            with open(self.authorized_keys_path, "w") as f:
                f.write("".join(k + "\n" for k in authorized_keys))
            os.chmod(self.authorized_keys_path, 0o644)
            if private is not None:
                pub = self._write_host_key(private)
            else:
                pub = self._new_host_key("fakenodes-%s" % self.name)
            self.host_public = pub
            sshnodes.write_sshd_config(self.config, self.address, self.port, self.host_key_path,
                                       self.authorized_keys_path, self.pidfile, "VERBOSE",
                                       "fake cloud instance %s (tests/fakes/fakenodes.py)"
                                       % self.name)
            self._write_shims()
            with open(self.config, "a") as f:
                # SetEnv (OpenSSH >= 7.8) overrides the session's default PATH
                f.write("SetEnv PATH=%s:%s\n" % (self.bin_dir, SESSION_PATH))
            with self._lock:
                if not self._spawn():
                    return
                proc = self.proc
            if self._wait_listening(proc):
                self._set(ready=True)
        except Exception as e:     # noqa: BLE001 - any failure: the boot failed
            if not self._killed and not self.host._closing:
                self._fail("%s" % e)

    def _fail(self, message):
        """The node could not start: its sshd (if any) is killed, the claim kept
        until kill() / host.close()."""
        with self._lock:
            proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                self.host._sweep([self], release=False)
            except Exception:      # noqa: BLE001
                pass
        self._set(ready=False, failed=message)

    # -- control --

    def kill(self):
        """SIGKILLs sshd and every session of it (detached ones included) and
        releases the address; returns the pids killed. Idempotent."""
        return self.host.kill_nodes([self])

    def rekey(self):
        """Restarts sshd with a NEW generated host key (its sessions are
        killed); returns the new "ssh-ed25519 AAAA..." once sshd listens.
        RuntimeError when the node is killed, failed, or sshd does not start."""
        if not self.wait_ready(timeout=self.host.start_timeout + 5):
            raise RuntimeError("fakenodes: rekey(%s): the node is not running (%s)"
                               % (self.name, "killed" if self._killed
                                  else self.failed or "not ready"))
        with self._lock:
            if self._killed:
                raise RuntimeError("fakenodes: rekey(%s): the node is killed" % self.name)
            self._set(ready=False)
            self.host._sweep([self], release=False)
            pub = self._new_host_key("fakenodes-%s-rekeyed" % self.name)
            self.host_public = pub
            self.host_key_source = "rekeyed"
            if not self._spawn():
                raise RuntimeError("fakenodes: rekey(%s): the node is killed" % self.name)
            proc = self.proc
        try:
            ok = self._wait_listening(proc)
        except RuntimeError as e:
            self._fail(str(e))
            raise RuntimeError("fakenodes: rekey(%s): %s" % (self.name, e))
        if not ok:
            raise RuntimeError("fakenodes: rekey(%s): the node was killed" % self.name)
        self._set(ready=True)
        return pub


class NodeHost:
    """The machine the fake instances run on (see the module docstring).
    Attributes: workdir, user, uid, gid, nodes, start_timeout (seconds a boot
    may take, default START_TIMEOUT)."""

    def __init__(self, workdir, user="skytest"):
        self.workdir = os.path.abspath(workdir)
        self.user = user
        self.nodes = []
        self.start_timeout = START_TIMEOUT
        self._closing = False
        self._closed = False
        self._lock = threading.Lock()      # nodes, names, address cursor, claims
        self._cursor = 0
        os.makedirs(self.workdir, exist_ok=True)
        self._pw = sshnodes.ensure_user(user)
        self.uid, self.gid = self._pw.pw_uid, self._pw.pw_gid
        sshnodes.prepare_sshd()
        sshnodes.make_searchable(self.workdir, "fakenodes: user %s could not read the nodes' "
                                 "authorized_keys under %s" % (user, self.workdir))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _claim(self):
        """(address, lock fd) of the next free ADDRESSES entry after the cursor
        (so that an address just given back is not reused at once), or None."""
        n = len(ADDRESSES)
        for k in range(n):
            i = (self._cursor + k) % n
            fd = sshnodes.claim_address(ADDRESSES[i], PORT)
            if fd is not None:
                self._cursor = (i + 1) % n
                return ADDRESSES[i], fd
        return None

    def boot(self, authorized_keys=(), host_key_private=None, name=None):
        """A new node (see the module docstring); returns at once, its sshd
        starting in a background thread. RuntimeError when no address can be
        claimed (or the host is closed); ValueError for a bad name."""
        keys = [k.strip() for k in (authorized_keys or ()) if k and k.strip()]
        if isinstance(authorized_keys, str):
            raise ValueError("fakenodes: authorized_keys is a list of public key lines")
        with self._lock:
            if self._closing:
                raise RuntimeError("fakenodes: the host is closed")
            if name is None:
                name = "node%d" % len(self.nodes)
            if not name or "/" in name or name in (".", "..") or "\0" in name:
                raise ValueError("fakenodes: bad node name %r" % name)
            if any(n.name == name and not n._killed for n in self.nodes):
                raise ValueError("fakenodes: a live node is already named %r" % name)
            c = self._claim()
            if c is None:
                raise RuntimeError("fakenodes: no free loopback address for a node "
                                   "(127.0.%d.1-127.0.%d.254 port %d are all claimed or in use)"
                                   % (ADDRESS_BLOCKS[0], ADDRESS_BLOCKS[-1], PORT))
            node = Node(self, name, c[0], PORT, c[1])
            self.nodes.append(node)
        try:
            os.makedirs(node.dir, exist_ok=True)
            os.chmod(node.dir, 0o755)
        except OSError:
            node.kill()
            raise
        if host_key_private is not None:
            node.host_key_source = "given"
            try:
                node.host_public = public_key_of_private(host_key_private)
            except ValueError:
                node.host_public = None      # not ed25519 (or broken): ssh-keygen -y decides
                node.host_key_path = os.path.join(node.dir, "ssh_host_key")
        else:
            node.host_key_source = "generated"
        node._thread = threading.Thread(target=node._boot, args=(keys, host_key_private),
                                        name="fakenodes-boot-%s" % name, daemon=True)
        node._thread.start()
        return node

    def _sweep(self, nodes, release, scan=False):
        """Kills the processes of nodes (whose _lock the caller may hold);
        returns (pids killed, survivors)."""
        spawned = [n for n in nodes if n.proc is not None]
        if not spawned:
            # no sshd was ever started for them: nothing can run there
            pids, left = [], []
        else:
            pids, left = self._kill_processes(spawned, scan)
        if release:
            for n in nodes:
                with self._lock:
                    fd, n._claim_fd = n._claim_fd, None
                sshnodes.release_claim(fd)
        return pids, left

    def _kill_processes(self, nodes, scan):
        with self._lock:
            others = [n.pid for n in self.nodes if n not in nodes]
        procs = [n.proc for n in nodes if n.proc is not None and n.proc.poll() is None]
        sweep = _Sweep([p.pid for p in procs], [(n.address, n.port) for n in nodes],
                       self.uid, others, scan=scan)
        pids = sweep.run()
        left = _wait_gone(pids, procs)
        for _ in range(3):
            more = sweep.again()
            if not more:
                break
            pids += more
            left += _wait_gone(more, [])
        return pids, left

    def kill_nodes(self, nodes, scan=False):
        """node.kill() for several nodes at once (one sweep; scan: a full /proc
        scan even where children files would do). Returns the pids killed;
        RuntimeError when one survives SIGKILL."""
        todo = []
        for n in nodes:
            with n._lock:
                if n._killed:
                    continue
                n._killed = True
            n._set(ready=False)
            todo.append(n)
        if not todo:
            return []
        # _killed was set under each node's _lock, which _spawn() holds: no
        # boot thread or rekey() starts an sshd for them any more
        pids, left = self._sweep(todo, release=True, scan=scan)
        if left:
            raise RuntimeError("fakenodes: processes survived SIGKILL: %s" % left)
        return pids

    def close(self):
        """Kills every node still running (one sweep, with a full /proc scan),
        releases every claim and waits for the boot threads. Idempotent.
        RuntimeError when a process survives SIGKILL."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._closing = True
            nodes = list(self.nodes)
        problem = None
        try:
            self.kill_nodes(nodes, scan=True)
        except RuntimeError as e:
            problem = e
        deadline = time.monotonic() + sshnodes.CMD_TIMEOUT + 2
        for n in nodes:
            if n._thread is not None:
                n._thread.join(timeout=max(0.1, deadline - time.monotonic()))
        if problem is not None:
            raise problem
