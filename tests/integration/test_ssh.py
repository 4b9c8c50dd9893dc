"""SSH pools through the mount, on real sshd nodes (sshnodes.py): jobs and
broadcasts on three hosts, live output, files, cancel, setup failures, host
keys (unknown, changed, accept-new), a frozen node, a killed node, and a node
that comes back."""

import errno
import os
import re
import tempfile
import time
import unittest

from harness import SkyfsTestCase, kv_lines, read, state, wait_for, write
from sshnodes import SshNodes, have_sshd


@unittest.skipUnless(have_sshd(), "sshd is not installed (apt-get install openssh-server)")
class SshPools(SkyfsTestCase):
    NODES = 3

    def setUp(self):
        super().setUp()
        self.nodes_dir = tempfile.mkdtemp(prefix="skyfs-sshn-")
        self.nodes = SshNodes(self.NODES, self.nodes_dir)
        self.nodes.__enter__()
        self.addCleanup(self._stop_nodes)

    def _stop_nodes(self):
        self.nodes.__exit__(None, None, None)
        import shutil
        shutil.rmtree(self.nodes_dir, ignore_errors=True)

    def spec(self, extra="", hosts=None, known_hosts=None):
        return ("provider = ssh\nhosts = %s\nidentity = %s\nknown_hosts = %s\n%s"
                % (hosts or self.nodes.hosts_spec(), self.nodes.identity,
                   known_hosts or self.nodes.known_hosts, extra))

    def test_jobs_and_broadcast_on_three_hosts(self):
        pool = self.make_pool("s", self.spec("slots = 2\n"), timeout=30)
        for i in range(6):
            self.submit(pool, "j%d" % i, "echo $SKY_NODE_RANK $(echo \"$SKY_NODE_ADDRS\" | wc -l)\n"
                        "sleep 0.3\n")
        ranks = set()
        for i in range(6):
            self.assertWait(pool, "j%d" % i, 0, timeout=30)
            rank, addrs = read(os.path.join(pool, "results", "j%d" % i, "stdout")).split()
            self.assertEqual(addrs, "3")
            ranks.add(rank)
        self.assertEqual(ranks, {"0", "1", "2"})
        self.submit(pool, "b", "echo on $SKY_NODE; exit $SKY_NODE_RANK\n", broadcast=True)
        self.assertWait(pool, "b", 1, timeout=30)
        for r in range(3):
            self.assertEqual(read(os.path.join(pool, "results", "b", "node-%d" % r, "stdout")),
                             "on node-%d\n" % r)
        node = kv_lines(read(os.path.join(pool, "nodes", "node-1")))
        self.assertEqual(node["provider"], "ssh")
        self.assertEqual(node["address"], self.nodes.address(1))

    def test_live_resize_within_the_hosts(self):
        """nodes below the number of hosts: the pool grows onto the next
        host and shrinks off it (nodes/ and SKY_NODE_ADDRS follow); more
        nodes than hosts is refused and the pool runs on."""
        pool = self.make_pool("rs", self.spec("nodes = 1\n"), timeout=30)
        write(os.path.join(pool, "spec"), self.spec("nodes = 3\n"))
        self.wait_state(pool, "ready", 30)
        self.assertEqual(sorted(os.listdir(os.path.join(pool, "nodes"))),
                         ["node-0", "node-1", "node-2"])
        self.assertEqual(kv_lines(read(os.path.join(pool, "nodes", "node-2")))["address"],
                         self.nodes.address(2))
        self.submit(pool, "b", 'echo "$SKY_NODE_ADDRS" | wc -l\n', broadcast=True)
        self.assertWait(pool, "b", 0, timeout=30)
        self.assertEqual(read(os.path.join(pool, "results", "b", "node-2", "stdout")), "3\n")
        write(os.path.join(pool, "spec"), self.spec("nodes = 2\n"))
        wait_for(lambda: sorted(os.listdir(os.path.join(pool, "nodes"))) == ["node-0", "node-1"],
                 15, what="node-2 removed")
        self.assertErrno(errno.EINVAL, write, os.path.join(pool, "spec"), self.spec("nodes = 4\n"))
        self.assertEqual(state(pool), "ready")
        self.assertIn("hosts lists 3", kv_lines(read(os.path.join(pool, "status")))["spec_refused"])

    def test_live_hosts_past_the_nodes_in_use(self):
        """hosts are live past the nodes a pool has: a host added at the end
        grows the pool onto it (nodes = the hosts by default); the entry of
        a node the pool keeps cannot change (EBUSY; status names the node and
        its host) and the pool runs on; a shrink frees the removed node's
        entry, unless a later spec keeps that node while it still drains."""
        pool = self.make_pool("lh", self.spec(hosts=self.nodes.hosts_spec([0])), timeout=30)
        spec = os.path.join(pool, "spec")
        nodes = lambda: sorted(os.listdir(os.path.join(pool, "nodes")))
        address = lambda n: kv_lines(read(os.path.join(pool, "nodes", n)))["address"]
        refused = lambda: kv_lines(read(os.path.join(pool, "status"))).get("spec_refused", "")
        write(spec, self.spec(hosts=self.nodes.hosts_spec([0, 1])))
        self.wait_state(pool, "ready", 30)
        self.assertEqual(nodes(), ["node-0", "node-1"])
        self.assertEqual(address("node-1"), self.nodes.address(1))
        self.assertIn("spec changed live: nodes 1 -> 2, hosts", read(os.path.join(pool, "events")))
        # node-0's entry, while the pool keeps node-0
        self.assertErrno(errno.EBUSY, write, spec, self.spec(hosts=self.nodes.hosts_spec([2, 1])))
        self.assertIn("hosts: node-0 runs on %s" % self.nodes.host(0), refused())
        self.assertEqual(state(pool), "ready")
        # a shrink frees node-1's entry; while node-1 still drains (its share
        # of a broadcast runs), a spec that keeps it must keep its host
        self.submit(pool, "b", "sleep 5\n", broadcast=True)
        self.wait_job_state(pool, "b", "running")
        moved = self.nodes.hosts_spec([0, 2])
        write(spec, self.spec("nodes = 1\n", hosts=moved))
        self.assertEqual(refused(), "")
        self.assertErrno(errno.EBUSY, write, spec, self.spec(hosts=moved))
        self.assertIn("hosts: node-1 runs on %s" % self.nodes.host(1), refused())
        self.assertWait(pool, "b", 0, timeout=30)
        wait_for(lambda: nodes() == ["node-0"], 15, what="node-1 removed")
        # gone: node-1 comes back on its new entry
        write(spec, self.spec(hosts=moved))
        self.wait_state(pool, "ready", 30)
        self.assertEqual(address("node-1"), self.nodes.address(2))
        self.submit(pool, "c", "echo $SKY_NODE_RANK\n", broadcast=True)
        self.assertWait(pool, "c", 0, timeout=30)
        self.assertEqual(read(os.path.join(pool, "results", "c", "node-1", "stdout")), "1\n")

    def test_live_output_files_and_cancel(self):
        pool = self.make_pool("s", self.spec(), timeout=30)
        self.submit(pool, "live", "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.3; done\n"
                    "echo data > $SKY_OUTPUT/out.txt\n")
        out = os.path.join(pool, "results", "live", "stdout")
        wait_for(lambda: "line 2" in read(out), 10, what="live output")
        self.assertNotIn("line 6", read(out))
        self.assertWait(pool, "live", 0, timeout=20)
        self.assertEqual(read(os.path.join(pool, "results", "live", "files", "out.txt")), "data\n")
        self.submit(pool, "long", "echo started; sleep 28.7\n")
        wait_for(lambda: "started" in read(os.path.join(pool, "results", "long", "stdout")), 10)
        os.unlink(os.path.join(pool, "jobs", "long"))
        self.assertWait(pool, "long", 143, timeout=15)
        self.assertEqual(read(os.path.join(pool, "results", "long", "status")).split("\n")[0],
                         "cancelled")
        out = os.popen("pgrep -f '[s]leep 28.7'").read()
        self.assertEqual(out, "", "the cancelled job still runs on the node")

    def test_setup_failure(self):
        pool = self.make_pool("s", self.spec("setup = echo broken >&2; exit 3\n"),
                              wait_state="failed", timeout=30)
        events = read(os.path.join(pool, "events"))
        self.assertIn("setup failed", events)
        self.assertIn("broken", events)

    def test_unknown_host_key_refused(self):
        empty = os.path.join(self.tmp, "empty_known_hosts")
        write(empty, "")
        pool = self.make_pool("s", self.spec(known_hosts=empty), wait_state="failed",
                              timeout=30)
        text = read(os.path.join(pool, "status")) + read(os.path.join(pool, "events"))
        self.assertIn(self.nodes.host_fingerprint(0), text)

    def test_changed_host_key_refused(self):
        self.nodes.rekey(0)
        pool = self.make_pool("s", self.spec(), wait_state="failed", timeout=30)
        text = read(os.path.join(pool, "status")) + read(os.path.join(pool, "events"))
        self.assertIn("changed", text)
        self.assertIn(self.nodes.host_fingerprint(0), text)

    def test_accept_new_records(self):
        empty = os.path.join(self.tmp, "empty_known_hosts")
        write(empty, "")
        pool = self.make_pool("s", self.spec("host_key_policy = accept-new\n", known_hosts=empty),
                              timeout=30)
        recorded = read(os.path.join(self.state, "pools", "s", "known_hosts"))
        for i in range(3):
            self.assertIn(self.nodes.known_hosts_line(i).split(None, 1)[1].split()[1], recorded)
        self.submit(pool, "ok", "echo fine\n")
        self.assertWait(pool, "ok", 0, timeout=20)

    def test_frozen_node_job_requeued(self):
        pool = self.make_pool("s", self.spec("node_timeout = 3s\nslots = 1\n"), timeout=30)
        self.submit(pool, "slow", "echo rank $SKY_NODE_RANK; sleep 4; echo done\n")
        st = os.path.join(pool, "results", "slow", "status")
        wait_for(lambda: "node:" in read(st), 10, what="job started")
        node = kv_lines(read(st))["node"]
        rank = int(node.split("-")[1])
        self.nodes.pause(rank)
        try:
            self.assertWait(pool, "slow", 0, timeout=40)
            status = kv_lines(read(st))
            self.assertNotEqual(status["node"], node)
            self.assertEqual(status["attempts"], "2")
            wait_for(lambda: state(pool) == "degraded", 10, what="degraded")
            self.assertIn("lost", read(os.path.join(pool, "events")))
        finally:
            self.nodes.resume(rank)

    def test_killed_node_and_reconnect(self):
        pool = self.make_pool("s", self.spec("node_timeout = 30s\n"), timeout=30)
        self.nodes.kill(2)
        wait_for(lambda: state(pool) == "degraded", 20, what="degraded after a kill")
        for i in range(3):
            self.submit(pool, "k%d" % i, "echo $SKY_NODE\n")
        for i in range(3):
            self.assertWait(pool, "k%d" % i, 0, timeout=20)
            self.assertNotEqual(read(os.path.join(pool, "results", "k%d" % i, "stdout")),
                                "node-2\n")
        self.nodes.restart(2)
        wait_for(lambda: state(pool) == "ready", 40, what="ready after the node came back")
        node = kv_lines(read(os.path.join(pool, "nodes", "node-2")))
        self.assertEqual(node["state"], "ready")


if __name__ == "__main__":
    unittest.main()
