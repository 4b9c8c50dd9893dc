"""The lambda provider end to end against the fake Lambda Cloud API
(tests/fakes/fake_lambda.py): the real client (libcurl, JSON, bearer key)
talks to a server that checks the key and boots each instance as a real
sshd on its own loopback address with a host key skyfs never saw (Lambda
takes no user data: the key is recorded on first use). mkdir -> spec ->
offers -> launch -> SSH -> jobs -> results -> rmdir runs as on Lambda.

Needs root and OpenSSH's sshd (the instances); skipped without sshd.
"""

import glob
import os
import shutil
import sys
import tempfile
import time
import unittest

from harness import SkyfsTestCase, fusermount_u, kv_lines, read, tried_lines, wait_for
from lostlaunch import LostLaunch
import sshnodes

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
from fake_lambda import FakeLambda  # noqa: E402

KEY = "lambda-secret-key-0123456789"
LAUNCH = "/api/v1/instance-operations/launch"
# one offer: gpu_1x_a10 in us-east-1 (the fake lists it live there)
BASE = ("provider = lambda\nregion = us-east-1\naccelerator = A10\nssh_user = skytest\n"
        "node_timeout = 5s\n")



class LambdaBase(SkyfsTestCase):
    """A fake Lambda and a daemon pointed at it with an API key."""
    autostart = False
    key = KEY
    launch_interval_ms = 100

    def setUp(self):
        super().setUp()
        self.fake_dir = tempfile.mkdtemp(prefix="skyfs-it-lambda-")
        self.addCleanup(shutil.rmtree, self.fake_dir, True)
        self.lam = FakeLambda(self.fake_dir, api_key=KEY)
        self.lam.__enter__()
        self.addCleanup(self.lam.__exit__, None, None, None)
        env = {"SKYFS_LAMBDA_URL": self.lam.url,
               "SKYFS_LAMBDA_LAUNCH_INTERVAL_MS": str(self.launch_interval_ms)}
        if self.key is not None:
            env["LAMBDA_API_KEY"] = self.key
        self.daemon = self.start_daemon(env=env, args=["-o", "api_timeout=2s"])

    def status(self):
        return kv_lines(read(os.path.join(self.mnt, "providers", "lambda", "status")))

    def assertNoSecret(self, secret=KEY):
        """The key is in no file under the mount, and not in the log."""
        self.assertNotInMount(secret)

    def assertAllGone(self):
        """Nothing of skyfs's is left alive in the fake: instances, SSH keys."""
        wait_for(lambda: not self.lam.live_instances(), 10,
                 what=lambda: "instances terminated: %s" % self.lam.live_instances())
        self.assertEqual(self.lam.ssh_keys(), [])

    def launch_429s(self):
        return [c for c in self.lam.launches() if c["status"] == 429]


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class LambdaTest(LostLaunch, LambdaBase):
    lost_spec = BASE
    lost_match = "POST " + LAUNCH

    def lost_server(self):
        return self.lam._server

    def lost_live(self):
        return [i["id"] for i in self.lam.live_instances()]

    def lost_all(self):
        return [i["id"] for i in self.lam.instances()]

    def test_pool_jobs_broadcast_and_rmdir(self):
        # the ip shows a second after "active", as it may on Lambda
        self.lam.ip_delay = 1.0
        pool = self.make_pool("train", BASE + "nodes = 2\n", "ready", timeout=60)
        live = self.lam.live_instances()
        self.assertEqual(len(live), 2, live)
        keys = self.lam.ssh_keys()
        self.assertEqual(len(keys), 1, keys)
        self.assertTrue(keys[0]["name"].startswith("skyfs-train-"), keys)
        # both nodes in one launch of quantity 2, named for both ranks
        launches = self.lam.launches()
        self.assertEqual(len(launches), 1, launches)
        body = launches[0]["body"]
        self.assertEqual(body["quantity"], 2)
        self.assertEqual(body["region_name"], "us-east-1")
        self.assertEqual(body["instance_type_name"], "gpu_1x_a10")
        self.assertEqual(body["ssh_key_names"], [keys[0]["name"]])
        self.assertEqual(body["name"], keys[0]["name"] + "-0-1")
        for inst in live:
            self.assertEqual(inst["type"], "gpu_1x_a10")
            self.assertEqual(inst["name"], body["name"])
        # the offer was live: 75 cents an hour
        offers = [ln.split() for ln in read(os.path.join(self.mnt, "catalog", "offers"))
                  .splitlines() if ln.startswith("lambda ")]
        a10 = [o for o in offers if o[1] == "gpu_1x_a10" and o[2] == "us-east-1"]
        self.assertEqual(len(a10), 1, offers)
        self.assertIn("live", a10[0])
        self.assertAlmostEqual(float(a10[0][8]), 0.75)

        node = kv_lines(read(os.path.join(pool, "nodes", "node-0")))
        self.assertEqual(node["provider"], "lambda")
        self.assertEqual(node["host_key"], "recorded on first use")
        self.assertIn(node["instance"], [i["id"] for i in live])
        # recorded in the pool's own file: each node's real host key
        records = glob.glob(os.path.join(self.state, "**", "lambda", "known_hosts"),
                            recursive=True)
        self.assertEqual(len(records), 1, records)
        text = read(records[0])
        for inst in live:
            self.assertIn(inst["host_public"].split()[1], text)

        self.submit(pool, "hello", "echo hi from $SKY_NODE\n")
        self.assertWait(pool, "hello", 0, timeout=30)
        self.assertTrue(read(os.path.join(pool, "results", "hello", "stdout"))
                        .startswith("hi from node-"))
        self.submit(pool, "b", "echo on $SKY_NODE; exit $SKY_NODE_RANK\n", broadcast=True)
        self.assertWait(pool, "b", 1, timeout=30)
        for r in range(2):
            self.assertEqual(read(os.path.join(pool, "results", "b", "node-%d" % r, "stdout")),
                             "on node-%d\n" % r)
        st = self.status()
        self.assertEqual(st["configured"], "yes (API key from environment)")
        self.assertEqual(st["usable"], "yes")
        self.assertEqual(st["endpoint"], self.lam.url)
        self.assertNoSecret()

        t0 = time.monotonic()
        os.rmdir(pool)
        self.assertLess(time.monotonic() - t0, 30)
        for inst in self.lam.instances():
            self.assertIn(inst["status"], ("terminating", "terminated"), inst)
        self.assertAllGone()
        self.assertEqual(glob.glob(os.path.join(self.state, "**", "lambda", "known_hosts"),
                                   recursive=True), [])

    def test_capacity_moves_to_the_next_offer(self):
        # A100:1 in us-east-1 is two types; the cheaper has no capacity
        self.lam.instance_types["gpu_1x_a100"]["price_cents"] = 110
        self.lam.no_capacity_types = {"gpu_1x_a100"}
        pool = self.make_pool("cap", BASE.replace("A10", "A100"), "ready", timeout=60)
        tried = tried_lines(read(os.path.join(pool, "plan")))
        self.assertEqual(len(tried), 2, tried)
        self.assertIn("gpu_1x_a100 ", tried[0] + " ")
        self.assertIn("instance-operations/launch/insufficient-capacity", tried[0])
        self.assertIn("gpu_1x_a100_sxm4", tried[1])
        self.assertTrue(tried[1].endswith("in use"), tried)
        self.assertEqual([i["type"] for i in self.lam.live_instances()], ["gpu_1x_a100_sxm4"])
        # the failed candidate left nothing: one SSH key
        self.assertEqual(len(self.lam.ssh_keys()), 1)
        os.rmdir(pool)
        self.assertAllGone()

    def test_throttling_and_server_errors_are_retried(self):
        self.lam.throttle_next = 3
        self.lam.server_error_next = 2
        pool = self.make_pool("th", BASE, "ready", timeout=60)
        codes = [c["status"] for c in self.lam.calls]
        self.assertEqual(codes.count(429), 3, codes)
        self.assertEqual(codes.count(500), 2, codes)
        self.submit(pool, "j", "true\n")
        self.assertWait(pool, "j", 0, timeout=30)
        os.rmdir(pool)
        self.assertAllGone()

    def test_a_crashed_runs_instance_is_adopted_and_its_key_replaced(self):
        pool = self.make_pool("cr", BASE, "ready", timeout=60)
        old = self.lam.live_instances()
        old_key = self.lam.ssh_keys()
        self.assertEqual(len(old), 1)
        # the daemon dies without tearing anything down
        os.killpg(self.daemon.pid, 9)
        self.daemon.wait_exit(10)
        fusermount_u(self.mnt, lazy=True)
        self.assertEqual(len(self.lam.live_instances()), 1)
        self.daemon = self.start_daemon(env=self.daemon.env, args=["-o", "api_timeout=2s"])
        # the pool comes back by itself and adopts its instance (its host
        # key as recorded on first use)
        self.wait_state(pool, "ready", 60)
        events = read(os.path.join(pool, "events"))
        self.assertIn("recovering after a daemon crash (resume): 1 machine(s) recorded on lambda",
                      events)
        self.assertIn("node node-0 adopted: %s" % old[0]["id"], events)
        self.assertEqual([i["id"] for i in self.lam.live_instances()], [old[0]["id"]])
        self.submit(pool, "after", "echo after\n")
        self.assertWait(pool, "after", 0, timeout=30)
        # the key of that name was deleted and registered anew
        keys = self.lam.ssh_keys()
        self.assertEqual(len(keys), 1, keys)
        self.assertEqual(keys[0]["name"], old_key[0]["name"])
        self.assertNotEqual(keys[0]["id"], old_key[0]["id"])
        os.rmdir(pool)
        self.assertAllGone()


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class LambdaLaunchSpacing(LambdaBase):
    launch_interval_ms = 1000

    def test_launches_are_spaced_and_batched(self):
        self.lam.launch_interval = 1.0
        pools = []
        for name, nodes in (("a", 3), ("b", 1), ("c", 1)):
            p = self.pool_path(name)
            os.mkdir(p)
            pools.append(p)
            with open(os.path.join(p, "spec"), "w") as f:
                f.write(BASE + "nodes = %d\n" % nodes)
        for p in pools:
            self.wait_state(p, "ready", 60)
        launches = self.lam.launches()
        self.assertEqual(self.launch_429s(), [])
        # one launch per pool, the 3-node pool's of quantity 3
        self.assertEqual(sorted(c["body"]["quantity"] for c in launches), [1, 1, 3])
        times = sorted(c["t"] for c in launches)
        for a, b in zip(times, times[1:]):
            self.assertGreaterEqual(b - a, 1.0, times)
        for p in pools:
            os.rmdir(p)
        self.assertAllGone()


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class LambdaWrongKey(LambdaBase):
    key = "not-the-key-9876"

    def test_refused(self):
        # no region: three snapshot candidates; the first is refused, the rest skipped
        pool = self.make_pool("bad", BASE.replace("region = us-east-1\n", ""), "failed",
                              timeout=30)
        status = read(os.path.join(pool, "status"))
        self.assertIn("global/invalid-api-key", status)
        self.assertIn("LAMBDA_API_KEY", status)
        tried = tried_lines(read(os.path.join(pool, "plan")))
        self.assertGreaterEqual(len(tried), 2, tried)
        self.assertIn("skipped: lambda is unusable", tried[-1])
        st = self.status()
        self.assertTrue(st["usable"].startswith(
            "no (the API refused the credentials: global/invalid-api-key"), st)
        self.assertEqual(st["configured"], "yes (API key from environment)")
        self.assertEqual(self.lam.live_instances(), [])
        self.assertEqual(self.lam.ssh_keys(), [])
        self.assertEqual(self.lam.launches(), [])
        self.assertNoSecret("not-the-key-9876")


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class LambdaNoKey(LambdaBase):
    key = None

    def test_not_configured(self):
        st = self.status()
        self.assertEqual(st["configured"], "no (LAMBDA_API_KEY is not set)")
        self.assertEqual(st["usable"], "no")
        pool = self.make_pool("nokey", BASE, "failed", timeout=30)
        self.assertIn("LAMBDA_API_KEY is not set", read(os.path.join(pool, "status")))
        self.assertEqual(self.lam.calls, [])
