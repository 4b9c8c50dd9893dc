"""The user story end to end, the command line, and the state directory lock."""

import os
import shutil
import subprocess
import time

from harness import (SKYFS, SkyfsTestCase, read, run_cmd, state, wait_for, write, wrapper)


class UserStory(SkyfsTestCase):
    def test_user_story(self):
        top = sorted(os.listdir(self.mnt))
        self.assertEqual(top, ["README", "catalog", "config", "pools", "providers", "status", "templates"])
        self.assertIn("pools", read(os.path.join(self.mnt, "README")))

        pool = self.pool_path("demo")
        os.mkdir(pool)
        self.assertEqual(os.listdir(self.pools), ["demo"])
        self.assertEqual(state(pool), "empty")
        write(os.path.join(pool, "spec"), "nodes = 2\nslots = 2\n")
        seen = set()

        def ready():
            s = state(pool)
            seen.add(s)
            return s == "ready"
        wait_for(ready, 10, 0.01, what="pool ready")
        self.assertTrue(seen <= {"provisioning", "ready"}, seen)
        self.assertIn("provisioning", read(os.path.join(pool, "events")))
        self.assertEqual(sorted(os.listdir(os.path.join(pool, "nodes"))), ["node-0", "node-1"])

        # a script with a shebang, copied with cp(1)
        src = os.path.join(self.tmp, "hello.sh")
        write(src, "#!/bin/sh\necho \"hello from $SKY_JOB\"\n", mode=0o755)
        r = run_cmd(["cp", src, os.path.join(pool, "jobs/")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertWait(pool, "hello.sh", 0)
        self.assertEqual(read(os.path.join(pool, "results/hello.sh/stdout")),
                         "hello from hello.sh\n")
        self.assertEqual(read(os.path.join(pool, "results/hello.sh/status")).split("\n")[0],
                         "succeeded")
        self.assertEqual(read(os.path.join(pool, "results/hello.sh/exit")), "0\n")

        # a script without a shebang runs with /bin/sh
        src2 = os.path.join(self.tmp, "plain")
        write(src2, "x=41\necho \"plain $((x + 1))\"\nexit 3\n")
        r = run_cmd(["cp", src2, os.path.join(pool, "jobs/")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertWait(pool, "plain", 3)
        self.assertEqual(read(os.path.join(pool, "results/plain/stdout")), "plain 42\n")
        self.assertEqual(read(os.path.join(pool, "results/plain/status")).split("\n")[0],
                         "failed")

        # a broadcast runs once per node; the job's exit is the first
        # non-zero in rank order
        bsrc = os.path.join(self.tmp, "bc.sh")
        write(bsrc, "#!/bin/sh\necho \"rank $SKY_NODE_RANK of $SKY_NUM_NODES\"\n"
              "exit $((SKY_NODE_RANK * 5))\n")
        r = run_cmd(["cp", bsrc, os.path.join(pool, "broadcast/")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertWait(pool, "bc.sh", 5)
        res = os.path.join(pool, "results", "bc.sh")
        names = os.listdir(res)
        self.assertIn("node-0", names)
        self.assertIn("node-1", names)
        for rank in (0, 1):
            node = os.path.join(res, "node-%d" % rank)
            self.assertEqual(read(os.path.join(node, "stdout")), "rank %d of 2\n" % rank)
            self.assertEqual(read(os.path.join(node, "exit")), "%d\n" % (rank * 5))
        self.assertEqual(read(os.path.join(res, "status")).split("\n")[0], "failed")

        # rank order, not the order the nodes finished in
        write(os.path.join(pool, "broadcast", "bc2"),
              "#!/bin/sh\nif [ $SKY_NODE_RANK = 0 ]; then sleep 0.3; exit 3; fi\nexit 4\n")
        self.assertWait(pool, "bc2", 3)

        # rmdir returns and the pool is gone
        t0 = time.monotonic()
        os.rmdir(pool)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(os.listdir(self.pools), [])
        self.assertFalse(os.path.exists(pool))
        self.assertFalse(os.path.exists(os.path.join(self.state, "pools", "demo")))

        # unmount; the daemon exits 0
        r = self.daemon.unmount()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.daemon.wait_exit(10), 0)
        self.assertFalse(os.path.ismount(self.mnt))


class CommandLine(SkyfsTestCase):
    autostart = False

    def test_version(self):
        r = run_cmd(wrapper() + [SKYFS, "--version"], timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^skyfs \S+")

    def test_help(self):
        r = run_cmd(wrapper() + [SKYFS, "--help"], timeout=10)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("state=DIR", r.stdout + r.stderr)

    def test_missing_mountpoint_fails(self):
        r = run_cmd(wrapper() + [SKYFS, "-f", "-o", "state=" + self.state], timeout=10)
        self.assertNotEqual(r.returncode, 0)


class Lock(SkyfsTestCase):
    def test_second_daemon_on_same_state_dir_refused(self):
        other = os.path.join(self.tmp, "mnt2")
        os.mkdir(other)
        d2 = self.start_daemon(mnt=other, wait=False)
        rc = d2.wait_exit(10)
        self.assertIsNotNone(rc, "the second daemon is still running")
        self.assertNotEqual(rc, 0)
        self.assertFalse(os.path.ismount(other))
        self.assertIn("in use", d2.log_text())
        # the first mount is untouched
        self.assertEqual(os.listdir(self.pools), [])
        os.mkdir(self.pool_path("p"))
        self.assertEqual(os.listdir(self.pools), ["p"])

    def test_lock_released_after_unmount(self):
        os.mkdir(self.pool_path("keep"))
        self.assertEqual(self.daemon.unmount().returncode, 0)
        self.assertEqual(self.daemon.wait_exit(10), 0)
        other = os.path.join(self.tmp, "mnt2")
        self.start_daemon(mnt=other)
        self.assertEqual(os.listdir(os.path.join(other, "pools")), ["keep"])
