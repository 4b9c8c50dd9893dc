"""The vastai provider end to end against the fake Vast.ai API
(tests/fakes/fake_vastai.py): the real client (libcurl, JSON, bearer key)
searches asks, rents one per node, attaches the pool's key, and reaches each
instance, a real sshd on its own loopback address serving the host key that
onstart installed. mkdir -> spec -> provision -> SSH -> jobs -> rmdir runs as
it would on Vast.ai.

Needs root and OpenSSH's sshd (the instances); skipped without sshd.
"""

import os
import re
import shutil
import sys
import tempfile
import time
import unittest

from harness import SkyfsTestCase, fusermount_u, kv_lines, read, tried_lines, wait_for
from lostlaunch import LostLaunch
import sshnodes

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
from fake_vastai import FakeVast, default_offers  # noqa: E402

KEY = "vast-test-key-0123456789abcdef"
BASE = ("provider = vastai\naccelerator = RTX-4090\nssh_user = skytest\n"
        "node_timeout = 5s\n")



class VastBase(SkyfsTestCase):
    """A fake Vast.ai and a daemon pointed at it with an API key (key)."""
    autostart = False
    key = KEY

    def setUp(self):
        super().setUp()
        self.fake_dir = tempfile.mkdtemp(prefix="skyfs-it-vast-")
        self.addCleanup(shutil.rmtree, self.fake_dir, True)
        self.vast = FakeVast(self.fake_dir, api_key=KEY)
        self.vast.__enter__()
        self.addCleanup(self.vast.__exit__, None, None, None)
        self.daemon = self.start_daemon(env={
            "VAST_API_KEY": self.key,
            "SKYFS_VASTAI_URL": self.vast.url,
        }, args=["-o", "api_timeout=2s"])

    def assertNoSecret(self):
        """The API key is in no file under the mount, and not in the log."""
        self.assertNotInMount(self.key)

    def assertAllGone(self):
        """Nothing of skyfs's is left in the fake: no instance, no sshd."""
        wait_for(lambda: self.vast.live_instances() == [], 10,
                 what=lambda: "instances destroyed: %s" % self.vast.live_instances())


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class VastTest(LostLaunch, VastBase):
    lost_spec = BASE
    lost_match = "PUT /api/v0/asks/"

    def lost_server(self):
        return self.vast._server

    def lost_live(self):
        return [str(i["id"]) for i in self.vast.live_instances()]

    def lost_all(self):
        return [str(i["id"]) for i in self.vast.instances()]

    def lost_keep_late(self):
        """An ask is rented once: the one the launch in flight asks for is
        out for the next daemon's launch, back when the late one lands."""
        ask = int(re.search(r"/asks/(\d+)/", self.vast._server.lagged_call).group(1))
        self.vast.gone_asks.add(ask)
        return lambda: self.vast.gone_asks.discard(ask)

    def test_two_nodes_jobs_broadcast_and_rmdir(self):
        pool = self.make_pool("train", BASE + "nodes = 2\nallocation = on-demand\n", "ready",
                              timeout=60)
        live = self.vast.live_instances()
        self.assertEqual(len(live), 2, live)
        # two nodes, two asks: the two cheapest of the shape
        self.assertEqual(sorted(i["ask_id"] for i in live), [101, 102])
        labels = sorted(i["label"] for i in live)
        self.assertTrue(labels[0].startswith("skyfs-train-") and labels[0].endswith("-0"),
                        labels)
        self.assertEqual(labels[1], labels[0][:-1] + "1")
        for inst in live:
            self.assertEqual(inst["market"], "on-demand")
            self.assertEqual(inst["runtype"], "ssh")
            self.assertTrue(inst["image"])
            # the host key onstart installed is the one its sshd serves
            self.assertEqual(inst["host_key_source"], "onstart", inst)
            self.assertIn("SKYFS_HOST_KEY", inst["env"])
            self.assertEqual(len(inst["ssh_keys"]), 1)
        # one search per market, then one per shape for the nodes together
        calls = [(m, p) for m, p, _ in self.vast.calls]
        self.assertIn(("POST", "/bundles/"), calls)
        rents = [p for m, p in calls if m == "PUT"]
        self.assertEqual(sorted(rents), ["/asks/101/", "/asks/102/"])
        query = next(b for m, p, b in self.vast.calls if p == "/bundles/" and b and
                     "gpu_name" in b)
        self.assertIn("RTX 4090", query["gpu_name"]["in"])
        self.assertEqual(query["num_gpus"], {"eq": 1})
        self.assertEqual(query["rentable"], {"eq": True})
        self.assertEqual(query["verified"], {"eq": True})

        node = kv_lines(read(os.path.join(pool, "nodes", "node-1")))
        self.assertEqual(node["provider"], "vastai")
        self.assertEqual(node["host_key"], "pinned (made by skyfs)")
        plan = read(os.path.join(pool, "plan"))
        self.assertIn("RTX_4090", plan)
        self.assertIn("RTX-4090 x1", plan)

        self.submit(pool, "hello", "echo hi from $SKY_NODE\n")
        self.assertWait(pool, "hello", 0, timeout=30)
        self.assertTrue(read(os.path.join(pool, "results", "hello", "stdout"))
                        .startswith("hi from node-"))
        self.submit(pool, "b", "echo on $SKY_NODE; exit $SKY_NODE_RANK\n", broadcast=True)
        self.assertWait(pool, "b", 1, timeout=30)
        for r in range(2):
            self.assertEqual(read(os.path.join(pool, "results", "b", "node-%d" % r, "stdout")),
                             "on node-%d\n" % r)
        st = kv_lines(read(os.path.join(self.mnt, "providers", "vastai", "status")))
        self.assertEqual(st["implemented"], "yes")
        self.assertEqual(st["configured"], "yes (API key from environment)")
        self.assertEqual(st["usable"], "yes")
        self.assertNoSecret()

        t0 = time.monotonic()
        os.rmdir(pool)
        self.assertLess(time.monotonic() - t0, 30)
        # rmdir returned: every instance is destroyed, its sshd gone
        self.assertEqual(self.vast.live_instances(), [])
        self.assertEqual(self.vast.rented_asks(), set())

    def test_gone_ask_moves_to_the_next_offer(self):
        # the cheapest machine, the only one of its shape (Canada), is gone
        # when rented: that candidate fails, the next shape (US) has two
        offers = default_offers()
        offers[0]["geolocation"] = "Canada, CA"
        self.vast.offers = offers
        self.vast.gone_asks = {101}
        pool = self.make_pool("gone", BASE + "nodes = 2\nallocation = on-demand\n", "ready",
                              timeout=60)
        tried = tried_lines(read(os.path.join(pool, "plan")))
        self.assertEqual(len(tried), 2, tried)
        self.assertIn("RTX_4090 Canada,CA on-demand", tried[0])
        self.assertIn("no free ask of RTX 4090 x1 in Canada,CA left (1 found for 2 nodes; "
                      "ask 101: renting an ask: no_such_ask", tried[0])
        self.assertTrue(tried[1].endswith("in use"), tried)
        self.assertIn("RTX_4090 US on-demand", tried[1])
        self.assertEqual(sorted(i["ask_id"] for i in self.vast.live_instances()), [102, 103])
        self.assertIn("no_such_ask", read(os.path.join(pool, "events")))
        os.rmdir(pool)
        self.assertAllGone()

    def test_gone_ask_within_a_shape_takes_the_next_ask(self):
        self.vast.gone_asks = {101}
        pool = self.make_pool("next", BASE + "allocation = on-demand\n", "ready", timeout=60)
        self.assertEqual([i["ask_id"] for i in self.vast.live_instances()], [102])
        rents = [p for m, p, _ in self.vast.calls if m == "PUT"]
        self.assertEqual(rents, ["/asks/101/", "/asks/102/"])
        tried = tried_lines(read(os.path.join(pool, "plan")))
        self.assertEqual(len(tried), 1, tried)
        os.rmdir(pool)
        self.assertAllGone()

    def test_throttling_and_server_errors_are_retried(self):
        self.vast.throttle_next = 3
        self.vast.server_error_next = 2
        # the image's own host key a good while: the pinned one is retried
        self.vast.onstart_delay = 2.0
        pool = self.make_pool("th", BASE + "allocation = spot\n", "ready", timeout=60)
        statuses = [s for _, _, s, _ in self.vast.errors]
        self.assertEqual(statuses.count(429), 3, self.vast.errors)
        self.assertEqual(statuses.count(500), 2, self.vast.errors)
        # a bid at the ask's floor
        live = self.vast.live_instances()
        self.assertEqual(len(live), 1, live)
        self.assertEqual(live[0]["market"], "bid")
        self.assertEqual(live[0]["price"], 0.20)
        self.assertEqual(live[0]["host_key_source"], "onstart")
        node = kv_lines(read(os.path.join(pool, "nodes", "node-0")))
        self.assertEqual(node["market"], "spot")
        self.submit(pool, "j", "true\n")
        self.assertWait(pool, "j", 0, timeout=30)
        os.rmdir(pool)
        self.assertAllGone()

    def test_outbid_node_is_lost_and_its_job_moves(self):
        pool = self.make_pool("ob", BASE + "nodes = 2\nallocation = spot\n", "ready",
                              timeout=60)
        self.submit(pool, "a", "sleep 30\n")
        self.wait_job_state(pool, "a", "running", timeout=15)
        victim = kv_lines(read(os.path.join(pool, "results", "a", "status")))["node"]
        inst = kv_lines(read(os.path.join(pool, "nodes", victim)))["instance"]
        self.vast.outbid(inst)
        # lost at once (no node_timeout wait), and why
        wait_for(lambda: "outbid" in read(os.path.join(pool, "events")), 15,
                 what="an outbid event")
        # the job runs again, and the lost node is replaced by a new rental
        wait_for(lambda: kv_lines(read(os.path.join(pool, "results", "a", "status")))
                 .get("attempts") == "2", 40, what="job a started again")
        self.wait_state(pool, "ready", 60)
        self.assertIn("node %s replaced: " % victim, read(os.path.join(pool, "events")))
        self.assertNotEqual(kv_lines(read(os.path.join(pool, "nodes", victim)))["instance"], inst)
        os.rmdir(pool)
        # the stopped instance is destroyed too
        self.assertAllGone()

    def test_a_crashed_daemons_instance_is_adopted(self):
        pool = self.make_pool("cr", BASE, "ready", timeout=60)
        old = [i["id"] for i in self.vast.live_instances()]
        self.submit(pool, "slow", "sleep 3; echo slow done\n")
        self.wait_job_state(pool, "slow", "running", timeout=15)
        os.killpg(self.daemon.pid, 9)
        self.daemon.wait_exit(10)
        fusermount_u(self.mnt, lazy=True)
        self.daemon = self.start_daemon(env=self.daemon.env, args=["-o", "api_timeout=2s"])
        self.wait_state(pool, "ready", 60)
        self.assertIn("node node-0 adopted: %s" % old[0], read(os.path.join(pool, "events")))
        self.assertEqual([i["id"] for i in self.vast.live_instances()], old)
        self.assertWait(pool, "slow", 0, timeout=30)
        self.assertEqual(read(os.path.join(pool, "results", "slow", "stdout")), "slow done\n")
        os.rmdir(pool)
        self.assertAllGone()

    def test_proxy_endpoint_and_max_price(self):
        # no direct ports: ssh_host/ssh_port; the cap leaves the dearest ask out
        self.vast.direct_ports = False
        pool = self.make_pool("px", BASE + "nodes = 3\nallocation = on-demand\n"
                              "max_price = 0.5\n", "failed", timeout=60)
        status = read(os.path.join(pool, "status"))
        self.assertIn("no free ask of RTX 4090 x1 in US within max_price", status)
        self.assertAllGone()
        os.rmdir(pool)
        pool = self.make_pool("px2", BASE + "nodes = 2\nallocation = on-demand\n"
                              "max_price = 0.5\n", "ready", timeout=60)
        self.submit(pool, "j", "true\n")
        self.assertWait(pool, "j", 0, timeout=30)
        os.rmdir(pool)
        self.assertAllGone()


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class VastWrongKey(VastBase):
    key = "not-the-vast-key"

    def test_refused(self):
        pool = self.make_pool("bad", BASE, "failed", timeout=30)
        status = read(os.path.join(pool, "status"))
        self.assertIn("the API refused the key (from environment)", status)
        self.assertIn("invalid_user_key", status)
        st = kv_lines(read(os.path.join(self.mnt, "providers", "vastai", "status")))
        self.assertTrue(st["usable"].startswith(
            "no (the API refused the credentials: invalid_user_key"), st)
        self.assertEqual(st["configured"], "yes (API key from environment)")
        self.assertIn("refused the key", st["last_error"])
        self.assertEqual(self.vast.live_instances(), [])
        self.assertEqual(self.vast.calls, [])
        self.assertNoSecret()
