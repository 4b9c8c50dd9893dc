"""The files that show many things at once (issue 10, first part):
MNT/status, one line per pool, and pools/<p>/done, the stream of finished
jobs a workflow follows instead of polling every result."""

import os
import subprocess
import time

from harness import SkyfsTestCase, read, wait_for, write


class Glance(SkyfsTestCase):
    def overview(self):
        lines = read(os.path.join(self.mnt, "status")).splitlines()
        self.assertEqual(lines[0].split(), ["pool", "state", "nodes", "queued", "running",
                                            "done", "failed", "usd/h", "accrued_usd"])
        return {ln.split()[0]: ln.split()[1:] for ln in lines[1:]}

    def test_overview_one_line_per_pool(self):
        self.assertEqual(self.overview(), {})
        self.assertIn("status", os.listdir(self.mnt))
        pool = self.make_pool("b", "nodes = 2\nslots = 2\n")
        os.mkdir(self.pool_path("a"))
        self.submit(pool, "ok", "true\n")
        self.submit(pool, "bad", "exit 3\n")
        self.submit(pool, "long", "sleep 30\n")
        self.assertWait(pool, "ok", 0)
        self.assertWait(pool, "bad", 3)
        wait_for(lambda: self.overview()["b"][3] == "1", 10, what="one job running")
        ov = self.overview()
        # by name; a pool without a spec has no nodes
        self.assertEqual(list(ov), ["a", "b"])
        self.assertEqual(ov["a"][:2], ["empty", "0/0"])
        self.assertEqual(ov["b"][:6], ["ready", "2/2", "0", "1", "2", "1"])
        self.assertEqual(float(ov["b"][6]), 0.0)
        os.unlink(os.path.join(pool, "jobs", "long"))
        wait_for(lambda: self.overview()["b"][3:6] == ["0", "3", "1"], 10,
                 what="the cancelled job counted done, not failed")
        os.rmdir(pool)
        self.assertEqual(list(self.overview()), ["a"])

    def test_done_stream_in_finishing_order(self):
        pool = self.make_pool("d", "slots = 4\n")
        done = os.path.join(pool, "done")
        self.assertEqual(read(done), "")
        self.assertIn("done", os.listdir(pool))
        with open(done, "rb") as follower:
            self.assertEqual(follower.read(), b"")
            self.submit(pool, "slow one", "sleep 0.6\n")
            self.submit(pool, "fast", "exit 7\n")
            self.assertWait(pool, "slow one", 0)
            # what the follower reads from where it stood, as tail -f does
            got = follower.read().decode()
        self.assertEqual(got, "7 failed fast\n0 succeeded slow one\n")
        self.assertEqual(read(done), got)
        self.assertRaises(OSError, write, done, "x")

    def test_tail_follows_done(self):
        pool = self.make_pool("t", "slots = 2\n")
        tail = subprocess.Popen(["tail", "-n", "+1", "-F", "-s", "0.2",
                                 os.path.join(pool, "done")],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            for i in range(3):
                self.submit(pool, "j%d" % i, "exit %d\n" % i)
            lines = []
            deadline = time.monotonic() + 15
            while len(lines) < 3 and time.monotonic() < deadline:
                lines.append(tail.stdout.readline().strip())
            self.assertEqual(sorted(lines), ["0 succeeded j0", "1 failed j1", "2 failed j2"])
        finally:
            tail.kill()
            tail.wait(5)

    def test_progress_while_provisioning(self):
        pool = self.pool_path("pr")
        os.mkdir(pool)
        write(os.path.join(pool, "spec"), "nodes = 2\nsetup = sleep 1.5\n")
        status = os.path.join(pool, "status")
        wait_for(lambda: "progress: 0/2 nodes ready, 2 running setup" in read(status), 10,
                 what="both nodes in their setup")
        self.assertEqual(read(status).splitlines()[0], "provisioning")
        self.wait_state(pool, "ready", 15)
        self.assertNotIn("progress:", read(status))
