"""Real tools driving the mount (issue 10): GNU make runs examples/make's
Makefile with -j8, and on the second run, after one source changed, runs
only that job again."""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import SkyfsTestCase, read

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")


@unittest.skipUnless(shutil.which("make"), "GNU make is not installed")
class Make(SkyfsTestCase):
    def make(self, src, pool, *args):
        return subprocess.run(["make", "-C", src, "POOL=" + pool] + list(args),
                              capture_output=True, text=True, timeout=60)

    def test_make_runs_only_what_changed(self):
        pool = self.make_pool("make", "slots = 8\n")
        src = tempfile.mkdtemp(prefix="skyfs-make-")
        self.addCleanup(shutil.rmtree, src, True)
        shutil.copytree(os.path.join(EXAMPLES, "make"), src, dirs_exist_ok=True)
        names = sorted(os.listdir(os.path.join(src, "src")))
        self.assertEqual(len(names), 8)
        # sources older than any result the run makes
        for n in names:
            os.utime(os.path.join(src, "src", n), (time.time() - 60, time.time() - 60))

        r = self.make(src, pool, "-j8")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for n in names:
            self.assertIn("%s exited 0" % n, r.stdout)
            self.assertEqual(read(os.path.join(pool, "results", n, "exit")), "0\n")
            self.assertTrue(read(os.path.join(pool, "results", n, "stdout")).startswith(
                n[0] + " on node-0 slot "))
        # 8 slots, -j8: they ran at once, each in a slot of its own
        slots = {read(os.path.join(pool, "results", n, "stdout")).split()[-1] for n in names}
        self.assertEqual(len(slots), 8)

        # nothing changed: nothing to do
        self.assertEqual(self.make(src, pool, "-q").returncode, 0)
        r = self.make(src, pool, "-j8")
        self.assertEqual(r.returncode, 0)
        self.assertNotIn("exited", r.stdout)

        # one source changed: only its job runs again
        before = {n: os.stat(os.path.join(pool, "results", n, "exit")).st_mtime for n in names}
        time.sleep(1.1)
        os.utime(os.path.join(src, "src", "b.sh"))
        r = self.make(src, pool, "-j8")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual([ln for ln in r.stdout.splitlines() if "exited" in ln],
                         ["b.sh exited 0"])
        after = {n: os.stat(os.path.join(pool, "results", n, "exit")).st_mtime for n in names}
        self.assertGreater(after["b.sh"], before["b.sh"])
        self.assertEqual({n: t for n, t in after.items() if n != "b.sh"},
                         {n: t for n, t in before.items() if n != "b.sh"})

        # a failing job fails its target, and make says so
        with open(os.path.join(src, "src", "z.sh"), "w") as f:
            f.write("echo broken >&2\nexit 4\n")
        r = self.make(src, pool, "-j8")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("z.sh exited 4", r.stdout)
        self.assertIn("broken", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(pool, "results", "z.sh")))
        # ... and runs again next time, until it is fixed
        r = self.make(src, pool, "-j8")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("z.sh exited 4", r.stdout)
        with open(os.path.join(src, "src", "z.sh"), "w") as f:
            f.write("echo fixed\n")
        r = self.make(src, pool, "report")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual([ln for ln in r.stdout.splitlines() if "exited" in ln],
                         ["z.sh exited 0"])
        self.assertIn("z.sh: fixed", r.stdout)
