"""Tests of the sshd test-node harness (sshnodes.py) itself: no skyfs mount.

They need root (the harness creates the login user "skytest") and OpenSSH's
sshd, ssh, sftp and ssh-keygen; they are skipped when /usr/sbin/sshd is
missing.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import sshnodes
from sshnodes import SshNodes, pid_alive, proc_state

USER = "skytest"


@unittest.skipUnless(sshnodes.have_sshd(),
                     "OpenSSH server not installed (%s missing): apt-get install openssh-server"
                     % sshnodes.SSHD)
class SshNodesTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="skyfs-it-sshnodes-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self._nodes = []
        self.addCleanup(self._collect_logs)

    def _collect_logs(self):
        tails = []
        for nodes in self._nodes:
            tails += [(log, tail) for log, tail in nodes.log_tails(15) if tail]
        self.log_tails = tails

    def nodes(self, n, **kw):
        """An SshNodes (not started) whose logs are reported on failure."""
        nodes = SshNodes(n, os.path.join(self.dir, "nodes%d" % len(self._nodes)), user=USER, **kw)
        self._nodes.append(nodes)
        return nodes

    def assertAnswers(self, nodes, i, msg=None):
        r = nodes.ssh(i, "echo alive", timeout=10)
        self.assertEqual((r.returncode, r.stdout), (0, "alive\n"),
                         "%snode %d: %s" % (msg + ": " if msg else "", i, r.stderr))

    # ---- the nodes ----

    def test_three_nodes_answer_as_themselves(self):
        with self.nodes(3) as nodes:
            addrs = [(nodes.address(i), nodes.port(i)) for i in range(3)]
            self.assertEqual(len(set(addrs)), 3, addrs)
            self.assertEqual(nodes.hosts_spec(),
                             ", ".join("%s@%s:%d" % (USER, a, p) for a, p in addrs))
            for i in range(3):
                r = nodes.ssh(i, "echo $USER $(hostname) $SSH_CONNECTION")
                self.assertEqual(r.returncode, 0, r.stderr)
                words = r.stdout.split()
                self.assertEqual(len(words), 6, r.stdout)
                self.assertEqual(words[0], USER)
                self.assertEqual(words[1], socket.gethostname())
                # SSH_CONNECTION: client-ip client-port server-ip server-port
                self.assertEqual((words[4], int(words[5])), addrs[i], r.stdout)
                # known_hosts line and fingerprint of this node's own key
                line = nodes.known_hosts_line(i)
                name = addrs[i][0] if addrs[i][1] == 22 else "[%s]:%d" % addrs[i]
                self.assertRegex(line, r"^%s ssh-ed25519 AAAA[A-Za-z0-9+/=]+$"
                                 % name.replace(".", r"\.").replace("[", r"\[")
                                 .replace("]", r"\]"))
                self.assertRegex(nodes.host_fingerprint(i), r"^SHA256:[A-Za-z0-9+/]{43}$")
            self.assertEqual(len({nodes.host_fingerprint(i) for i in range(3)}), 3)
            with open(nodes.known_hosts) as f:
                self.assertEqual(f.read().splitlines(),
                                 [nodes.known_hosts_line(i) for i in range(3)])

    def test_login_shell_is_sh_and_fast(self):
        with self.nodes(1) as nodes:
            t0 = time.monotonic()
            r = nodes.ssh(0, 'echo "$0"; getent passwd "$USER" | cut -d: -f7')
            took = time.monotonic() - t0
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "sh\n/bin/sh\n")
            self.assertLess(took, 2.0, "one ssh round trip took %.2fs" % took)

    def test_sftp_put_get(self):
        with self.nodes(1) as nodes:
            src = os.path.join(self.dir, "src.bin")
            back = os.path.join(self.dir, "back.bin")
            data = os.urandom(256 * 1024)
            with open(src, "wb") as f:
                f.write(data)
            remote = os.path.join(nodes.remote_dir(0), "up.bin")
            r = nodes.sftp(0, "put %s %s\nget %s %s\n" % (src, remote, remote, back))
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(back, "rb") as f:
                self.assertEqual(f.read(), data)
            st = os.stat(remote)
            self.assertEqual(st.st_uid, nodes.uid, "uploaded as the login user")

    def test_unknown_host_key_refused(self):
        with self.nodes(2) as nodes:
            only1 = nodes.write_known_hosts(os.path.join(self.dir, "kh1"), nodes=[1])
            r = nodes.ssh(0, "true", known_hosts=only1)
            self.assertEqual(r.returncode, 255)
            self.assertIn("Host key verification failed", r.stderr)
            r = nodes.ssh(1, "echo ok", known_hosts=only1)
            self.assertEqual((r.returncode, r.stdout), (0, "ok\n"), r.stderr)

    # ---- failures ----

    def test_pause_hangs_connects_resume_restores(self):
        with self.nodes(2) as nodes:
            stopped = nodes.pause(1)
            self.assertIn(nodes.listener_pid(1), stopped)
            t0 = time.monotonic()
            r = nodes.ssh(1, "true", options=["-o", "ConnectTimeout=2"], timeout=10)
            took = time.monotonic() - t0
            self.assertEqual(r.returncode, 255, r.stdout)
            self.assertIn("timed out", r.stderr)
            self.assertGreater(took, 1.5)
            self.assertLess(took, 6)
            self.assertAnswers(nodes, 0, "while node 1 is paused")
            nodes.resume(1)
            self.assertAnswers(nodes, 1, "after resume")

    def test_pause_freezes_a_running_job(self):
        with self.nodes(2) as nodes:
            p = subprocess.Popen(nodes.ssh_args(1, "echo start; sleep 1; echo end"),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, start_new_session=True)
            self.addCleanup(lambda: p.poll() is None and p.kill())
            lines = []
            reader = threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True)
            reader.start()
            deadline = time.monotonic() + 5
            while lines != [b"start\n"] and time.monotonic() < deadline:
                time.sleep(0.01)
            self.assertEqual(lines, [b"start\n"])

            def comms():
                out = []
                for pid in nodes.session_pids(1):
                    try:
                        with open("/proc/%d/comm" % pid) as f:
                            out.append(f.read().strip())
                    except OSError:
                        pass
                return out
            # "start" can come before the shell forked its sleep
            deadline = time.monotonic() + 5
            while "sleep" not in comms() and time.monotonic() < deadline:
                time.sleep(0.01)
            stopped = nodes.pause(1)
            self.assertTrue(nodes.session_pids(1), "no session processes found")
            for pid in stopped:
                self.assertIn(proc_state(pid), ("T", "Z", None), "pid %d" % pid)
            self.assertIn("sleep", comms())
            time.sleep(1.5)
            self.assertIsNone(p.poll(), "the job finished while its node was paused")
            self.assertEqual(lines, [b"start\n"])
            self.assertAnswers(nodes, 0, "while node 1 is paused")
            nodes.resume(1)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.fail("the job did not finish after resume")
            reader.join(5)
            self.assertEqual(p.returncode, 0, p.stderr.read())
            self.assertEqual(lines, [b"start\n", b"end\n"])

    def test_kill_refuses_restart_keeps_host_key(self):
        with self.nodes(3) as nodes:
            fp = nodes.host_fingerprint(2)
            old = nodes.listener_pid(2)
            nodes.kill(2)
            self.assertFalse(pid_alive(old))
            t0 = time.monotonic()
            r = nodes.ssh(2, "true", options=["-o", "ConnectTimeout=2"])
            took = time.monotonic() - t0
            self.assertEqual(r.returncode, 255)
            self.assertIn("Connection refused", r.stderr)
            self.assertLess(took, 1.5)
            self.assertAnswers(nodes, 1, "while node 2 is dead")
            addr = (nodes.address(2), nodes.port(2))
            nodes.restart(2)
            self.assertEqual((nodes.address(2), nodes.port(2)), addr)
            self.assertNotEqual(nodes.listener_pid(2), old)
            self.assertEqual(nodes.host_fingerprint(2), fp)
            self.assertAnswers(nodes, 2, "after restart, same known_hosts")

    def test_rekey_changed_host_key_refused(self):
        with self.nodes(2) as nodes:
            before = nodes.host_fingerprint(0)
            line = nodes.known_hosts_line(0)
            nodes.rekey(0)
            self.assertNotEqual(nodes.host_fingerprint(0), before)
            self.assertNotEqual(nodes.known_hosts_line(0), line)
            r = nodes.ssh(0, "true")
            self.assertEqual(r.returncode, 255)
            self.assertIn("REMOTE HOST IDENTIFICATION HAS CHANGED", r.stderr)
            self.assertAnswers(nodes, 1, "the other node")
            nodes.write_known_hosts()
            self.assertAnswers(nodes, 0, "after known_hosts was rewritten")

    def test_fallback_to_free_port_when_address_taken(self):
        # whatever holds 127.0.0.2:22 (a test's socket here), node 0 must move
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # connections of earlier tests leave TIME_WAIT entries on that port,
        # which would make a plain bind fail (and leave the port free to sshd)
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.addCleanup(blocker.close)
        try:
            blocker.bind(("127.0.0.2", 22))
            blocker.listen(1)
        except OSError:
            pass    # already taken by someone else: the fallback is needed anyway
        with self.nodes(1) as nodes:
            self.assertEqual(nodes.address(0), "127.0.0.1")
            self.assertNotEqual(nodes.port(0), 22)
            self.assertTrue(nodes.known_hosts_line(0).startswith("[127.0.0.1]:%d ssh-ed25519 "
                                                                 % nodes.port(0)))
            self.assertEqual(nodes.hosts_spec(), "%s@127.0.0.1:%d" % (USER, nodes.port(0)))
            r = nodes.ssh(0, "echo $SSH_CONNECTION")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.split()[2:] == ["127.0.0.1", str(nodes.port(0))], r.stdout)
            nodes.restart(0)
            self.assertAnswers(nodes, 0, "after restart on the fallback port")

    def test_exit_leaves_nothing_behind(self):
        nodes = self.nodes(3)
        with self.assertRaises(ZeroDivisionError):
            with nodes:
                listeners = [nodes.listener_pid(i) for i in range(3)]
                # a detached job (new session, reparented to init) on node 0
                r = nodes.ssh(0, "setsid sleep 60 </dev/null >/dev/null 2>&1 & echo $!")
                self.assertEqual(r.returncode, 0, r.stderr)
                detached = int(r.stdout)
                self.assertTrue(pid_alive(detached))
                # a running session on node 1, then the node frozen
                p = subprocess.Popen(nodes.ssh_args(1, "echo start; sleep 60"),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
                self.addCleanup(lambda: p.poll() is None and p.kill())
                self.assertEqual(p.stdout.readline(), b"start\n")
                sessions = nodes.session_pids(1)
                self.assertTrue(sessions)
                nodes.pause(1)
                nodes.kill(2)
                nodes.restart(2)
                listeners.append(nodes.listener_pid(2))
                1 / 0
        for pid in listeners + sessions + [detached]:
            self.assertFalse(pid_alive(pid), "pid %d still alive" % pid)
        self.assertEqual(nodes.survivors(), [])
        left = [pid for pid in sshnodes._all_pids() if pid_alive(pid)
                and nodes.workdir.encode() in sshnodes._environ(pid) + _cmdline(pid)]
        self.assertEqual(left, [])
        try:
            p.wait(timeout=5)   # the client sees its connection go away
        except subprocess.TimeoutExpired:
            self.fail("ssh client still connected after the nodes stopped")


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return b""


if __name__ == "__main__":
    unittest.main()
