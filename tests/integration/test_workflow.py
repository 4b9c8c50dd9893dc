"""Real tools driving the mount (issue 10), each an example in examples/:
GNU make with -j8 runs again only what changed (examples/make), GNU
parallel submits and collects (examples/parallel), a bash script
provisions a pool, maps, follows the done stream, reduces and tears down
(examples/mapreduce), and Snakemake runs a two-step per-sample workflow
whose rules submit jobs through the mount and consume their
results/<job>/files/, reruns only what changed, fails when a job fails and
cancels its jobs when interrupted (examples/snakemake)."""

import collections
import datetime
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import SkyfsTestCase, job_state, kv_lines, read, run_cmd, wait_for, write

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


def fastq_summary(text, min_qual=25, k=4):
    """What examples/snakemake computes for one sample, here in Python: the
    reads, the filtered FASTQ text, and the k-mer counts (no N)."""
    lines = text.splitlines()
    recs = [lines[i:i + 4] for i in range(0, len(lines), 4)]
    kept = [r for r in recs if sum(ord(c) - 33 for c in r[3]) >= min_qual * len(r[3])]
    counts = collections.Counter(r[1][i:i + k] for r in kept
                                 for i in range(len(r[1]) - k + 1) if "N" not in r[1][i:i + k])
    return {"reads": len(recs), "kept": len(kept),
            "filtered": "".join("\n".join(r) + "\n" for r in kept),
            "kmers": "".join("%s\t%d\n" % kv for kv in
                             sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))}


@unittest.skipUnless(shutil.which("snakemake"), "snakemake is not installed (apt-get install snakemake)")
class Snakemake(SkyfsTestCase):
    def setUp(self):
        super().setUp()
        self.wf = os.path.join(self.tmp, "workflow")
        shutil.copytree(os.path.join(EXAMPLES, "snakemake"), self.wf, ignore=shutil.ignore_patterns(
            ".snakemake", "work", "logs", "summary.tsv"))
        # Snakemake's own files (.snakemake/, its caches) stay in the test's
        # directory: the workflow's copy, and a home of its own
        home = os.path.join(self.tmp, "home")
        os.mkdir(home)
        self.env = dict(os.environ, HOME=home, XDG_CACHE_HOME=os.path.join(home, ".cache"),
                        XDG_CONFIG_HOME=os.path.join(home, ".config"))

    def snakemake(self, pool, *config, timeout=60):
        return run_cmd(["snakemake", "-j", "4", "--cores", "4", "--show-failed-logs",
                        "--config", "pool=" + pool] + list(config),
                       timeout=timeout, env=self.env, cwd=self.wf)

    def expected(self):
        data = os.path.join(self.wf, "data")
        samples = sorted(f[:-len(".fastq")] for f in os.listdir(data) if f.endswith(".fastq"))
        return {s: fastq_summary(read(os.path.join(data, s + ".fastq"))) for s in samples}

    def assertSummary(self, want):
        lines = ["sample\treads\tkept\tkmers\ttop_kmer\ttop_count"]
        for s, w in sorted(want.items()):
            top = w["kmers"].split("\n", 1)[0].split("\t")
            lines.append("\t".join([s, str(w["reads"]), str(w["kept"]),
                                    str(w["kmers"].count("\n"))] + top))
        self.assertEqual(read(os.path.join(self.wf, "summary.tsv")).splitlines(), lines)

    def done_lines(self, pool):
        return read(os.path.join(pool, "done")).splitlines()

    def times(self, pool, name):
        status = kv_lines(read(os.path.join(pool, "results", name, "status")))
        return tuple(datetime.datetime.fromisoformat(status[k].replace("Z", "+00:00"))
                     for k in ("started", "ended"))

    def test_snakemake_runs_steps_through_the_mount(self):
        pool = self.make_pool("snk", "slots = 4\n")
        want = self.expected()
        samples = sorted(want)
        self.assertEqual(samples, ["ctrl_1", "ctrl_2", "heat_1", "heat_2"])

        r = self.snakemake(pool, "pause=1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertSummary(want)
        self.assertTrue(os.path.isdir(os.path.join(self.wf, ".snakemake")))
        done = self.done_lines(pool)
        self.assertEqual(sorted(done), sorted(["0 succeeded snk-%s-%s" % (step, s)
                                               for step in ("qc", "kmers") for s in samples]))
        for s in samples:
            for step, name, text in (("qc", "filtered.fastq", want[s]["filtered"]),
                                     ("kmers", "kmers.tsv", want[s]["kmers"])):
                res = os.path.join(pool, "results", "snk-%s-%s" % (step, s))
                self.assertEqual(read(os.path.join(res, "exit")), "0\n")
                # the job wrote it under $SKY_OUTPUT; the rule copied it here
                self.assertEqual(read(os.path.join(res, "files", name)), text)
            self.assertEqual(read(os.path.join(self.wf, "work", "filtered", s + ".fastq")),
                             want[s]["filtered"])
            self.assertEqual(read(os.path.join(self.wf, "work", "kmers", s + ".tsv")),
                             want[s]["kmers"])
            line = "snk-qc-%s: kept %d of %d reads, on node-0 slot " % (
                s, want[s]["kept"], want[s]["reads"])
            self.assertTrue(read(os.path.join(pool, "results", "snk-qc-" + s, "stdout"))
                            .startswith(line))
            # the job's stdout is the rule's log
            self.assertTrue(read(os.path.join(self.wf, "logs", "qc", s + ".log")).startswith(line))
        # -j 4 on 4 slots: the qc jobs ran at once, each in a slot of its own
        slots = {read(os.path.join(pool, "results", "snk-qc-" + s, "stdout")).split()[-1]
                 for s in samples}
        self.assertEqual(slots, {"0", "1", "2", "3"})
        spans = [self.times(pool, "snk-qc-" + s) for s in samples]
        self.assertLess(max(start for start, _ in spans), min(end for _, end in spans))

        # nothing changed: nothing to do
        r = self.snakemake(pool, "pause=1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Nothing to be done", r.stdout + r.stderr)
        self.assertEqual(self.done_lines(pool), done)

        # one sample changed (a read more): only its chain runs again, under
        # the same job names (the old results are removed first)
        before = {n: os.stat(os.path.join(pool, "results", n, "exit")).st_mtime
                  for n in os.listdir(os.path.join(pool, "results"))}
        with open(os.path.join(self.wf, "data", "heat_1.fastq"), "a") as f:
            f.write("@heat_1.25\nGGGGCCCCGGGGCCCCGGGG\n+\nIIIIIIIIIIIIIIIIIIII\n")
        want = self.expected()
        r = self.snakemake(pool)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.done_lines(pool)[len(done):],
                         ["0 succeeded snk-qc-heat_1", "0 succeeded snk-kmers-heat_1"])
        self.assertSummary(want)
        self.assertEqual(read(os.path.join(pool, "results", "snk-kmers-heat_1", "files",
                                           "kmers.tsv")), want["heat_1"]["kmers"])
        after = {n: os.stat(os.path.join(pool, "results", n, "exit")).st_mtime
                 for n in os.listdir(os.path.join(pool, "results"))}
        self.assertEqual(sorted(after), sorted(before))
        self.assertEqual({n for n in after if after[n] != before[n]},
                         {"snk-qc-heat_1", "snk-kmers-heat_1"})

    def test_failed_job_fails_the_run(self):
        pool = self.make_pool("snk", "slots = 4\n")
        # a sample whose upload was cut short: its qc job fails (exit 2), so
        # the rule fails and Snakemake does, showing the job's stderr
        full = read(os.path.join(self.wf, "data", "heat_2.fastq"))
        write(os.path.join(self.wf, "data", "heat_3.fastq"), full[:full.rindex("\n", 0, -1) + 1])
        r = self.snakemake(pool)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("reads.fastq:95: truncated record", r.stdout + r.stderr)
        self.assertIn("skyjob: job snk-qc-heat_3 exited 2", r.stdout + r.stderr)
        self.assertIn("2 failed snk-qc-heat_3", self.done_lines(pool))
        self.assertEqual(read(os.path.join(pool, "results", "snk-qc-heat_3", "exit")), "2\n")
        self.assertFalse(os.path.exists(os.path.join(self.wf, "work", "qc", "heat_3.tsv")))
        self.assertFalse(os.path.exists(os.path.join(self.wf, "summary.tsv")))

        # the whole file: the failed job runs again under its name, and the rest
        done = self.done_lines(pool)
        write(os.path.join(self.wf, "data", "heat_3.fastq"), full)
        r = self.snakemake(pool)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 succeeded snk-qc-heat_3", self.done_lines(pool)[len(done):])
        self.assertEqual(read(os.path.join(pool, "results", "snk-qc-heat_3", "exit")), "0\n")
        self.assertSummary(self.expected())

    def test_interrupted_snakemake_cancels_its_jobs(self):
        pool = self.make_pool("snk", "slots = 4\n")
        p = subprocess.Popen(["snakemake", "-j", "4", "--cores", "4", "--config",
                              "pool=" + pool, "pause=60"], cwd=self.wf, env=self.env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            # the jobs run their pause: a signal while skyjob's cp still
            # writes a payload races the upload's release, and the job may
            # have run (an empty script, exit 0) before skyjob's rm lands
            qc = ["snk-qc-" + s for s in ("ctrl_1", "ctrl_2", "heat_1", "heat_2")]

            def running():
                try:
                    return all(job_state(pool, n) == "running" for n in qc)
                except OSError:
                    return False
            wait_for(running, 20, what="4 qc jobs running")
            # Ctrl-C: the terminal signals the whole process group
            os.killpg(p.pid, signal.SIGINT)
            self.assertNotEqual(p.wait(timeout=20), 0)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        wait_for(lambda: not os.listdir(os.path.join(pool, "jobs")), 10, what="jobs cancelled")
        for s in ("ctrl_1", "ctrl_2", "heat_1", "heat_2"):
            res = os.path.join(pool, "results", "snk-qc-" + s)
            self.assertEqual(self.cat_wait(pool, "snk-qc-" + s), "143\n",
                             "%s\n%s\n%s" % (read(os.path.join(res, "status")),
                                             read(os.path.join(res, "stdout")),
                                             read(os.path.join(res, "stderr"))))
        # the next run replaces the cancelled results
        r = self.snakemake(pool)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertSummary(self.expected())
        self.assertEqual(read(os.path.join(pool, "results", "snk-qc-ctrl_1", "exit")), "0\n")
