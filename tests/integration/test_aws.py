"""The aws provider end to end against the fake EC2 (tests/fakes/fake_ec2.py):
the real client (libcurl, SigV4, libxml2) talks to a server that checks every
signature and boots each instance as a real sshd on its own loopback address,
with the host key skyfs put in the user data. mkdir -> spec -> provision ->
SSH -> jobs -> results -> rmdir runs as it would on AWS.

Needs root and OpenSSH's sshd (the instances); skipped without sshd.
"""

import os
import sys
import tempfile
import shutil
import time
import unittest

from harness import SkyfsTestCase, kv_lines, read, state, tried_lines, wait_for, write
import sshnodes

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
from fake_ec2 import FakeEC2  # noqa: E402

ACCESS = "AKIDSKYFSTEST"
SECRET = "skyfs/test/secret+KEY"
# one offer shape, so the plan is spot then on-demand of one type
BASE = ("provider = aws\nregion = us-east-1\naccelerator = T4\nssh_user = skytest\n"
        "node_timeout = 5s\n")



class AwsBase(SkyfsTestCase):
    """A fake EC2 and a daemon pointed at it with credentials (secret)."""
    autostart = False
    secret = SECRET

    def setUp(self):
        super().setUp()
        self.fake_dir = tempfile.mkdtemp(prefix="skyfs-it-ec2-")
        self.addCleanup(shutil.rmtree, self.fake_dir, True)
        self.ec2 = FakeEC2(self.fake_dir, access_key=ACCESS, secret_key=SECRET)
        self.ec2.__enter__()
        self.addCleanup(self.ec2.__exit__, None, None, None)
        self.daemon = self.start_daemon(env=self.ec2.daemon_env(self.secret),
                                        args=["-o", "api_timeout=2s"])

    def assertNoSecret(self):
        """The secret is in no file under the mount, and not in the log."""
        self.assertNotInMount(SECRET, ACCESS + "/")

    def assertAllGone(self):
        """Nothing of skyfs's is left in the fake: instances, key pairs,
        security groups."""
        wait_for(lambda: all(i["state"] == "terminated" for i in self.ec2.instances()), 10,
                 what=lambda: "instances terminated: %s" % self.ec2.instances())
        self.assertEqual(self.ec2.key_pairs(), [])
        self.assertEqual(self.ec2.security_groups(), [])



@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class AwsTest(AwsBase):

    def test_spot_pool_jobs_broadcast_and_rmdir(self):
        pool = self.make_pool("train", BASE + "nodes = 2\nallocation = spot\n", "ready",
                              timeout=60)
        live = self.ec2.live_instances()
        self.assertEqual(len(live), 2, live)
        group = self.ec2.security_groups()
        self.assertEqual(len(group), 1, group)
        # SSH only, only from this machine (what checkip said)
        self.assertEqual(group[0]["ingress"], [("tcp", 22, 22, "127.0.0.1/32")])
        self.assertEqual(len(self.ec2.key_pairs()), 1)
        for inst in live:
            self.assertEqual(inst["market"], "spot", inst)
            self.assertEqual(inst["type"], "g4dn.xlarge")
            self.assertEqual(inst["group_ids"], [group[0]["id"]])
            self.assertIn("skyfs:pool", inst["tags"])
            self.assertIn("skyfs:mount", inst["tags"])
            self.assertTrue(inst["tags"]["Name"].startswith("skyfs-train-"), inst["tags"])
            self.assertTrue(inst["client_token"])
            # the newest Deep Learning AMI, looked up
            newest = max(self.ec2.images, key=lambda i: i["creationDate"])
            self.assertEqual(inst["image_id"], newest["imageId"])
            # the host key in the user data is the one its sshd serves
            self.assertIn("ssh_keys:", inst["user_data"])
            self.assertIn(self.ec2.host_key(inst["id"]).split()[1], inst["user_data"])
        calls = [a for a, _ in self.ec2.calls]
        run = [p for a, p in self.ec2.calls if a == "RunInstances"]
        self.assertEqual(run[0]["InstanceMarketOptions.MarketType"], "spot")
        self.assertEqual(run[0]["InstanceInitiatedShutdownBehavior"], "terminate")
        self.assertIn("DescribeSpotPriceHistory", calls)
        # the nodes: provider aws, market spot, the live spot price
        node = kv_lines(read(os.path.join(pool, "nodes", "node-1")))
        self.assertEqual(node["provider"], "aws")
        self.assertEqual(node["market"], "spot")
        self.assertEqual(node["host_key"], "pinned (made by skyfs)")

        self.submit(pool, "hello", "echo hi from $SKY_NODE on $(hostname)\n")
        self.assertWait(pool, "hello", 0, timeout=30)
        self.assertTrue(read(os.path.join(pool, "results", "hello", "stdout"))
                        .startswith("hi from node-"))
        self.submit(pool, "b", "echo on $SKY_NODE; exit $SKY_NODE_RANK\n", broadcast=True)
        self.assertWait(pool, "b", 1, timeout=30)
        for r in range(2):
            self.assertEqual(read(os.path.join(pool, "results", "b", "node-%d" % r, "stdout")),
                             "on node-%d\n" % r)
        self.assertNoSecret()

        t0 = time.monotonic()
        os.rmdir(pool)
        took = time.monotonic() - t0
        # rmdir returned: every instance is confirmed terminating or gone
        for inst in self.ec2.instances():
            self.assertIn(inst["state"], ("shutting-down", "terminated"), inst)
        self.assertLess(took, 30)
        self.assertAllGone()

    def test_spot_capacity_falls_back_to_on_demand(self):
        self.ec2.spot_capacity_error = True
        pool = self.make_pool("fb", BASE, "ready", timeout=60)
        tried = tried_lines(read(os.path.join(pool, "plan")))
        self.assertEqual(len(tried), 2, tried)
        self.assertIn("spot", tried[0])
        self.assertIn("InsufficientInstanceCapacity", tried[0])
        self.assertIn("on-demand", tried[1])
        self.assertTrue(tried[1].endswith("in use"), tried)
        live = self.ec2.live_instances()
        self.assertEqual([i["market"] for i in live], ["on-demand"])
        # the failed spot candidate left nothing behind: one group, one key
        self.assertEqual(len(self.ec2.security_groups()), 1)
        self.assertEqual(len(self.ec2.key_pairs()), 1)
        os.rmdir(pool)
        self.assertAllGone()

    def test_type_capacity_moves_to_the_next_type(self):
        # A10G:1 is offered by two types; the cheaper has no capacity
        self.ec2.capacity_error_types = {"g5.xlarge"}
        pool = self.make_pool("ty", BASE.replace("T4", "A10G") + "allocation = on-demand\n",
                              "ready", timeout=60)
        tried = tried_lines(read(os.path.join(pool, "plan")))
        self.assertEqual(len(tried), 2, tried)
        self.assertIn("g5.xlarge", tried[0])
        self.assertIn("InsufficientInstanceCapacity", tried[0])
        self.assertIn("g5.2xlarge", tried[1])
        self.assertEqual([i["type"] for i in self.ec2.live_instances()], ["g5.2xlarge"])
        os.rmdir(pool)
        self.assertAllGone()

    def test_throttling_server_errors_and_a_slow_answer_are_retried(self):
        self.ec2.throttle_next = 3
        self.ec2.server_error_next = 2
        self.ec2.slow_next = 1
        self.ec2.slow_seconds = 4.0      # past the 2 s api_timeout
        pool = self.make_pool("th", BASE, "ready", timeout=60)
        codes = [c for _, c in self.ec2.errors]
        self.assertEqual(codes.count("RequestLimitExceeded"), 3, codes)
        self.assertEqual(codes.count("InternalError"), 2, codes)
        self.submit(pool, "j", "true\n")
        self.assertWait(pool, "j", 0, timeout=30)
        os.rmdir(pool)
        self.assertAllGone()

    def test_spot_reclaim_moves_the_job(self):
        pool = self.make_pool("re", BASE + "nodes = 2\nallocation = spot\n", "ready",
                              timeout=60)
        # one long job per node, then reclaim the node of the first
        self.submit(pool, "a", "sleep 30\n")
        self.submit(pool, "b", "sleep 2; echo b done\n")
        self.wait_job_state(pool, "a", "running", timeout=15)
        st = kv_lines(read(os.path.join(pool, "results", "a", "status")))
        victim = st["node"]
        inst = kv_lines(read(os.path.join(pool, "nodes", victim)))["instance"]
        self.ec2.reclaim(inst)
        # lost at once (no node_timeout wait) and said why
        wait_for(lambda: "reclaimed" in read(os.path.join(pool, "events")), 15,
                 what="a reclaim event")
        # job a starts again, and the node is replaced by a new instance
        wait_for(lambda: kv_lines(read(os.path.join(pool, "results", "a", "status")))
                 .get("attempts") == "2", 40, what="job a started again")
        self.wait_state(pool, "ready", 60)
        self.assertIn("node %s replaced: " % victim, read(os.path.join(pool, "events")))
        self.assertNotEqual(kv_lines(read(os.path.join(pool, "nodes", victim)))["instance"], inst)
        self.assertNotIn(inst, [i["id"] for i in self.ec2.live_instances()])
        os.rmdir(pool)
        self.assertAllGone()

    def test_budget_tears_the_pool_down(self):
        # g4dn.xlarge on demand at 0.526 USD/h: 0.0004 USD is about 3 s
        pool = self.make_pool("bu", BASE + "allocation = on-demand\nbudget = 0.0004\n",
                              "ready", timeout=60)
        st = kv_lines(read(os.path.join(pool, "status")))
        self.assertEqual(float(st["budget_usd"]), 0.0004)
        self.wait_state(pool, "stopped", timeout=20)
        events = read(os.path.join(pool, "events"))
        self.assertIn("warning: 80% of the budget spent", events)
        self.assertIn("budget of 0.0004 USD reached", events)
        self.assertLess(events.index("80% of the budget"), events.index("budget of 0.0004"))
        self.assertIn("budget of 0.0004 USD reached", read(os.path.join(pool, "status")))
        wait_for(lambda: not self.ec2.live_instances() or
                 all(i["state"] == "shutting-down" for i in self.ec2.live_instances()), 15,
                 what="the instance terminated")
        os.rmdir(pool)
        self.assertAllGone()

    def test_pinned_host_key_refuses_another(self):
        pool = self.make_pool("hk", BASE, "ready", timeout=60)
        inst = kv_lines(read(os.path.join(pool, "nodes", "node-0")))["instance"]
        # the machine at that address now shows another key (and drops us)
        self.ec2.rekey(inst)
        wait_for(lambda: "host key" in read(os.path.join(pool, "events")), 20,
                 what=lambda: "a host key refusal in events:\n" +
                 read(os.path.join(pool, "events")))
        # that machine is not ours any more: it is given up and replaced, and
        # a job runs on the new instance, never on it
        self.submit(pool, "after", "echo ran\n")
        self.assertWait(pool, "after", 0, timeout=60)
        node = kv_lines(read(os.path.join(pool, "nodes", "node-0")))
        self.assertNotEqual(node["instance"], inst)
        self.assertNotIn(inst, [i["id"] for i in self.ec2.live_instances()])
        os.rmdir(pool)
        self.assertAllGone()


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class AwsWrongCredentials(AwsBase):
    secret = "not-the-secret"

    def test_refused(self):
        pool = self.make_pool("bad", BASE, "failed", timeout=30)
        status = read(os.path.join(pool, "status"))
        self.assertIn("SignatureDoesNotMatch", status)
        self.assertIn("credentials refused, check them (environment)", status)
        tried = tried_lines(read(os.path.join(pool, "plan")))
        self.assertIn("skipped: aws is unusable", tried[-1])
        st = kv_lines(read(os.path.join(self.mnt, "providers", "aws", "status")))
        self.assertTrue(st["usable"].startswith("no (the API refused the credentials: SignatureDoesNotMatch"), st)
        self.assertTrue(st["configured"].startswith("yes (credentials from environment"), st)
        self.assertEqual(self.ec2.live_instances(), [])
        self.assertNoSecret()
        self.assertNotIn("not-the-secret", self.daemon.log_text())
