"""What keeps aws machines from billing when things go wrong, end to end
against the fake EC2 (tests/fakes/fake_ec2.py, instances are real sshd):

- the dead-man switch: a node whose daemon died ends itself (shutdown ->
  an instance-initiated termination), while a live pool's long job keeps
  its node;
- preemption: a reclaimed spot node is replaced and its job runs again;
- a daemon crash (SIGKILL) and a restart on the same state directory: the
  pool adopts its machines (resume) or tears them down (recover =
  teardown, spec key or -o recover=teardown);
- the orphan sweep: a machine of this mount whose pool is gone is
  terminated, another mount's is left alone;
- teardown retries: rmdir while the API is down is EBUSY, and the pool
  goes away by itself once the API is back.

Needs root and OpenSSH's sshd (the instances); skipped without sshd.
"""

import errno
import os
import shutil
import sys
import tempfile
import time
import unittest

from harness import (SkyfsTestCase, fusermount_u, job_state, kv_lines, read, state,
                     tried_lines, wait_for, write)
import sshnodes

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
from fake_ec2 import FakeEC2  # noqa: E402

ACCESS = "AKIDSKYFSTEST"
SECRET = "skyfs/test/secret+KEY"
# one offer shape: g4dn.xlarge, spot then on demand
BASE = ("provider = aws\nregion = us-east-1\naccelerator = T4\nssh_user = skytest\n"
        "node_timeout = 5s\n")
GONE = ("shutting-down", "terminated")


class RecoveryBase(SkyfsTestCase):
    """A fake EC2 and a daemon pointed at it. Every daemon is stopped
    (unmounted, so that its pools are torn down) while the fake still
    answers; the fake goes after."""
    autostart = False

    def setUp(self):
        super().setUp()
        self.fake_dir = tempfile.mkdtemp(prefix="skyfs-it-ec2-")
        self.addCleanup(shutil.rmtree, self.fake_dir, True)
        self.ec2 = FakeEC2(self.fake_dir, access_key=ACCESS, secret_key=SECRET)
        self.ec2.__enter__()
        self.addCleanup(self.ec2.__exit__, None, None, None)
        # runs first (LIFO): the daemons go while the fake answers
        self.addCleanup(self._stop_daemons)
        self.env = self.ec2.daemon_env()
        self.daemon = self.start_daemon(env=self.env, args=self.args())

    def args(self, *more):
        return ["-o", "api_timeout=2s"] + list(more)

    def _stop_daemons(self):
        self.ec2.api_down = False
        problems = []
        for d in reversed(self.daemons):
            problem = d.stop()
            if problem:
                problems.append("%s (log %s)" % (problem, os.path.basename(d.log)))
        if problems:
            raise AssertionError("at teardown: " + "; ".join(problems))

    # -- helpers

    def crash(self):
        """SIGKILL the daemon (its whole process group), as a crash would;
        the mount goes lazily."""
        os.killpg(self.daemon.pid, 9)
        self.assertIsNotNone(self.daemon.wait_exit(10), "the daemon survived SIGKILL")
        fusermount_u(self.mnt, lazy=True)
        wait_for(lambda: not os.path.ismount(self.mnt), 10, what="the mount gone")

    def restart(self, *more):
        self.daemon = self.start_daemon(env=self.env, args=self.args(*more))
        return self.daemon

    def events(self, pool):
        return read(os.path.join(pool, "events"))

    def node(self, pool, name="node-0"):
        return kv_lines(read(os.path.join(pool, "nodes", name)))

    def job(self, pool, name):
        return kv_lines(read(os.path.join(pool, "results", name, "status")))

    def launches(self):
        return [p for a, p in self.ec2.calls if a == "RunInstances"]

    def pool_instances(self, pool_name, states=None):
        """The fake's instances whose Name tag is the pool's."""
        return [i for i in self.ec2.instances(states)
                if i["tags"].get("Name", "").startswith("skyfs-%s-" % pool_name)]

    def wait_event(self, pool, text, timeout):
        return wait_for(lambda: text in self.events(pool), timeout,
                        what=lambda: "%r in events:\n%s" % (text, self.events(pool)))


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class DeadManSwitch(RecoveryBase):

    def test_nodes_of_a_dead_daemon_end_themselves(self):
        pool = self.make_pool("dm", BASE.replace("5s", "4s") +
                              "nodes = 2\norphan_timeout = 10s\n", "ready", timeout=40)
        live = self.ec2.live_instances()
        self.assertEqual(len(live), 2, live)
        for inst in live:
            self.assertEqual(inst["shutdown_behavior"], "terminate", inst)
        self.crash()
        t0 = time.monotonic()
        # nobody terminates them: no daemon runs, the API is not called
        calls = len(self.ec2.calls)
        ids = [i["id"] for i in live]
        wait_for(lambda: all(self.ec2.instance(i)["state"] in GONE for i in ids), 30,
                 what=lambda: "both instances terminated by themselves: %s"
                 % [(i["id"], i["state"]) for i in self.ec2.instances()])
        took = time.monotonic() - t0
        self.assertEqual(len(self.ec2.calls), calls, self.ec2.calls[calls:])
        # not before orphan_timeout (10 s from the last heartbeat, <= 1 s before the kill)
        self.assertGreater(took, 7.0)
        for i in ids:
            inst = self.ec2.instance(i)
            self.assertEqual(inst["state_reason"], "Client.InstanceInitiatedShutdown", inst)
            self.assertIn("shutdown -h now", inst["shutdown_request"] or "", inst)
        self.ec2.wait_state(ids[0], "terminated", 5)

    def test_a_long_job_of_a_live_pool_keeps_its_node(self):
        pool = self.make_pool("lj", BASE.replace("5s", "4s") + "orphan_timeout = 10s\n",
                              "ready", timeout=40)
        inst = self.node(pool)["instance"]
        self.submit(pool, "long", "sleep 25; echo still here\n")
        self.assertWait(pool, "long", 0, timeout=45)
        self.assertEqual(read(os.path.join(pool, "results", "long", "stdout")), "still here\n")
        d = self.ec2.instance(inst)
        self.assertEqual(d["state"], "running", d)
        self.assertIsNone(d["shutdown_request"], d)
        self.assertEqual(state(pool), "ready")
        os.rmdir(pool)
        wait_for(lambda: self.ec2.instance(inst)["state"] == "terminated", 10,
                 what="the instance terminated")
        self.assertEqual(self.ec2.instance(inst)["state_reason"], "Client.UserInitiatedShutdown")


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class Preemption(RecoveryBase):

    def test_a_reclaimed_spot_node_is_replaced_and_its_job_runs_again(self):
        pool = self.make_pool("pre", BASE + "allocation = spot\n", "ready", timeout=40)
        old = self.node(pool)["instance"]
        self.submit(pool, "j", "sleep 5; echo done on $SKY_NODE\n")
        self.wait_job_state(pool, "j", "running", timeout=15)
        time.sleep(1)
        self.ec2.reclaim(old)
        # lost at once (no node_timeout wait), and said why
        self.wait_event(pool, "reclaimed by AWS (spot)", 10)
        ev = self.events(pool)
        lost = [l for l in ev.splitlines() if "lost:" in l and "reclaimed by AWS (spot)" in l]
        self.assertTrue(lost, ev)
        self.assertIn(old, lost[0])
        # a new machine for node-0
        self.wait_event(pool, "node node-0 replaced: ", 30)
        self.assertWait(pool, "j", 0, timeout=40)
        st = self.job(pool, "j")
        self.assertEqual(st["attempts"], "2", st)
        self.assertEqual(read(os.path.join(pool, "results", "j", "stdout")),
                         "done on node-0\n")
        self.wait_state(pool, "ready", 10)
        node = self.node(pool)
        self.assertEqual(node["state"], "ready", node)
        self.assertNotEqual(node["instance"], old)
        live = self.ec2.live_instances()
        self.assertEqual([i["id"] for i in live], [node["instance"]])
        self.assertEqual(len(self.launches()), 2)
        self.assertEqual(self.ec2.instance(old)["state_reason"],
                         "Server.SpotInstanceTermination")
        # the timeline: lost, degraded, the job re-queued, replaced, ready again
        ev = self.events(pool)
        order = [ev.index("reclaimed by AWS (spot)"), ev.index("state ready -> degraded"),
                 ev.index("job j: node-0 lost"), ev.index("node node-0 replaced: "),
                 ev.index("state degraded -> ready")]
        self.assertEqual(order, sorted(order), ev)
        self.assertIn("re-queued (attempt 2 of 3)", ev)
        os.rmdir(pool)
        wait_for(lambda: not self.ec2.live_instances(), 10, what="nothing live")


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class CrashRecovery(RecoveryBase):

    def test_a_crashed_pool_adopts_its_machines_and_reruns_its_jobs(self):
        pool = self.make_pool("ad", BASE + "allocation = spot\n", "ready", timeout=40)
        inst = self.node(pool)["instance"]
        self.submit(pool, "run", "sleep 4; echo run on $SKY_NODE\n")
        self.wait_job_state(pool, "run", "running", timeout=15)
        self.submit(pool, "q1", "echo q1\n")
        self.submit(pool, "q2", "echo q2\n")
        self.assertEqual(job_state(pool, "q1"), "queued")
        launched = len(self.launches())
        self.crash()
        self.assertEqual([i["id"] for i in self.ec2.live_instances()], [inst])
        self.restart()
        # the pool comes back by itself (no spec written)
        self.wait_state(pool, "ready", 40)
        ev = self.events(pool)
        self.assertIn("recovering after a daemon crash (resume)", ev)
        self.assertIn("node node-0 adopted: %s" % inst, ev)
        self.assertEqual(self.node(pool)["instance"], inst)
        # the same machine, no launch
        self.assertEqual([i["id"] for i in self.ec2.live_instances()], [inst])
        self.assertEqual(len(self.launches()), launched)
        # the interrupted job ran again, the queued ones ran
        self.assertWait(pool, "run", 0, timeout=30)
        self.assertEqual(self.job(pool, "run")["attempts"], "2", self.job(pool, "run"))
        self.assertEqual(read(os.path.join(pool, "results", "run", "stdout")),
                         "run on node-0\n")
        for q in ("q1", "q2"):
            self.assertWait(pool, q, 0, timeout=20)
            self.assertEqual(read(os.path.join(pool, "results", q, "stdout")), q + "\n")
        self.assertEqual([i["id"] for i in self.ec2.live_instances()], [inst])
        os.rmdir(pool)
        wait_for(lambda: not self.ec2.live_instances(), 10, what="nothing live")

    def _teardown_after_crash(self, spec_extra, daemon_args):
        pool = self.make_pool("td", BASE + spec_extra, "ready", timeout=40)
        inst = self.node(pool)["instance"]
        self.submit(pool, "before", "echo before the crash\n")
        self.assertWait(pool, "before", 0, timeout=20)
        self.crash()
        self.assertEqual([i["id"] for i in self.ec2.live_instances()], [inst])
        launched = len(self.launches())
        self.restart(*daemon_args)
        self.wait_state(pool, "stopped", 40)
        self.assertEqual(len(self.launches()), launched)
        status = read(os.path.join(pool, "status"))
        self.assertIn("recover = teardown", status)
        self.assertIn("recovering after a daemon crash (teardown)", self.events(pool))
        wait_for(lambda: self.ec2.instance(inst)["state"] in GONE, 10,
                 what=lambda: "the instance terminated: %s" % self.ec2.instance(inst))
        self.assertEqual([i for i in self.ec2.live_instances() if i["state"] not in GONE], [])
        # the pool's key pair and security group went with it
        self.assertEqual(self.ec2.key_pairs(), [])
        self.assertEqual(self.ec2.security_groups(), [])
        # old results stay readable
        self.assertEqual(read(os.path.join(pool, "results", "before", "stdout")),
                         "before the crash\n")
        self.assertEqual(read(os.path.join(pool, "results", "before", "exit")).strip(), "0")
        # nothing of the pool left in the fake once it is removed
        os.rmdir(pool)
        wait_for(lambda: not self.ec2.live_instances(), 10, what="nothing live")

    def test_recover_teardown_spec_key(self):
        self._teardown_after_crash("recover = teardown\n", ())

    def test_recover_teardown_daemon_option(self):
        self._teardown_after_crash("", ("-o", "recover=teardown"))


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class OrphanSweep(RecoveryBase):

    def test_an_instance_whose_pool_is_gone_is_swept_another_mounts_is_not(self):
        # a second mount (another state directory: another mount id) on the same fake
        state2 = os.path.join(self.tmp, "state2")
        mnt2 = os.path.join(self.tmp, "mnt2")
        other = self.start_daemon(state_dir=state2, mnt=mnt2, env=self.env, args=self.args())
        mine = self.pool_path("a")
        theirs = os.path.join(mnt2, "pools", "b")
        os.mkdir(mine)
        os.mkdir(theirs)
        write(os.path.join(mine, "spec"), BASE)
        write(os.path.join(theirs, "spec"), BASE)
        self.wait_state(mine, "ready", 40)
        self.wait_state(theirs, "ready", 40)
        a = self.node(mine)["instance"]
        b = self.node(theirs)["instance"]
        self.assertNotEqual(self.ec2.instance(a)["tags"]["skyfs:mount"],
                            self.ec2.instance(b)["tags"]["skyfs:mount"])
        self.crash()
        # the journal (and the whole pool) is lost
        shutil.rmtree(os.path.join(self.state, "pools", "a"))
        self.restart("-o", "sweep_interval=2s")
        self.assertFalse(os.path.exists(mine))
        wait_for(lambda: self.ec2.instance(a)["state"] in GONE, 10,
                 what=lambda: "the orphan terminated: %s" % self.ec2.instance(a))
        log = read(os.path.join(self.state, "skyfs.log"))
        self.assertIn("orphan sweep", log)
        self.assertIn(a, log)
        # a few sweeps later the other mount's instance still runs
        time.sleep(5)
        d = self.ec2.instance(b)
        self.assertEqual(d["state"], "running", d)
        self.assertNotIn(b, read(os.path.join(self.state, "skyfs.log")))
        self.assertEqual(state(theirs), "ready")
        self.submit(theirs, "j", "echo alive\n")
        self.assertWait(theirs, "j", 0, timeout=20)
        os.rmdir(theirs)
        wait_for(lambda: not self.ec2.live_instances(), 10, what="nothing live")
        self.assertIsNotNone(other)


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class TeardownRetries(RecoveryBase):

    def test_rmdir_while_the_api_is_down_retries_until_it_is_back(self):
        pool = self.make_pool("down", BASE, "ready", timeout=40)
        inst = self.node(pool)["instance"]
        self.ec2.api_down = True
        t0 = time.monotonic()
        err = None
        try:
            os.rmdir(pool)
        except OSError as e:
            err = e.errno
        took = time.monotonic() - t0
        self.assertEqual(err, errno.EBUSY, "rmdir while the API is down: %s after %.1fs"
                         % (errno.errorcode.get(err, err), took))
        self.assertLess(took, 20)
        # still listed, terminating, and why
        self.assertIn("down", os.listdir(self.pools))
        status = read(os.path.join(pool, "status"))
        self.assertEqual(status.split("\n", 1)[0], "terminating", status)
        self.assertIn("Unavailable", status)
        self.assertIn("retrying", status)
        self.assertEqual(self.ec2.instance(inst)["state"], "running")
        # the API comes back: the pool goes by itself
        self.ec2.api_down = False
        wait_for(lambda: "down" not in os.listdir(self.pools), 40,
                 what=lambda: "the pool removed by itself (status:\n%s\nevents:\n%s)"
                 % (_try_read(os.path.join(pool, "status")),
                    _try_read(os.path.join(pool, "events"))))
        wait_for(lambda: not self.ec2.live_instances(), 10,
                 what=lambda: "nothing live: %s" % self.ec2.live_instances())
        self.assertEqual(self.ec2.key_pairs(), [])
        self.assertEqual(self.ec2.security_groups(), [])


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class ApiDown(RecoveryBase):

    def test_a_provider_whose_api_stays_down_is_skipped_for_the_walk(self):
        # two candidates: g4dn.xlarge spot, then on demand
        self.ec2.api_down = True
        t0 = time.monotonic()
        pool = self.make_pool("skip", BASE, "failed", timeout=50)
        tried = tried_lines(read(os.path.join(pool, "plan")))
        self.assertEqual(len(tried), 2, tried)
        # the first met the 503s after its retries; the second is not tried
        # against an API that does not answer
        self.assertIn("Unavailable", tried[0])
        self.assertIn("skipped: aws failed earlier in this walk", tried[1])
        self.assertIn("Unavailable", read(os.path.join(pool, "status")))
        self.assertLess(time.monotonic() - t0, 40)
        self.assertEqual(self.ec2.instances(), [])


def _try_read(path):
    try:
        return read(path)
    except OSError as e:
        return "<%s>" % e
