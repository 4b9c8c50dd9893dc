"""The runpod provider end to end against the fake RunPod GraphQL API
(tests/fakes/fake_runpod.py): the real client (libcurl, jansson) talks to a
server that checks the key and the queries against its schema subset, and
boots each pod as a real sshd on its own loopback address with the host key
skyfs put in the pod's environment. mkdir -> spec -> provision -> SSH ->
jobs -> results -> rmdir runs as it would on RunPod.

Needs root and OpenSSH's sshd (the pods); skipped without sshd.
"""

import os
import shutil
import sys
import tempfile
import time
import unittest

from harness import (SkyfsTestCase, fusermount_u, kv_lines, read, state, tried_lines, wait_for,
                     write)
from lostlaunch import LostLaunch
import sshnodes

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
from fake_runpod import FakeRunPod  # noqa: E402

KEY = "rp_SKYFSTESTKEY_5f3a9c01"
RTX = "NVIDIA GeForce RTX 4090"
# one GPU type, so the plan is its clouds and markets only
BASE = "provider = runpod\naccelerator = RTX-4090\nssh_user = skytest\nnode_timeout = 5s\n"



class RunPodBase(SkyfsTestCase):
    """A fake RunPod and a daemon pointed at it with an API key (key)."""
    autostart = False
    key = KEY

    def daemon_environment(self):
        return {"RUNPOD_API_KEY": self.key, "SKYFS_RUNPOD_URL": self.rp.url,
                # no ~/.runpod of the machine running the tests
                "HOME": self.home}

    def setUp(self):
        super().setUp()
        self.fake_dir = tempfile.mkdtemp(prefix="skyfs-it-runpod-")
        self.addCleanup(shutil.rmtree, self.fake_dir, True)
        self.home = os.path.join(self.fake_dir, "home")
        os.makedirs(self.home)
        self.rp = FakeRunPod(os.path.join(self.fake_dir, "fake"), api_key=KEY)
        self.addCleanup(self.rp.__exit__, None, None, None)
        self.daemon = self.start_daemon(env=self.daemon_environment(),
                                        args=["-o", "api_timeout=2s"])

    def assertNoSecret(self):
        """The key is in no file under the mount, and not in the log."""
        self.assertNotInMount(self.key)

    def assertAllGone(self):
        """No pod left that is not terminated, no sshd of a pod running."""
        self.assertEqual(self.rp.live_pods(), [])
        wait_for(lambda: not self.rp.sshd_alive(), 10,
                 what=lambda: "pods' sshd gone: %s" % self.rp.sshd_alive())


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class RunPodTest(LostLaunch, RunPodBase):
    lost_spec = BASE + "allocation = on-demand\n"
    lost_match = "podFindAndDeployOnDemand"

    def lost_server(self):
        return self.rp._server

    def lost_live(self):
        return [p["id"] for p in self.rp.live_pods()]

    def lost_all(self):
        return [p["id"] for p in self.rp.pods()]

    def test_spot_pool_jobs_broadcast_and_rmdir(self):
        pool = self.make_pool("train", BASE + "nodes = 2\nallocation = spot\n", "ready",
                              timeout=60)
        live = self.rp.live_pods()
        self.assertEqual(len(live), 2, live)
        for p in live:
            # the cheapest spot offer: community cloud, bidding its price
            self.assertEqual(p["market"], "spot", p)
            self.assertEqual(p["gpu_type"], RTX)
            self.assertEqual(p["cloud"], "community")
            self.assertAlmostEqual(p["bid_per_gpu"], 0.2)
            self.assertTrue(p["name"].startswith("skyfs-train-"), p["name"])
            self.assertEqual(p["ports"], "22/tcp")
            self.assertTrue(p["start_ssh"])
            self.assertTrue(p["env"]["PUBLIC_KEY"].startswith("ssh-ed25519 "))
            # the host key in the pod's environment is the one its sshd serves
            self.assertEqual(p["host_key_source"], "skyfs", p["host_key_note"])
        self.assertEqual(sorted(p["name"][-2:] for p in live), ["-0", "-1"])
        roots = [r for r, _ in self.rp.calls]
        self.assertIn("gpuTypes", roots)
        self.assertEqual(roots.count("podRentInterruptable"), 2)
        self.assertNotIn("podFindAndDeployOnDemand", roots)
        node = kv_lines(read(os.path.join(pool, "nodes", "node-1")))
        self.assertEqual(node["provider"], "runpod")
        self.assertEqual(node["market"], "spot")
        self.assertEqual(node["host_key"], "pinned (made by skyfs)")
        self.assertIn(node["instance"], [p["id"] for p in live])
        st = kv_lines(read(os.path.join(self.mnt, "providers", "runpod", "status")))
        self.assertEqual(st["configured"], "yes (API key from environment)")
        self.assertEqual(st["usable"], "yes")
        self.assertEqual(st["endpoint"], self.rp.url)

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

        os.rmdir(pool)
        # rmdir returned: every pod is terminated
        self.assertEqual(self.rp.live_pods(), [])
        self.assertEqual(len(self.rp.pods()), 2)
        self.assertAllGone()
        self.assertIn("podTerminate", [r for r, _ in self.rp.calls])

    def test_capacity_moves_to_the_next_offer(self):
        # community on-demand is the cheapest; it has no capacity
        self.rp.supply_constraint_types = {RTX + "/community"}
        pool = self.make_pool("cap", BASE + "allocation = on-demand\n", "ready", timeout=60)
        tried = tried_lines(read(os.path.join(pool, "plan")))
        self.assertEqual(len(tried), 2, tried)
        self.assertIn(RTX + "/community", tried[0])
        self.assertIn("SUPPLY_CONSTRAINT", tried[0])
        self.assertIn(RTX + "/secure", tried[1])
        self.assertTrue(tried[1].endswith("in use"), tried)
        self.assertEqual([(p["cloud"], p["market"]) for p in self.rp.live_pods()],
                         [("secure", "on-demand")])
        self.assertIn(("podFindAndDeployOnDemand", "SUPPLY_CONSTRAINT"), self.rp.errors)
        os.rmdir(pool)
        self.assertAllGone()

    def test_no_spot_falls_back_to_on_demand(self):
        # RunPod dropped spot pods: the mutation is gone from the schema
        self.rp.no_spot = True
        pool = self.make_pool("ns", BASE, "ready", timeout=60)
        tried = tried_lines(read(os.path.join(pool, "plan")))
        self.assertEqual(len(tried), 3, tried)
        for t in tried[:2]:
            self.assertIn("spot", t)
            self.assertIn("no spot pods", t)
        self.assertIn("on-demand", tried[2])
        self.assertTrue(tried[2].endswith("in use"), tried)
        self.assertEqual([p["market"] for p in self.rp.live_pods()], ["on-demand"])
        os.rmdir(pool)
        self.assertAllGone()

    def test_throttling_and_server_errors_are_retried(self):
        self.rp.throttle_next = 3
        self.rp.server_error_next = 2
        pool = self.make_pool("th", BASE + "allocation = on-demand\n", "ready", timeout=60)
        codes = [c for _, c in self.rp.errors]
        self.assertEqual(codes.count("429"), 3, codes)
        self.assertEqual(codes.count("500"), 2, codes)
        self.assertEqual(len(self.rp.live_pods()), 1)
        self.submit(pool, "j", "true\n")
        self.assertWait(pool, "j", 0, timeout=30)
        os.rmdir(pool)
        self.assertAllGone()

    def test_waiting_nodes_share_one_listing(self):
        self.rp.boot_delay = 2.0
        t0 = time.monotonic()
        pool = self.make_pool("many", BASE + "nodes = 8\nallocation = on-demand\n", "ready",
                              timeout=60)
        took = time.monotonic() - t0
        roots = [r for r, _ in self.rp.calls]
        self.assertEqual(roots.count("podFindAndDeployOnDemand"), 8)
        # one `myself { pods }` at most twice a second for all 8 waiters,
        # none per pod
        self.assertLessEqual(roots.count("myself"), 2 * took + 4, (roots.count("myself"), took))
        self.assertNotIn("pod", roots)
        os.rmdir(pool)
        self.assertAllGone()

    def test_a_deploy_sent_twice_leaves_one_pod(self):
        # the first deploy makes its pod but the answer is lost (502); the
        # retry makes another: the pool keeps one, the listing shows the other
        self.rp.lose_deploy_answer_next = 1
        pool = self.make_pool("twice", BASE + "allocation = on-demand\n", "ready", timeout=60)
        self.assertIn(("podFindAndDeployOnDemand", "502"), self.rp.errors)
        self.assertEqual(len(self.rp.pods()), 2)
        wait_for(lambda: len(self.rp.live_pods()) == 1, 10,
                 what=lambda: "one live pod: %s" % self.rp.live_pods())
        node = kv_lines(read(os.path.join(pool, "nodes", "node-0")))
        self.assertEqual([p["id"] for p in self.rp.live_pods()], [node["instance"]])
        self.submit(pool, "j", "true\n")
        self.assertWait(pool, "j", 0, timeout=30)
        os.rmdir(pool)
        self.assertAllGone()

    def test_spot_reclaim_moves_the_job(self):
        pool = self.make_pool("re", BASE + "nodes = 2\nallocation = spot\n", "ready",
                              timeout=60)
        self.submit(pool, "a", "sleep 30\n")
        self.submit(pool, "b", "sleep 2; echo b done\n")
        self.wait_job_state(pool, "a", "running", timeout=15)
        victim = kv_lines(read(os.path.join(pool, "results", "a", "status")))["node"]
        pod = kv_lines(read(os.path.join(pool, "nodes", victim)))["instance"]
        self.rp.reclaim(pod)
        # lost at once (no node_timeout wait) and said why
        wait_for(lambda: "EXITED" in read(os.path.join(pool, "events")), 15,
                 what="a reclaim event")
        # the job runs again, and the lost node is replaced by a new pod
        wait_for(lambda: kv_lines(read(os.path.join(pool, "results", "a", "status")))
                 .get("attempts") == "2", 40, what="job a started again")
        self.wait_state(pool, "ready", 60)
        self.assertIn("node %s replaced: " % victim, read(os.path.join(pool, "events")))
        self.assertNotEqual(kv_lines(read(os.path.join(pool, "nodes", victim)))["instance"], pod)
        self.assertNotIn(pod, [p["id"] for p in self.rp.live_pods()])
        os.rmdir(pool)
        # the EXITED pod was terminated too
        self.assertAllGone()

    def test_a_crashed_daemons_pods_are_adopted(self):
        pool = self.make_pool("cr", BASE + "allocation = on-demand\n", "ready", timeout=60)
        pods = [p["id"] for p in self.rp.live_pods()]
        self.submit(pool, "slow", "sleep 3; echo slow done\n")
        self.wait_job_state(pool, "slow", "running", timeout=15)
        # the daemon dies without tearing anything down; the pool comes back
        # by itself with the same pod, and the job runs again
        os.killpg(self.daemon.pid, 9)
        self.daemon.wait_exit(10)
        fusermount_u(self.mnt, lazy=True)
        self.daemon = self.start_daemon(env=self.daemon_environment(),
                                        args=["-o", "api_timeout=2s"])
        self.wait_state(pool, "ready", 60)
        self.assertIn("node node-0 adopted: %s" % pods[0], read(os.path.join(pool, "events")))
        self.assertEqual([p["id"] for p in self.rp.live_pods()], pods)
        self.assertWait(pool, "slow", 0, timeout=30)
        self.assertEqual(read(os.path.join(pool, "results", "slow", "stdout")), "slow done\n")
        self.assertEqual(kv_lines(read(os.path.join(pool, "results", "slow", "status")))
                         ["attempts"], "2")
        os.rmdir(pool)
        self.assertAllGone()

    def test_pinned_host_key_refuses_another(self):
        pool = self.make_pool("hk", BASE + "allocation = on-demand\n", "ready", timeout=60)
        pod = kv_lines(read(os.path.join(pool, "nodes", "node-0")))["instance"]
        self.rp.rekey(pod)
        wait_for(lambda: "host key" in read(os.path.join(pool, "events")), 20,
                 what=lambda: "a host key refusal in events:\n" +
                 read(os.path.join(pool, "events")))
        os.rmdir(pool)
        self.assertAllGone()

    def test_dry_run_ranks_live_offers(self):
        pool = self.make_pool("dry", BASE + "dry_run = true\nregion = community\n", "planned",
                              timeout=20)
        plan = read(os.path.join(pool, "plan"))
        self.assertIn(RTX + "/community", plan)
        self.assertNotIn(RTX + "/secure", plan)
        self.assertIn("live", plan)
        st = kv_lines(read(os.path.join(self.mnt, "providers", "runpod", "status")))
        self.assertEqual(st["implemented"], "yes")
        self.assertGreater(int(st["offers_live"]), 0, st)
        self.assertEqual(self.rp.pods(), [])
        os.rmdir(pool)


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class RunPodConfigFile(RunPodBase):
    """The key from ~/.runpod/config.toml (the runpod CLI's file)."""

    def daemon_environment(self):
        os.makedirs(os.path.join(self.home, ".runpod"))
        write(os.path.join(self.home, ".runpod", "config.toml"),
              "apiurl = \"https://api.runpod.io/graphql\"\napikey = \"%s\"\n" % KEY, 0o600)
        return {"SKYFS_RUNPOD_URL": self.rp.url, "HOME": self.home}

    def test_config_toml(self):
        st = kv_lines(read(os.path.join(self.mnt, "providers", "runpod", "status")))
        self.assertEqual(st["configured"], "yes (API key from ~/.runpod/config.toml)")
        pool = self.make_pool("cf", BASE + "allocation = on-demand\n", "ready", timeout=60)
        self.assertEqual(len(self.rp.live_pods()), 1)
        self.assertNoSecret()
        os.rmdir(pool)
        self.assertAllGone()


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class RunPodWrongKey(RunPodBase):
    key = "rp_not_the_key_0000"

    def test_refused(self):
        pool = self.make_pool("bad", BASE, "failed", timeout=30)
        status = read(os.path.join(pool, "status"))
        self.assertIn("runpod: API key refused, check it (environment)", status)
        self.assertIn("HTTP 401", status)
        tried = tried_lines(read(os.path.join(pool, "plan")))
        self.assertGreater(len(tried), 1, tried)
        self.assertIn("skipped: runpod is unusable", tried[-1])
        st = kv_lines(read(os.path.join(self.mnt, "providers", "runpod", "status")))
        self.assertTrue(st["usable"].startswith("no (the API refused the credentials: "
                                                "HTTP 401"), st)
        self.assertEqual(st["configured"], "yes (API key from environment)")
        self.assertEqual(self.rp.pods(), [])
        self.assertNoSecret()
        os.rmdir(pool)


@unittest.skipUnless(sshnodes.have_sshd(), "OpenSSH server not installed")
class RunPodNoKey(RunPodBase):

    def daemon_environment(self):
        return {"SKYFS_RUNPOD_URL": self.rp.url, "HOME": self.home}

    def test_not_configured(self):
        st = kv_lines(read(os.path.join(self.mnt, "providers", "runpod", "status")))
        self.assertTrue(st["configured"].startswith("no (no API key: set RUNPOD_API_KEY"), st)
        self.assertEqual(st["usable"], "no")
        pool = self.make_pool("nk", BASE, "failed", timeout=30)
        self.assertIn("no API key", read(os.path.join(pool, "status")))
        self.assertEqual(self.rp.calls, [])
        os.rmdir(pool)


if __name__ == "__main__":
    unittest.main()
