"""Real tools driving the mount (issue 10), each an example in examples/:
GNU make with -j8 runs again only what changed (examples/make), GNU
parallel submits and collects (examples/parallel), and a bash script
provisions a pool, maps, follows the done stream, reduces and tears down
(examples/mapreduce)."""

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


@unittest.skipUnless(shutil.which("parallel"), "GNU parallel is not installed (apt-get install parallel)")
class Parallel(SkyfsTestCase):
    def test_parallel_submits_and_collects(self):
        pool = self.make_pool("par", "slots = 4\n")
        numbers = [str(n) for n in range(1, 25)]
        r = subprocess.run([os.path.join(EXAMPLES, "parallel", "square.sh"), pool] + numbers,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), ["%d %d" % (n, n * n) for n in range(1, 25)])
        self.assertEqual(len(os.listdir(os.path.join(pool, "results"))), 24)
        # a failing input fails the run and names its job
        with open(os.path.join(pool, "results", "sq-3", "stdout")) as f:
            self.assertEqual(f.read(), "9\n")
        r = subprocess.run([os.path.join(EXAMPLES, "parallel", "square.sh"), pool, "2x"],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("sq-2x exited 2", r.stderr)


class MapReduce(SkyfsTestCase):
    def test_wordcount_pipeline_provisions_maps_reduces_and_tears_down(self):
        text = "".join("the quick brown fox %d jumps over the lazy dog %s\n"
                       % (i % 5, "The" if i % 3 else "cat") for i in range(300))
        src = os.path.join(tempfile.mkdtemp(prefix="skyfs-wc-"), "input.txt")
        self.addCleanup(shutil.rmtree, os.path.dirname(src), True)
        with open(src, "w") as f:
            f.write(text)
        r = subprocess.run([os.path.join(EXAMPLES, "mapreduce", "wordcount.sh"), self.mnt,
                            src, "3"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        words = {}
        for w in text.lower().split():
            words[w] = words.get(w, 0) + 1
        want = sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        self.assertEqual(r.stdout.splitlines(), ["%d %s" % (n, w) for w, n in want])
        # it tore its pool down
        self.assertEqual(os.listdir(os.path.join(self.mnt, "pools")), [])
