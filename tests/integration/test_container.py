"""Container pools through the mount (provider = container), on real podman
containers: every node a container running this machine's root filesystem
under an overlay, its sshd published on 127.0.0.1. A 2-node pool runs jobs
and a broadcast (own hostname, SKY_NODE_ADDRS, $SKY_OUTPUT files, exit
codes, cancel); rmdir leaves no container, network, forwarding or firewall
rule behind; a bad image fails the pool with podman's words; a crashed
daemon's successor adopts the same containers; the orphan sweep removes this
mount's containers whose pool is gone (never another mount's); the dead-man
switch ends the containers of a dead daemon; the provider's status names
podman's version.

The tests bring their own containers.conf (machine-notes "Containers": runc,
ulimits the machine allows, no default network namespace) and pass it to
the daemon as CONTAINERS_CONF. They are skipped only where podman is
missing or cannot run `podman run --rm --rootfs /:O true` with it (or the
host has no sshd for the containers to run). Every container a test's mounts
made (label skyfs.mount=<the mount's id>) is removed at its end, whatever
happened, and one still there then fails the test."""

import os
import re
import shutil
import signal
import socket
import tempfile
import time
import unittest

from harness import (SkyfsTestCase, fusermount_u, kv_lines, processes_with_cmdline, read,
                     run_cmd, state, wait_for, write)
import sshnodes   # its sshd runs in the containers; run.py weighs the module as slow

PODMAN = shutil.which("podman")
CONTAINERS_CONF = ('[containers]\n'
                   'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
                   'netns = "none"\n'
                   '[engine]\n'
                   'runtime = "runc"\n')
READY_S = 45          # a container pool is ready in a few seconds
SPEC = "provider = container\n"
BAD_IMAGE = "localhost/skyfs-test-no-such-image:none"


def _fnv1a(h, s):
    for c in s.encode():
        h = ((h ^ c) * 16777619) & 0xffffffff
    return h


def mount_id(state_dir):
    """sky_mount_id() of a daemon on state_dir: what skyfs.mount labels."""
    return "%08x" % _fnv1a(_fnv1a(_fnv1a(2166136261, socket.gethostname()), ":"), state_dir)


def _probe():
    """None when podman runs a container here with our configuration, else
    why not."""
    if not PODMAN:
        return "podman is not installed (apt-get install podman runc slirp4netns uidmap)"
    if not sshnodes.have_sshd():
        return ("sshd is not installed (apt-get install openssh-server): the containers "
                "run this machine's root filesystem and its sshd")
    return None


class ContainerPools(SkyfsTestCase):
    autostart = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = _probe()
        if why:
            raise unittest.SkipTest(why)
        cls.conf_dir = tempfile.mkdtemp(prefix="skyfs-ct-conf-")
        cls.conf = os.path.join(cls.conf_dir, "containers.conf")
        write(cls.conf, CONTAINERS_CONF)
        cls.penv = dict(os.environ, CONTAINERS_CONF=cls.conf)
        try:
            r = run_cmd([PODMAN, "run", "--rm", "--rootfs", "/:O", "true"], timeout=60,
                        env=cls.penv)
            why = None if r.returncode == 0 else "exit %d: %s" % (
                r.returncode, (r.stderr or r.stdout).strip()[-500:])
        except AssertionError as e:
            why = str(e)
        if why:
            shutil.rmtree(cls.conf_dir, ignore_errors=True)
            raise unittest.SkipTest("podman cannot run a container here "
                                    "(podman run --rm --rootfs /:O true, CONTAINERS_CONF=%s): %s"
                                    % (CONTAINERS_CONF.replace("\n", " "), why))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.conf_dir, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        self.state_dirs = []
        # registered before the harness's cleanup, so it runs after it: once
        # the daemons are unmounted (which tears their pools down)
        self.addCleanup(self._remove_containers)
        super().setUp()
        self.daemon = self.start_daemon()

    def start_daemon(self, state_dir=None, mnt=None, env=None, wait=True, args=()):
        e = {"CONTAINERS_CONF": self.conf}
        e.update(env or {})
        self.state_dirs.append(state_dir or self.state)
        return super().start_daemon(state_dir, mnt, e, wait, args)

    def _remove_containers(self):
        left = []
        for sd in set(self.state_dirs):
            names = self.containers(sd)
            if names:
                left += names
                self.podman("rm", "-f", "-t", "0", *names, timeout=60)
        if left:
            raise AssertionError("at teardown: containers left behind (removed): %s"
                                 % ", ".join(left))

    # -- podman

    def podman(self, *args, timeout=30, check=True):
        r = run_cmd([PODMAN] + list(args), timeout=timeout, env=self.penv)
        if check and r.returncode != 0:
            self.fail("podman %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                  (r.stderr + r.stdout).strip()))
        return r

    def containers(self, state_dir=None, running=False, fmt="{{.Names}}"):
        """The containers (any state unless running) labelled as a daemon's
        on state_dir (default this test's)."""
        args = ["ps", "--filter", "label=skyfs.mount=" + mount_id(state_dir or self.state),
                "--format", fmt]
        if not running:
            args.insert(1, "-a")
        return sorted(line for line in self.podman(*args).stdout.splitlines() if line)

    # -- helpers

    def crash(self):
        """SIGKILL the daemon (its whole process group); the mount goes lazily."""
        os.killpg(self.daemon.pid, signal.SIGKILL)
        self.assertIsNotNone(self.daemon.wait_exit(10), "the daemon survived SIGKILL")
        fusermount_u(self.mnt, lazy=True)
        wait_for(lambda: not os.path.ismount(self.mnt), 10, what="the mount gone")

    def node(self, pool, name):
        return kv_lines(read(os.path.join(pool, "nodes", name)))

    def res(self, pool, name, *rest):
        return os.path.join(pool, "results", name, *rest)

    # -- the tests

    def test_two_nodes_jobs_broadcast_files_exit_codes_cancel(self):
        pool = self.make_pool("ct", SPEC + "nodes = 2\nslots = 2\n", timeout=READY_S)
        names = self.containers(running=True)
        self.assertEqual(len(names), 2, names)
        labels = self.containers(fmt="{{.Names}} {{index .Labels \"skyfs.node\"}} "
                                 "{{index .Labels \"skyfs.mount\"}}")
        addrs = []
        for rank in range(2):
            n = self.node(pool, "node-%d" % rank)
            self.assertEqual(n["state"], "ready")
            self.assertEqual(n["provider"], "container")
            self.assertIn(n["instance"], names)
            self.assertIn("%s %d %s" % (n["instance"], rank, mount_id(self.state)), labels)
            self.assertRegex(n["address"], r"^127\.0\.0\.1:\d+$")
            addrs.append(n["address"])
        self.assertEqual(len(set(addrs)), 2, addrs)

        # jobs: own hostname, the node's address among SKY_NODE_ADDRS, files, exit codes
        job = ('hostname; echo "$SKY_NODE $SKY_NODE_RANK"; echo "$SKY_NODE_ADDRS"\n'
               'mkdir -p "$SKY_OUTPUT/sub" && hostname > "$SKY_OUTPUT/sub/host.txt"\n'
               'sleep 0.5; exit $1\n')
        for i in range(4):
            self.submit(pool, "j%d" % i, job.replace("$1", str(i)))
        used = set()
        for i in range(4):
            self.assertWait(pool, "j%d" % i, i, timeout=30)
            host, who, *lines = read(self.res(pool, "j%d" % i, "stdout")).splitlines()
            node, rank = who.split()
            self.assertEqual(kv_lines(read(self.res(pool, "j%d" % i, "status")))["node"], node)
            self.assertEqual(node, "node-%s" % rank)
            self.assertEqual(host, "ct-%s" % rank)
            self.assertEqual(lines, addrs)
            self.assertEqual(lines[int(rank)], self.node(pool, node)["address"])
            self.assertEqual(read(self.res(pool, "j%d" % i, "files", "sub", "host.txt")),
                             host + "\n")
            self.assertEqual(read(self.res(pool, "j%d" % i, "exit")), "%d\n" % i)
            used.add(node)
        self.assertEqual(used, {"node-0", "node-1"}, "4 jobs, 2 nodes with 2 slots each")
        self.assertEqual(read(self.res(pool, "j0", "status")).split("\n")[0], "succeeded")
        self.assertEqual(read(self.res(pool, "j3", "status")).split("\n")[0], "failed")

        # a broadcast: once per node, each its own hostname; the first non-zero exit
        self.submit(pool, "b", 'hostname; echo "$SKY_NODE_ADDRS" | sed -n "$((SKY_NODE_RANK+1))p"\n'
                    'echo $SKY_NODE > "$SKY_OUTPUT/who"; exit $((SKY_NODE_RANK * 5))\n',
                    broadcast=True)
        self.assertWait(pool, "b", 5, timeout=30)
        hosts = set()
        for rank in range(2):
            host, addr = read(self.res(pool, "b", "node-%d" % rank, "stdout")).split()
            self.assertEqual(host, "ct-%d" % rank)
            self.assertEqual(addr, addrs[rank])
            self.assertEqual(read(self.res(pool, "b", "node-%d" % rank, "exit")),
                             "%d\n" % (rank * 5))
            self.assertEqual(read(self.res(pool, "b", "node-%d" % rank, "files", "who")),
                             "node-%d\n" % rank)
            hosts.add(host)
        self.assertEqual(len(hosts), 2)

        # cancel of a running job: 143, cancelled, its process gone from the container
        self.submit(pool, "long", "echo started; sleep 47.31\n")
        wait_for(lambda: "started" in read(self.res(pool, "long", "stdout")), 20,
                 what="the long job started")
        wait_for(lambda: processes_with_cmdline("sleep 47.31"), 10,
                 what="the job's sleep seen from the host")
        os.unlink(os.path.join(pool, "jobs", "long"))
        self.assertWait(pool, "long", 143, timeout=20)
        self.assertEqual(read(self.res(pool, "long", "status")).split("\n")[0], "cancelled")
        wait_for(lambda: not processes_with_cmdline("sleep 47.31"), 10,
                 what="the cancelled job's process gone from its container")
        self.assertEqual(state(pool), "ready")

    def _net_state(self):
        """What a container network could change on the host: podman's
        networks, forwarding, and the firewall's rule counts (where the
        tools are there)."""
        out = {"networks": self.podman("network", "ls", "--format", "{{.Name}}").stdout.split()}
        for f in ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"):
            try:
                out[f] = read(f).strip()
            except OSError:
                pass
        for tool, args in (("iptables-save", []), ("ip6tables-save", []),
                           ("nft", ["list", "ruleset"])):
            path = shutil.which(tool)
            if not path:
                continue
            r = run_cmd([path] + args, timeout=10)
            if r.returncode != 0:
                continue
            lines = r.stdout.splitlines()
            if tool == "nft":
                out[tool] = len([ln for ln in lines if ln.strip() and
                                 not ln.strip().startswith(("table", "chain", "type", "}"))])
            else:
                out[tool] = len([ln for ln in lines if ln.startswith("-A ")])
        return out

    def test_rmdir_leaves_no_container_network_or_rule(self):
        before = self._net_state()
        pool = self.make_pool("gone", SPEC + "nodes = 2\n", timeout=READY_S)
        names = self.containers(running=True)
        self.assertEqual(len(names), 2, names)
        # nothing changes on the host while the pool runs either
        self.assertEqual(self._net_state(), before)
        os.rmdir(pool)   # returns once every node is gone
        self.assertFalse(os.path.exists(pool))
        self.assertEqual(self.containers(), [])
        for name in names:
            self.assertEqual(self.podman("container", "exists", name, check=False).returncode, 1,
                             name)
            self.assertEqual(processes_with_cmdline(name), [], "conmon of %s still runs" % name)
        self.assertEqual(self._net_state(), before)
        self.assertFalse(os.path.exists(os.path.join(self.state, "pools", "gone")))

    def test_bad_image_fails_the_pool_with_podmans_message(self):
        pool = self.make_pool("img", SPEC + "image = %s\n" % BAD_IMAGE, wait_state="failed",
                              timeout=READY_S)
        status = read(os.path.join(pool, "status"))
        events = read(os.path.join(pool, "events"))
        # podman's own words: its "Error: ..." line, naming the image
        self.assertRegex(status, r"container: podman run: Error: .*%s" % re.escape(BAD_IMAGE))
        self.assertIn("podman run: Error:", events)
        self.assertEqual(self.containers(), [])

    def test_a_crashed_daemons_containers_are_adopted(self):
        pool = self.make_pool("adopt", SPEC + "nodes = 2\n", timeout=READY_S)
        fmt = "{{.ID}} {{.Names}} {{.Ports}}"
        before = self.containers(running=True, fmt=fmt)
        self.assertEqual(len(before), 2, before)
        instances = [self.node(pool, "node-%d" % r)["instance"] for r in range(2)]
        self.crash()
        self.assertEqual(self.containers(running=True, fmt=fmt), before,
                         "the containers outlive the daemon")
        self.daemon = self.start_daemon()
        self.wait_state(pool, "ready", READY_S)
        events = read(os.path.join(pool, "events"))
        self.assertIn("recovering after a daemon crash", events)
        for r in range(2):
            self.assertIn("node node-%d adopted: %s" % (r, instances[r]), events)
            self.assertEqual(self.node(pool, "node-%d" % r)["instance"], instances[r])
        # the very same containers: no new one, none restarted
        self.assertEqual(self.containers(running=True, fmt=fmt), before)
        self.submit(pool, "after", "hostname\n")
        self.assertWait(pool, "after", 0, timeout=30)
        self.assertRegex(read(self.res(pool, "after", "stdout")), r"^adopt-[01]\n$")
        os.rmdir(pool)
        self.assertEqual(self.containers(), [])

    def test_orphan_sweep_removes_this_mounts_orphans_only(self):
        # another mount (another state directory: another mount id) with a live pool
        state2 = os.path.join(self.tmp, "state2")
        mnt2 = os.path.join(self.tmp, "mnt2")
        self.start_daemon(state_dir=state2, mnt=mnt2)
        theirs = os.path.join(mnt2, "pools", "theirs")
        os.mkdir(theirs)
        write(os.path.join(theirs, "spec"), SPEC)
        # and in this mount a pool that lives on (adopted after the crash)
        # and one whose journal will be lost
        kept = self.make_pool("kept", SPEC, timeout=READY_S)
        kept_ct = self.containers(running=True, fmt="{{.ID}} {{.Names}}")
        mine = self.make_pool("mine", SPEC, timeout=READY_S)
        self.wait_state(theirs, "ready", READY_S)
        orphan = [n for n in self.containers(running=True)
                  if n not in " ".join(kept_ct)]
        other = self.containers(state2, running=True, fmt="{{.ID}} {{.Names}}")
        self.assertEqual(len(kept_ct), 1, kept_ct)
        self.assertEqual(len(orphan), 1, orphan)
        self.assertEqual(len(other), 1, other)
        self.crash()
        # the journal (and the whole pool) is lost: its container is nobody's
        shutil.rmtree(os.path.join(self.state, "pools", "mine"))
        self.daemon = self.start_daemon(args=["-o", "sweep_interval=1s"])
        self.assertFalse(os.path.exists(mine))
        wait_for(lambda: orphan[0] not in self.containers(), 20,
                 what="the orphan container removed")
        log = read(os.path.join(self.state, "skyfs.log"))
        self.assertIn("orphan sweep: removing container %s" % orphan[0], log)
        self.wait_state(kept, "ready", READY_S)
        # a few sweeps later this mount's live pool and the other mount's
        # keep their containers, the same ones
        time.sleep(3)
        self.assertEqual(self.containers(running=True, fmt="{{.ID}} {{.Names}}"), kept_ct)
        self.assertEqual(self.containers(state2, running=True, fmt="{{.ID}} {{.Names}}"), other)
        for pool in (kept, theirs):
            self.assertEqual(state(pool), "ready")
            self.submit(pool, "j", "echo alive\n")
            self.assertWait(pool, "j", 0, timeout=30)
            os.rmdir(pool)
        self.assertEqual(self.containers(), [])
        self.assertEqual(self.containers(state2), [])

    def test_dead_man_switch_ends_a_dead_daemons_containers(self):
        # orphan_timeout is never below node_timeout (default 60s): lower both
        self.make_pool("dm", SPEC + "nodes = 2\nnode_timeout = 4s\norphan_timeout = 10s\n",
                       timeout=READY_S)
        names = self.containers(running=True)
        self.assertEqual(len(names), 2, names)
        self.crash()
        t0 = time.monotonic()
        # nobody removes them but themselves (PID 1 ends on SIGTERM, --rm removes)
        wait_for(lambda: not self.containers(), 35, interval=0.5,
                 what=lambda: "the containers gone by themselves: %s"
                 % self.containers(fmt="{{.Names}} {{.Status}}"))
        took = time.monotonic() - t0
        # not before orphan_timeout (10 s from the last heartbeat, <= 1 s before the kill)
        self.assertGreater(took, 7.0)

    def test_a_long_pool_name_not_starting_with_a_letter(self):
        # podman's names start with a letter or digit and skyfs keeps a
        # node's in 63 bytes: every node still gets its own container
        name = "_" + "x" * 70
        pool = self.make_pool(name, SPEC + "nodes = 2\n", timeout=READY_S)
        names = self.containers(running=True)
        self.assertEqual(len(names), 2, names)
        for n in names:
            self.assertRegex(n, r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
        self.submit(pool, "b", "echo $SKY_NODE\n", broadcast=True)
        self.assertWait(pool, "b", 0, timeout=30)
        # a container labelled as the pool's that no node knows (a lost
        # answer): the teardown removes it too, long pool id and all
        pool_id = self.podman("inspect", "--format", '{{index .Config.Labels "skyfs.id"}}',
                              names[0]).stdout.strip()
        self.assertGreater(len(pool_id), 64)
        self.podman("run", "-d", "--rm", "--network", "none",
                    "--label", "skyfs.mount=" + mount_id(self.state),
                    "--label", "skyfs.id=" + pool_id, "--rootfs", "/:O", "sleep", "300",
                    timeout=60)
        self.assertEqual(len(self.containers()), 3)
        os.rmdir(pool)
        self.assertEqual(self.containers(), [])

    def test_provider_status_names_podmans_version(self):
        version = self.podman("version", "--format", "{{.Client.Version}}").stdout.strip()
        self.assertTrue(version)
        status = read(os.path.join(self.mnt, "providers", "container", "status"))
        self.assertIn("configured: yes (podman %s)" % version, status)
        self.assertIn("slirp4netns", status)


if __name__ == "__main__":
    unittest.main()
