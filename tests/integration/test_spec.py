"""The spec file: refusals with their messages, JSON, rewrites, setup,
lifetime and idle_timeout, accelerators (with a fake nvidia-smi), cost and
node files.

Job scripts here have no shebang (they run with /bin/sh)."""

import errno
import os
import time

from harness import SkyfsTestCase, errno_of, kv_lines, read, run_cmd, state, wait_for, write


class InvalidSpecs(SkyfsTestCase):
    def setUp(self):
        super().setUp()
        self.pool = self.make_pool("sp")
        self.spec = os.path.join(self.pool, "spec")

    def refused(self, text, *needles):
        err = errno_of(write, self.spec, text)
        self.assertEqual(err, errno.EINVAL, "spec %r: expected EINVAL, got %s" % (text, err))
        status = read(os.path.join(self.pool, "status"))
        self.assertEqual(status.split("\n")[0], "invalid", status)
        errors = [ln for ln in status.splitlines() if ln.startswith("error: ")]
        self.assertEqual(len(errors), 1, status)
        for n in needles:
            self.assertIn(n, errors[0])
        return errors[0]

    def test_unknown_key_with_suggestion(self):
        err = self.refused("nodez = 2\n")
        self.assertEqual(err, 'error: line 1: unknown key "nodez" (did you mean "nodes"?)')
        self.assertIn('unknown key "nodez" (did you mean "nodes"?)',
                      read(os.path.join(self.pool, "events")))
        # nothing was accepted
        self.assertEqual(read(self.spec), "")

    def test_refused_values(self):
        self.refused("nodes = 0\n", "nodes", "0")
        self.refused("nodes = 2000\n", "nodes", "2000")
        self.refused("slots = 1\nlifetime = 5x\n", "line 2", "lifetime", "5x")
        self.refused("provider = nosuchcloud\n", "provider", "nosuchcloud")
        self.refused("nodes = two\n", "nodes", "two")
        self.refused("nodes = 1\nnodes = 2\n", "duplicate", "nodes")
        self.refused("env.SKY_POOL = x\n", "SKY_")
        self.refused("accelerator = A100:0\n", "accelerator")
        events = read(os.path.join(self.pool, "events"))
        self.assertIn("nosuchcloud", events)
        self.assertIn("5x", events)
        self.assertEqual(read(self.spec), "")
        self.assertEqual(os.listdir(os.path.join(self.pool, "nodes")), [])

    def test_shell_sees_the_refusal(self):
        r = run_cmd(["sh", "-c", "/bin/echo 'nodez = 2' > %s" % self.spec])
        self.assertNotEqual(r.returncode, 0, "the shell saw no error")
        self.assertIn("Invalid argument", r.stderr)
        self.assertEqual(state(self.pool), "invalid")

    def test_invalid_json(self):
        self.refused('{"nodes": 2,', "JSON")
        self.refused('{"nodes": }\n', "JSON")
        self.refused('{"nodez": 2}\n', "nodez", "nodes")
        self.refused('{"nodes": [1, 2]}\n', "nodes")

    def test_valid_spec_after_invalid_provisions(self):
        self.refused("nodez = 2\n")
        self.assertIsNone(errno_of(write, self.spec, "nodes = 2\nslots = 1\n"))
        self.wait_state(self.pool, "ready")
        status = read(os.path.join(self.pool, "status"))
        self.assertNotIn("error:", status)
        self.assertEqual(kv_lines(status)["nodes_ready"], "2")
        self.assertEqual(read(self.spec), "nodes = 2\nslots = 1\n")

    def test_spec_written_in_pieces(self):
        # an editor or a slow writer: several writes, one close
        with open(self.spec, "w") as f:
            f.write("nodes")
            f.flush()
            f.write(" = 1\nslo")
            f.flush()
            f.write("ts = 2\n")
        self.wait_state(self.pool, "ready")
        self.assertEqual(read(self.spec), "nodes = 1\nslots = 2\n")
        self.assertEqual(kv_lines(read(os.path.join(self.pool, "status")))["slots"], "2")


class JsonSpec(SkyfsTestCase):
    def test_json_spec(self):
        pool = self.make_pool("js", '{"nodes": 2, "slots": 2}', "ready")
        st = kv_lines(read(os.path.join(pool, "status")))
        self.assertEqual(st["nodes"], "2")
        self.assertEqual(st["slots"], "2")
        self.assertEqual(st["nodes_ready"], "2")
        self.assertEqual(sorted(os.listdir(os.path.join(pool, "nodes"))), ["node-0", "node-1"])
        self.assertEqual(read(os.path.join(pool, "spec")), '{"nodes": 2, "slots": 2}')

    def test_json_env(self):
        pool = self.make_pool("je", '{\n  "nodes": 1,\n  "env.WHO": "json # not a comment"\n}\n')
        self.submit(pool, "who", 'echo "$WHO"\n')
        self.assertWait(pool, "who", 0)
        self.assertEqual(read(os.path.join(pool, "results/who/stdout")), "json # not a comment\n")


class Rewrite(SkyfsTestCase):
    def test_rewrite_ready_pool_busy(self):
        """Only the live keys may change in a ready pool (test_resize.py);
        a bad spec is refused and the pool runs on with its own."""
        text = "# two nodes\nnodes = 2\n\nslots = 1   # one each\n"
        pool = self.make_pool("rw", text)
        spec = os.path.join(pool, "spec")
        self.assertEqual(read(spec), text)
        self.assertEqual(os.stat(spec).st_size, len(text))
        self.assertEqual(errno_of(write, spec, "nodes = 2\nmemory = 4\n"), errno.EBUSY)
        self.assertEqual(errno_of(write, spec, "nodez = 3\n"), errno.EINVAL)
        self.assertEqual(read(spec), text)
        self.assertEqual(state(pool), "ready")
        self.assertEqual(kv_lines(read(os.path.join(pool, "status")))["nodes"], "2")
        # truncate(2) by path is a rewrite too
        with self.assertRaises(OSError) as cm:
            os.truncate(spec, 0)
        self.assertEqual(cm.exception.errno, errno.EBUSY)
        self.assertEqual(read(spec), text)

    def test_empty_spec_means_defaults(self):
        pool = self.make_pool("def")
        write(os.path.join(pool, "spec"), "")
        self.wait_state(pool, "ready")
        st = kv_lines(read(os.path.join(pool, "status")))
        self.assertEqual((st["nodes"], st["slots"], st["provider"], st["accelerator"]),
                         ("1", "1", "local", "none"))


class Setup(SkyfsTestCase):
    def test_setup_runs_before_jobs(self):
        pool = self.make_pool("su", "nodes = 2\nsetup = echo hi > setup_ran; echo $PWD > %s/setup-$$\n"
                              % self.tmp)
        self.assertEqual(state(pool), "ready")
        self.assertEqual(len([f for f in os.listdir(self.tmp) if f.startswith("setup-")]), 2)

    def test_setup_failure_fails_the_pool(self):
        pool = self.make_pool("sf", "nodes = 2\nsetup = echo broken >&2; exit 7\n",
                              ("failed", "degraded", "ready"))
        self.assertEqual(state(pool), "failed")
        status = read(os.path.join(pool, "status"))
        self.assertIn("error:", status)
        events = read(os.path.join(pool, "events"))
        self.assertIn("setup failed", events)
        self.assertIn("exit 7", events)
        self.assertIn("broken", events)
        for n in ("node-0", "node-1"):
            self.assertIn("setup failed", read(os.path.join(pool, "nodes", n)))
        # a failed pool takes a new spec
        write(os.path.join(pool, "spec"), "nodes = 1\nsetup = true\n")
        self.wait_state(pool, "ready")


class Limits(SkyfsTestCase):
    def test_lifetime(self):
        pool = self.make_pool("lt", "nodes = 1\nlifetime = 2s\n")
        t0 = time.monotonic()
        self.assertEqual(kv_lines(read(os.path.join(pool, "status")))["lifetime_s"], "2")
        self.wait_state(pool, "stopped", timeout=8)
        took = time.monotonic() - t0
        self.assertGreater(took, 1.5)
        self.assertLess(took, 5)
        self.assertIn("lifetime", read(os.path.join(pool, "events")))
        self.assertIn("lifetime", read(os.path.join(pool, "status")))

    def test_stopped_pool_takes_a_new_spec(self):
        pool = self.make_pool("again", "nodes = 1\nlifetime = 1s\n")
        self.wait_state(pool, "stopped", timeout=6)
        write(os.path.join(pool, "spec"), "nodes = 2\n")
        self.wait_state(pool, "ready")
        self.assertEqual(kv_lines(read(os.path.join(pool, "status")))["nodes_ready"], "2")
        self.assertEqual(read(os.path.join(pool, "spec")), "nodes = 2\n")

    def test_lifetime_cancels_running_job(self):
        pool = self.make_pool("ltj", "nodes = 1\nlifetime = 2s\n")
        self.submit(pool, "long", "sleep 30\n")
        self.wait_job_state(pool, "long", "running", 5)
        self.wait_state(pool, "stopped", timeout=10)
        self.wait_job_state(pool, "long", ("cancelled", "failed"), 5)
        self.assertEqual(os.listdir(os.path.join(pool, "jobs")), [])

    def test_idle_timeout(self):
        pool = self.make_pool("it", "nodes = 1\nidle_timeout = 2s\n")
        self.submit(pool, "work", "sleep 2.5\necho done\n")
        self.wait_job_state(pool, "work", "running", 5)
        # a running job keeps the pool alive past the idle timeout
        time.sleep(2.2)
        self.assertEqual(state(pool), "ready")
        self.assertEqual(self.wait_exit_file(pool, "work", timeout=5), 0)
        t_end = time.monotonic()
        self.wait_state(pool, "stopped", timeout=8)
        took = time.monotonic() - t_end
        self.assertGreater(took, 1.0)
        self.assertLess(took, 5)
        self.assertIn("idle", read(os.path.join(pool, "events")))
        # results survive the stop
        self.assertEqual(read(os.path.join(pool, "results/work/stdout")), "done\n")


class Accelerator(SkyfsTestCase):
    FAKE = ("#!/bin/sh\n"
            "[ \"$1\" = \"-L\" ] || exit 1\n"
            "echo 'GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-aaaa)'\n"
            "echo 'GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-bbbb)'\n"
            "echo 'GPU 2: NVIDIA A100-SXM4-80GB (UUID: GPU-cccc)'\n"
            "echo 'GPU 3: NVIDIA A100-SXM4-80GB (UUID: GPU-dddd)'\n")
    NONE = "#!/bin/sh\necho 'No devices were found'\nexit 6\n"
    autostart = False

    def start_with_fake(self, script):
        bindir = os.path.join(self.tmp, "fakebin")
        os.makedirs(bindir, exist_ok=True)
        write(os.path.join(bindir, "nvidia-smi"), script, mode=0o755)
        self.daemon = self.start_daemon(env={"PATH": bindir + ":" + os.environ["PATH"]})

    def test_no_gpus(self):
        self.start_with_fake(self.NONE)
        pool = self.make_pool("g0", "accelerator = H100:1\n", ("failed", "ready"))
        self.assertEqual(state(pool), "failed")
        status = read(os.path.join(pool, "status"))
        err = [ln for ln in status.splitlines() if ln.startswith("error:")]
        self.assertEqual(len(err), 1, status)
        self.assertIn("H100", err[0])
        self.assertIn("none", err[0])
        self.assertIn("H100", read(os.path.join(pool, "events")))

    def test_four_fake_gpus(self):
        self.start_with_fake(self.FAKE)
        pool = self.make_pool("g4", "accelerator = A100:1\nnodes = 2\nslots = 2\n")
        st = kv_lines(read(os.path.join(pool, "status")))
        self.assertEqual(st["accelerator"], "A100:1")
        node0 = kv_lines(read(os.path.join(pool, "nodes", "node-0")))
        self.assertIn("A100", node0["accelerator"])
        start = os.path.join(self.tmp, "go")
        os.mkdir(start)
        for i in range(4):
            self.submit(pool, "gpu%d" % i,
                        "touch %s/$SKY_JOB\nwhile [ $(ls %s | wc -l) -lt 4 ]; do sleep 0.05; done\n"
                        "echo \"$CUDA_VISIBLE_DEVICES\"\n" % (start, start))
        devs = []
        for i in range(4):
            self.assertEqual(self.wait_exit_file(pool, "gpu%d" % i, timeout=10), 0)
            devs.append(read(os.path.join(pool, "results", "gpu%d" % i, "stdout")).strip())
        self.assertEqual(sorted(devs), ["0", "1", "2", "3"], devs)

    def test_two_gpus_per_slot(self):
        self.start_with_fake(self.FAKE)
        pool = self.make_pool("g2", "accelerator = A100:2\nnodes = 1\nslots = 2\n")
        start = os.path.join(self.tmp, "go")
        os.mkdir(start)
        for i in range(2):
            self.submit(pool, "pair%d" % i,
                        "touch %s/$SKY_JOB\nwhile [ $(ls %s | wc -l) -lt 2 ]; do sleep 0.05; done\n"
                        "echo \"$CUDA_VISIBLE_DEVICES\"\n" % (start, start))
        seen = []
        for i in range(2):
            self.assertEqual(self.wait_exit_file(pool, "pair%d" % i, timeout=10), 0)
            seen.append(read(os.path.join(pool, "results", "pair%d" % i, "stdout")).strip())
        ids = [d for s in seen for d in s.split(",")]
        self.assertEqual(sorted(ids), ["0", "1", "2", "3"], seen)

    def test_not_enough_gpus(self):
        self.start_with_fake(self.FAKE)
        pool = self.make_pool("g6", "accelerator = A100:1\nnodes = 3\nslots = 2\n",
                              ("failed", "ready", "degraded"))
        self.assertEqual(state(pool), "failed")
        status = read(os.path.join(pool, "status"))
        err = [ln for ln in status.splitlines() if ln.startswith("error:")]
        self.assertEqual(len(err), 1, status)
        # the local candidate was tried and says what was needed and what
        # the machine has: 3 nodes x 2 slots x 1 = 6 devices, 4 present
        self.assertIn("every candidate failed", err[0])
        self.assertRegex(err[0], r"\b6 x A100")
        self.assertRegex(err[0], r"has 4\b")
        plan = read(os.path.join(pool, "plan"))
        self.assertIn("tried:", plan)
        tried = plan.split("tried:", 1)[1]
        self.assertRegex(tried, r"local .*6 x A100.*has 4")

    def test_wrong_model(self):
        self.start_with_fake(self.FAKE)
        pool = self.make_pool("gh", "accelerator = H100:1\n", ("failed", "ready"))
        self.assertEqual(state(pool), "failed")
        err = [ln for ln in read(os.path.join(pool, "status")).splitlines()
               if ln.startswith("error:")]
        self.assertIn("A100", err[0])


class CostAndNodes(SkyfsTestCase):
    def test_cost_and_node_files(self):
        pool = self.make_pool("cn", "nodes = 2\nslots = 3\n")
        cost = read(os.path.join(pool, "cost"))
        kv = kv_lines(cost)
        self.assertIn("rate_usd_per_hour", kv)
        self.assertIn("accrued_usd", kv)
        float(kv["rate_usd_per_hour"])
        float(kv["accrued_usd"])
        self.assertEqual(sorted(os.listdir(os.path.join(pool, "nodes"))), ["node-0", "node-1"])
        node = kv_lines(read(os.path.join(pool, "nodes", "node-0")))
        for key in ("state", "provider", "instance", "address", "accelerator", "market",
                    "price_usd_per_hour", "slots", "jobs_running"):
            self.assertIn(key, node)
        self.assertEqual(node["state"], "ready")
        self.assertEqual(node["provider"], "local")
        self.assertEqual(node["slots"], "3")
        self.assertEqual(node["accelerator"], "none")
        self.assertEqual(node["jobs_running"], "0")
        float(node["price_usd_per_hour"])
        self.submit(pool, "hold", "sleep 30\n")
        self.wait_job_state(pool, "hold", "running", 5)
        running = [kv_lines(read(os.path.join(pool, "nodes", n)))["jobs_running"]
                   for n in ("node-0", "node-1")]
        self.assertEqual(sorted(running), ["0", "1"])
        os.unlink(os.path.join(pool, "jobs", "hold"))

    def test_status_keys(self):
        pool = self.make_pool("sk", "nodes = 1\n")
        st = kv_lines(read(os.path.join(pool, "status")))
        for key in ("pool", "provider", "nodes", "slots", "nodes_ready", "jobs_queued",
                    "jobs_running", "jobs_succeeded", "jobs_failed", "jobs_cancelled"):
            self.assertIn(key, st)
        self.assertEqual(st["pool"], "sk")
        # events are timestamped lines, oldest first, appended to
        ev = read(os.path.join(pool, "events")).splitlines()
        self.assertTrue(all(ln[:4].isdigit() and "T" in ln.split()[0] for ln in ev), ev)
        self.submit(pool, "e", "exit 0\n")
        self.cat_wait(pool, "e")
        ev2 = read(os.path.join(pool, "events")).splitlines()
        self.assertEqual(ev2[:len(ev)], ev)
