"""Live pools (issue 10): rewriting nodes, slots, env.* or a limit in a
ready pool's spec changes it in place. New nodes are provisioned from the
pool's candidates; removed nodes drain (no new job, running ones finish)
and are then terminated. Any other change is EBUSY with a message naming
the keys that can change; a bad spec is EINVAL and the pool runs on.

The local provider shows the scheduling; the fake EC2 (real sshd
instances) shows machines launched and terminated, and a crash in the
middle of a shrink."""

import errno
import os
import shutil
import tempfile
import time
import unittest

from harness import SkyfsTestCase, errno_of, job_state, kv_lines, read, state, wait_for, write
from lostlaunch import LostLaunch
import sshnodes
from test_recovery import BASE, RecoveryBase


def gated(gate, extra=""):
    """A job that prints its node and slot, then waits for the gate file."""
    return ('echo "$SKY_NODE $SKY_SLOT %s"\nwhile [ ! -e %s ]; do sleep 0.05; done\necho done\n'
            % (extra, gate))


class Live(SkyfsTestCase):
    def status(self, pool):
        return read(os.path.join(pool, "status"))

    def events(self, pool):
        return read(os.path.join(pool, "events"))

    def nodes(self, pool):
        return sorted(os.listdir(os.path.join(pool, "nodes")))

    def test_grow_then_shrink_drains_and_removes(self):
        pool = self.make_pool("el", "nodes = 1\n")
        spec = os.path.join(pool, "spec")
        write(spec, "nodes = 3   # more\n")
        self.wait_state(pool, "ready")
        self.assertEqual(self.nodes(pool), ["node-0", "node-1", "node-2"])
        st = kv_lines(self.status(pool))
        self.assertEqual((st["nodes"], st["nodes_ready"]), ("3", "3"))
        self.assertEqual(read(spec), "nodes = 3   # more\n")
        ev = self.events(pool)
        self.assertIn("spec changed live: nodes 1 -> 3", ev)
        self.assertIn("state ready -> resizing", ev)
        self.assertIn("node node-2 ready", ev)

        # one job per node (slots = 1)
        gate = os.path.join(self.tmp, "gate")
        for k in range(3):
            self.submit(pool, "g%d" % k, gated(gate))
        for k in range(3):
            self.wait_job_state(pool, "g%d" % k, "running")
        wait_for(lambda: all(read(os.path.join(pool, "results", "g%d" % k, "stdout"))
                             for k in range(3)), 10, what="the jobs started")
        where = {k: read(os.path.join(pool, "results", "g%d" % k, "stdout")).split()[0]
                 for k in range(3)}
        self.assertEqual(sorted(where.values()), ["node-0", "node-1", "node-2"])

        # shrink while every node runs a job: node-1 and node-2 drain
        write(spec, "nodes = 1\n")
        wait_for(lambda: "removing:" in self.status(pool), 5, what="removing in status")
        st = self.status(pool)
        self.assertIn("removing: node-1 (draining, 1 job), node-2 (draining, 1 job)\n", st)
        self.assertEqual(kv_lines(st)["nodes"], "1")
        self.assertIn("removing: draining", read(os.path.join(pool, "nodes", "node-2")))
        self.assertEqual(state(pool), "ready")
        self.assertIn("node node-2 draining: the spec has 1 node(s)", self.events(pool))
        # a new job goes to none of them: node-0 is busy, the others drain;
        # it sees the pool's new shape, not the draining nodes
        self.submit(pool, "later", 'echo "$SKY_NODE $SKY_NUM_NODES"\n'
                    'printf "%s\\n" "$SKY_NODE_ADDRS" | wc -l\n')
        time.sleep(0.8)
        self.assertEqual(job_state(pool, "later"), "queued")
        overview = read(os.path.join(self.mnt, "status"))
        self.assertRegex(overview, r"\nel +ready +1/1 ")

        # the running jobs finish, not killed; then the nodes go
        write(gate, "")
        for k in range(3):
            self.assertWait(pool, "g%d" % k, 0)
            self.assertTrue(read(os.path.join(pool, "results", "g%d" % k, "stdout"))
                            .endswith("done\n"))
        self.assertWait(pool, "later", 0)
        self.assertEqual(read(os.path.join(pool, "results", "later", "stdout")).split(),
                         ["node-0", "1", "1"])
        wait_for(lambda: self.nodes(pool) == ["node-0"], 10, what="only node-0 left")
        ev = self.events(pool)
        self.assertIn("node node-1 terminated", ev)
        self.assertIn("node node-2 removed", ev)
        self.assertNotIn("removing", self.status(pool))
        self.assertEqual(kv_lines(self.status(pool))["nodes_ready"], "1")
        # a removed rank's node directory is gone; a new job runs on node-0
        self.submit(pool, "last", 'echo "$SKY_NODE $SKY_NUM_NODES"\n')
        self.assertWait(pool, "last", 0)
        self.assertEqual(read(os.path.join(pool, "results", "last", "stdout")), "node-0 1\n")

    def test_shrink_then_grow_back_keeps_the_draining_node(self):
        pool = self.make_pool("back", "nodes = 2\n")
        gate = os.path.join(self.tmp, "gate")
        node1 = kv_lines(read(os.path.join(pool, "nodes", "node-1")))["instance"]
        self.submit(pool, "a", gated(gate))
        self.submit(pool, "b", gated(gate))
        self.wait_job_state(pool, "a", "running")
        self.wait_job_state(pool, "b", "running")
        write(os.path.join(pool, "spec"), "nodes = 1\n")
        wait_for(lambda: "removing: node-1" in self.status(pool), 5, what="node-1 draining")
        write(os.path.join(pool, "spec"), "nodes = 2\n")
        wait_for(lambda: "node node-1 kept" in self.events(pool), 5, what="node-1 kept")
        self.assertNotIn("removing", self.status(pool))
        self.assertEqual(kv_lines(read(os.path.join(pool, "nodes", "node-1")))["instance"], node1)
        write(gate, "")
        self.assertWait(pool, "a", 0)
        self.assertWait(pool, "b", 0)
        self.assertNotIn("node node-1 terminated", self.events(pool))
        self.assertEqual(self.nodes(pool), ["node-0", "node-1"])

    def test_a_job_sees_the_nodes_kept_while_others_drain(self):
        pool = self.make_pool("shape", "nodes = 2\n")
        gates = {k: os.path.join(self.tmp, "gate-" + k) for k in ("a", "b")}
        for k in ("a", "b"):
            self.submit(pool, k, gated(gates[k]))
        for k in ("a", "b"):
            self.wait_job_state(pool, k, "running")
        wait_for(lambda: all(read(os.path.join(pool, "results", k, "stdout")) for k in "ab"),
                 10, what="the jobs started")
        on = {read(os.path.join(pool, "results", k, "stdout")).split()[0]: k for k in "ab"}
        self.assertEqual(sorted(on), ["node-0", "node-1"])
        write(gates[on["node-0"]], "")
        self.assertWait(pool, on["node-0"], 0)
        # node-1 drains with its job; a job on node-0 meanwhile sees one node
        write(os.path.join(pool, "spec"), "nodes = 1\n")
        wait_for(lambda: "removing: node-1" in self.status(pool), 5, what="node-1 draining")
        self.submit(pool, "mid", 'echo "$SKY_NODE $SKY_NUM_NODES"\n'
                    'printf "%s\\n" "$SKY_NODE_ADDRS" | wc -l\n')
        self.assertWait(pool, "mid", 0)
        self.assertIn("removing: node-1", self.status(pool))
        self.assertEqual(read(os.path.join(pool, "results", "mid", "stdout")).split(),
                         ["node-0", "1", "1"])
        write(gates[on["node-1"]], "")
        self.assertWait(pool, on["node-1"], 0)
        wait_for(lambda: self.nodes(pool) == ["node-0"], 10, what="only node-0 left")

    def test_slots_env_and_limits_change_live(self):
        pool = self.make_pool("sl", "slots = 1\nenv.WHO = first\n")
        write(os.path.join(pool, "spec"), "slots = 3\nenv.WHO = second\nenv.NEW = x\n")
        self.assertIn("spec changed live: slots 1 -> 3, env.*", self.events(pool))
        self.assertEqual(kv_lines(self.status(pool))["slots"], "3")
        gate = os.path.join(self.tmp, "gate")
        for k in range(3):
            self.submit(pool, "s%d" % k, gated(gate, "$WHO$NEW"))
        for k in range(3):
            self.wait_job_state(pool, "s%d" % k, "running")
        wait_for(lambda: all(read(os.path.join(pool, "results", "s%d" % k, "stdout"))
                             for k in range(3)), 10, what="the jobs started")
        outs = [read(os.path.join(pool, "results", "s%d" % k, "stdout")).split()
                for k in range(3)]
        self.assertEqual(sorted(o[1] for o in outs), ["0", "1", "2"])
        self.assertEqual({o[2] for o in outs}, {"secondx"})
        write(gate, "")
        for k in range(3):
            self.assertWait(pool, "s%d" % k, 0)
        # a limit: the pool has been ready for longer than the new lifetime
        write(os.path.join(pool, "spec"), "slots = 3\nlifetime = 1s\n")
        self.wait_state(pool, "stopped", 10)
        self.assertIn("lifetime expired", self.status(pool))

    def test_other_keys_are_busy_and_bad_specs_invalid_the_pool_runs_on(self):
        text = "nodes = 1\nslots = 2\n"
        pool = self.make_pool("fx", text)
        spec = os.path.join(pool, "spec")
        self.assertEqual(errno_of(write, spec, "nodes = 2\nslots = 2\nsetup = true\n"),
                         errno.EBUSY)
        st = self.status(pool)
        self.assertEqual(state(pool), "ready")
        refused = kv_lines(st)["spec_refused"]
        self.assertIn("setup cannot change while the pool is live", refused)
        self.assertIn("only nodes, slots, lifetime, idle_timeout, budget, max_output, "
                      "hosts, max_attempts, env.* can", refused)
        self.assertIn("spec rewrite refused: setup cannot change", self.events(pool))
        self.assertEqual(read(spec), text)
        self.assertEqual(self.nodes(pool), ["node-0"])
        # provider and hardware keys too, also in a section
        self.assertEqual(errno_of(write, spec, "nodes = 1\nslots = 2\nprovider = aws\n"),
                         errno.EBUSY)
        self.assertIn("provider cannot change", kv_lines(self.status(pool))["spec_refused"])
        self.assertEqual(errno_of(write, spec, text + "[a]\nprovider = local\n"), errno.EBUSY)
        self.assertIn("[sections] cannot change", kv_lines(self.status(pool))["spec_refused"])
        # a bad spec: EINVAL, the pool stays ready on its spec
        self.assertEqual(errno_of(write, spec, "nodez = 3\n"), errno.EINVAL)
        self.assertEqual(state(pool), "ready")
        self.assertIn('unknown key "nodez"', kv_lines(self.status(pool))["spec_refused"])
        self.assertEqual(read(spec), text)
        # truncate(2) would reset every key: refused
        with self.assertRaises(OSError) as cm:
            os.truncate(spec, 0)
        self.assertEqual(cm.exception.errno, errno.EBUSY)
        self.assertEqual(read(spec), text)
        self.submit(pool, "ok", "echo ok\n")
        self.assertWait(pool, "ok", 0)
        # a good rewrite clears the refusal
        write(spec, "nodes = 1\nslots = 4\n")
        self.assertNotIn("spec_refused", self.status(pool))
        self.assertEqual(kv_lines(self.status(pool))["slots"], "4")

    def test_a_new_node_takes_jobs_before_the_last_one_is_ready(self):
        setup = "setup = case $PWD in */node-2/*) sleep 4;; esac\n"
        pool = self.make_pool("early", "slots = 1\n" + setup)
        gate = os.path.join(self.tmp, "gate")
        self.submit(pool, "busy", gated(gate))
        self.wait_job_state(pool, "busy", "running")
        write(os.path.join(pool, "spec"), "nodes = 3\nslots = 1\n" + setup)
        self.submit(pool, "early", 'echo "$SKY_NODE"\n')
        self.assertWait(pool, "early", 0)
        # it ran on node-1 while node-2 was still running its setup
        self.assertEqual(read(os.path.join(pool, "results", "early", "stdout")), "node-1\n")
        st = self.status(pool)
        self.assertEqual(st.split("\n", 1)[0], "resizing")
        self.assertIn("progress: 2/3 nodes ready, 1 running setup", st)
        # a resizing pool is live in its timeline too: what is open (node-2's
        # setup, the busy job) goes on until the "now" line
        self.assertIn('<line class="now"', read(os.path.join(pool, "timeline.svg")))
        self.wait_state(pool, "ready", 10)
        write(gate, "")
        self.assertWait(pool, "busy", 0)

    def test_provisioning_pool_is_busy(self):
        pool = self.make_pool("pv", "nodes = 1\nsetup = sleep 2\n", wait_state="provisioning")
        self.assertEqual(errno_of(write, os.path.join(pool, "spec"), "nodes = 2\n"),
                         errno.EBUSY)
        self.assertIn("the pool is provisioning: nodes, slots",
                      kv_lines(self.status(pool))["spec_refused"])
        self.wait_state(pool, "ready")
        write(os.path.join(pool, "spec"), "nodes = 2\nsetup = sleep 2\n")
        self.wait_state(pool, "resizing", 5)
        self.wait_state(pool, "ready", 10)
        self.assertEqual(self.nodes(pool), ["node-0", "node-1"])


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class LiveAws(LostLaunch, RecoveryBase):
    """Against the fake EC2: machines are launched for added nodes and
    terminated for removed ones, and a crash halfway through a shrink or a
    launch leaves nothing billing."""
    lost_spec = BASE
    lost_match = "Action=RunInstances"

    def lost_server(self):
        return self.ec2._server

    def lost_live(self):
        return [i["id"] for i in self.pool_instances("ll", ["pending", "running"])]

    def lost_all(self):
        return [i["id"] for i in self.pool_instances("ll")]

    def lost_restart(self, *more):
        self.crash()
        self.restart(*more)

    def assertAllGone(self):
        wait_for(lambda: not self.ec2.live_instances(), 20, what="nothing live")

    def test_grow_launches_shrink_terminates(self):
        pool = self.make_pool("ga", BASE + "nodes = 1\n", "ready", timeout=40)
        first = self.node(pool)["instance"]
        write(os.path.join(pool, "spec"), BASE + "nodes = 2\n")
        self.wait_state(pool, "ready", 40)
        second = self.node(pool, "node-1")["instance"]
        self.assertEqual(sorted(i["id"] for i in self.pool_instances("ga", ["running"])),
                         sorted([first, second]))
        self.submit(pool, "where", 'echo "$SKY_NODE $SKY_NUM_NODES"\n', broadcast=True)
        self.assertEqual(self.cat_wait(pool, "where", 30), "0\n")
        self.assertEqual(read(os.path.join(pool, "results", "where", "node-1", "stdout")),
                         "node-1 2\n")
        write(os.path.join(pool, "spec"), BASE + "nodes = 1\n")
        wait_for(lambda: os.listdir(os.path.join(pool, "nodes")) == ["node-0"], 20,
                 what="node-1 removed")
        live = [i["id"] for i in self.pool_instances("ga", ["pending", "running"])]
        self.assertEqual(live, [first])
        self.assertIn(("TerminateInstances", second),
                      [(a, p.get("InstanceId.1")) for a, p in self.ec2.calls])
        self.submit(pool, "one", "echo one\n")
        self.assertWait(pool, "one", 0, timeout=20)

    def test_crash_while_draining_ends_the_removed_node(self):
        pool = self.make_pool("cd", BASE + "nodes = 2\n", "ready", timeout=40)
        second = self.node(pool, "node-1")["instance"]
        # the jobs run as the instances' login user: a gate it can see
        gates = tempfile.mkdtemp(prefix="skyfs-it-gate-")
        self.addCleanup(shutil.rmtree, gates, True)
        os.chmod(gates, 0o755)
        gate = os.path.join(gates, "gate")
        self.submit(pool, "a", gated(gate))
        self.submit(pool, "b", gated(gate))
        self.wait_job_state(pool, "a", "running", timeout=20)
        self.wait_job_state(pool, "b", "running", timeout=20)
        write(os.path.join(pool, "spec"), BASE + "nodes = 1\n")
        wait_for(lambda: "removing: node-1" in read(os.path.join(pool, "status")), 10,
                 what="node-1 draining")
        self.crash()
        self.assertIn(second, [i["id"] for i in self.ec2.live_instances()])
        write(gate, "")
        self.restart()
        self.wait_state(pool, "ready", 40)
        wait_for(lambda: os.listdir(os.path.join(pool, "nodes")) == ["node-0"], 30,
                 what=lambda: "node-1 removed after recovery:\n" + self.events(pool))
        wait_for(lambda: second not in [i["id"] for i in self.ec2.live_instances()], 20,
                 what="the removed node's machine terminated")
        # the interrupted jobs ran again, on the node the pool keeps
        for name in ("a", "b"):
            self.assertWait(pool, name, 0, timeout=30)
            self.assertTrue(read(os.path.join(pool, "results", name, "stdout"))
                            .startswith("node-0 "))
        self.assertEqual(read(os.path.join(pool, "spec")), BASE + "nodes = 1\n")
        os.rmdir(pool)
        wait_for(lambda: not self.ec2.live_instances(), 20, what="nothing live")


if __name__ == "__main__":
    unittest.main()
