"""Running jobs: environment, files/, archives, live output, big output,
dispatch over nodes and slots."""

import concurrent.futures
import io
import os
import tarfile
import time

from harness import (SkyfsTestCase, job_state, kv_lines, read, read_bytes, run_cmd, state,
                     wait_for, write)


class Environment(SkyfsTestCase):
    daemon_env = {"AWS_SECRET_ACCESS_KEY": "sekrit", "SKYFS_TEST_DAEMON_ONLY": "daemon-only"}

    VARS = ("SKY_POOL", "SKY_JOB", "SKY_NODE", "SKY_NODE_RANK", "SKY_NUM_NODES",
            "SKY_NODE_ADDRS", "SKY_OUTPUT", "GREETING", "EMPTYISH")

    def test_job_environment(self):
        pool = self.make_pool("envp", "nodes = 2\nslots = 1\nenv.GREETING = hello world\n"
                              "env.EMPTYISH = x=y\n")
        script = "#!/bin/sh\n"
        for v in self.VARS:
            # one file per variable, exact bytes
            script += 'printf "%%s" "$%s" > "$SKY_OUTPUT/%s"\n' % (v, v)
        script += ('env > "$SKY_OUTPUT/env"\n'
                   '[ -d "$SKY_OUTPUT" ] && [ -w "$SKY_OUTPUT" ] && echo output-dir-ok\n'
                   'echo "secret=[$AWS_SECRET_ACCESS_KEY]"\n')
        self.submit(pool, "envjob", script)
        self.assertEqual(self.wait_exit_file(pool, "envjob"), 0)
        files = os.path.join(pool, "results", "envjob", "files")
        got = {v: read(os.path.join(files, v)) for v in self.VARS}
        self.assertEqual(got["SKY_POOL"], "envp")
        self.assertEqual(got["SKY_JOB"], "envjob")
        self.assertIn(got["SKY_NODE_RANK"], ("0", "1"))
        self.assertEqual(got["SKY_NODE"], "node-" + got["SKY_NODE_RANK"])
        self.assertEqual(got["SKY_NUM_NODES"], "2")
        addrs = got["SKY_NODE_ADDRS"].split("\n")
        self.assertEqual(len(addrs), 2, repr(got["SKY_NODE_ADDRS"]))
        self.assertTrue(all(addrs), addrs)
        self.assertTrue(os.path.isabs(got["SKY_OUTPUT"]), got["SKY_OUTPUT"])
        self.assertEqual(got["GREETING"], "hello world")
        self.assertEqual(got["EMPTYISH"], "x=y")
        out = read(os.path.join(pool, "results", "envjob", "stdout"))
        self.assertIn("output-dir-ok\n", out)
        # the daemon's own environment does not leak into jobs
        self.assertIn("secret=[]\n", out)
        env = read(os.path.join(files, "env"))
        self.assertNotIn("sekrit", env)
        self.assertNotIn("AWS_SECRET_ACCESS_KEY", env)
        self.assertNotIn("daemon-only", env)

    def test_broadcast_environment_per_node(self):
        pool = self.make_pool("bce", "nodes = 3\nslots = 1\n")
        self.submit(pool, "who", "echo \"$SKY_NODE_RANK $SKY_NODE $SKY_NUM_NODES\"\n"
                    "printf '%s' \"$SKY_NODE_ADDRS\" | wc -l\n", broadcast=True)
        self.assertWait(pool, "who", 0)
        for r in range(3):
            self.assertEqual(read(os.path.join(pool, "results", "who", "node-%d" % r, "stdout")),
                             "%d node-%d 3\n2\n" % (r, r))


class Files(SkyfsTestCase):
    def test_output_files(self):
        pool = self.make_pool("fp", "nodes = 1\n")
        self.submit(pool, "mk", "#!/bin/sh\nset -e\necho alpha > \"$SKY_OUTPUT/a.txt\"\n"
                    "mkdir -p \"$SKY_OUTPUT/sub\"\nprintf beta > \"$SKY_OUTPUT/sub/b.txt\"\n")
        self.assertEqual(self.wait_exit_file(pool, "mk"), 0)
        files = os.path.join(pool, "results", "mk", "files")
        self.assertEqual(sorted(os.listdir(files)), ["a.txt", "sub"])
        self.assertEqual(os.listdir(os.path.join(files, "sub")), ["b.txt"])
        self.assertEqual(read(os.path.join(files, "a.txt")), "alpha\n")
        self.assertEqual(read(os.path.join(files, "sub", "b.txt")), "beta")
        self.assertEqual(os.stat(os.path.join(files, "sub", "b.txt")).st_size, 4)
        # results are read-only
        self.assertIsNotNone(_errno(lambda: write(os.path.join(files, "a.txt"), "x")))

    def test_broadcast_output_files_per_node(self):
        pool = self.make_pool("fbp", "nodes = 2\n")
        self.submit(pool, "mkb", "echo $SKY_NODE_RANK > \"$SKY_OUTPUT/rank\"\n",
                    broadcast=True)
        self.assertEqual(self.wait_exit_file(pool, "mkb"), 0)
        for r in (0, 1):
            self.assertEqual(read(os.path.join(pool, "results", "mkb", "node-%d" % r,
                                               "files", "rank")), "%d\n" % r)


def _errno(fn):
    try:
        fn()
    except OSError as e:
        return e.errno
    return None


def make_tar(members, gz=False):
    """members: {name: (bytes, mode)} -> archive bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w", format=tarfile.USTAR_FORMAT) as t:
        for name, (data, mode) in members.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = mode
            ti.mtime = int(time.time())
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


RUN = b"#!/bin/sh\necho \"run says: $(cat data/msg.txt)\"\n"


class Archives(SkyfsTestCase):
    def setUp(self):
        super().setUp()
        self.pool = self.make_pool("ar", "nodes = 1\nslots = 2\n")

    def test_tar_with_run(self):
        self.submit(self.pool, "plain.tar", make_tar({
            "run": (RUN, 0o755), "data/msg.txt": (b"from tar", 0o644)}))
        self.assertWait(self.pool, "plain.tar", 0)
        self.assertEqual(read(os.path.join(self.pool, "results/plain.tar/stdout")),
                         "run says: from tar\n")

    def test_tar_gz_with_run(self):
        self.submit(self.pool, "zipped.tgz", make_tar({
            "run": (RUN, 0o755), "data/msg.txt": (b"from tgz", 0o644)}, gz=True))
        self.assertWait(self.pool, "zipped.tgz", 0)
        self.assertEqual(read(os.path.join(self.pool, "results/zipped.tgz/stdout")),
                         "run says: from tgz\n")

    def test_archive_without_run_fails(self):
        for name, gz in (("norun.tar", False), ("norun.tar.gz", True)):
            self.submit(self.pool, name, make_tar({"data/msg.txt": (b"x", 0o644),
                                                   "other.sh": (RUN, 0o755)}, gz=gz))
            self.assertWait(self.pool, name, 127)
            res = os.path.join(self.pool, "results", name)
            status = read(os.path.join(res, "status"))
            self.assertEqual(status.split("\n")[0], "failed", status)
            errors = [ln for ln in status.splitlines() if ln.startswith("error:")]
            self.assertEqual(len(errors), 1, status)
            self.assertIn("run", errors[0])
            self.assertIn("run", read(os.path.join(res, "stderr")))
            self.assertEqual(read(os.path.join(res, "exit")), "127\n")
        self.assertIn("norun.tar", read(os.path.join(self.pool, "events")))


class LiveOutput(SkyfsTestCase):
    def test_stdout_grows_while_running(self):
        pool = self.make_pool("live", "nodes = 1\n")
        self.submit(pool, "ticker", "i=0\nwhile [ $i -lt 100 ]; do\n"
                    "  echo \"tick $i\"; i=$((i + 1)); sleep 0.2\ndone\n")
        out = os.path.join(pool, "results", "ticker", "stdout")
        wait_for(lambda: read(out), 5, what="first line of stdout")
        self.assertEqual(job_state(pool, "ticker"), "running")
        self.assertIn("ticker", os.listdir(os.path.join(pool, "jobs")))
        first = read(out)
        size1 = os.stat(out).st_size
        time.sleep(0.7)
        second = read(out)
        self.assertGreater(len(second), len(first))
        self.assertTrue(second.startswith(first))
        self.assertGreater(os.stat(out).st_size, size1)
        self.assertTrue(second.startswith("tick 0\ntick 1\n"), second)
        # following it with an open descriptor sees the growth too
        with open(out, "rb") as f:
            a = f.read()
            time.sleep(0.5)
            b = f.read()
        self.assertTrue(b, "nothing new on an open descriptor after 0.5s")
        self.assertEqual(job_state(pool, "ticker"), "running")
        self.assertEqual(kv_lines(read(os.path.join(pool, "status")))["jobs_running"], "1")
        os.unlink(os.path.join(pool, "jobs", "ticker"))
        self.wait_job_state(pool, "ticker", "cancelled", 5)


class BigOutput(SkyfsTestCase):
    SIZE = 20 * 1000 * 1000

    def test_20mb_stdout(self):
        pool = self.make_pool("big", "nodes = 1\n")
        self.submit(pool, "big", "#!/bin/sh\nyes 0123456789abcdefghi | head -c %d\n" % self.SIZE)
        self.assertEqual(self.wait_exit_file(pool, "big", timeout=30), 0)
        out = os.path.join(pool, "results", "big", "stdout")
        self.assertEqual(os.stat(out).st_size, self.SIZE)
        data = read_bytes(out)
        line = b"0123456789abcdefghi\n"
        want = (line * (self.SIZE // len(line) + 1))[:self.SIZE]
        self.assertEqual(len(data), self.SIZE)
        self.assertTrue(data == want, "content differs")
        # a read at an offset in the middle
        with open(out, "rb") as f:
            f.seek(12345678)
            self.assertEqual(f.read(100), want[12345678:12345778])


class Dispatch(SkyfsTestCase):
    def test_two_nodes_one_slot(self):
        pool = self.make_pool("disp", "nodes = 2\nslots = 1\n")
        names = ["j%d" % i for i in range(4)]
        for n in names:
            self.submit(pool, n, "echo $SKY_NODE $SKY_SLOT\nsleep 1\n")
        # all four are queued or running right after submission
        self.assertEqual(sorted(os.listdir(os.path.join(pool, "jobs"))), names)
        states = {n: job_state(pool, n) for n in names}
        self.assertTrue(set(states.values()) <= {"queued", "running"}, states)
        self.assertLessEqual(list(states.values()).count("running"), 2, states)
        st = kv_lines(read(os.path.join(pool, "status")))
        self.assertLessEqual(int(st["jobs_running"]), 2, st)
        for n in names:
            self.assertEqual(self.wait_exit_file(pool, n, timeout=20), 0)
        wait_for(lambda: os.listdir(os.path.join(pool, "jobs")) == [], 5, what="jobs/ empty")
        self.assertEqual(sorted(os.listdir(os.path.join(pool, "results"))), names)
        used = {read(os.path.join(pool, "results", n, "stdout")).split()[0] for n in names}
        self.assertEqual(used, {"node-0", "node-1"})
        slots = {read(os.path.join(pool, "results", n, "stdout")).split()[1] for n in names}
        self.assertEqual(slots, {"0"})
        st = kv_lines(read(os.path.join(pool, "status")))
        self.assertEqual(st["jobs_succeeded"], "4")
        self.assertEqual(st["jobs_running"], "0")
        self.assertEqual(st["jobs_queued"], "0")

    def test_fewest_running_first(self):
        pool = self.make_pool("spread", "nodes = 2\nslots = 2\n")
        gate = os.path.join(self.tmp, "gate")
        for n in ("a", "b"):
            self.submit(pool, n, "echo $SKY_NODE\nwhile [ ! -e %s ]; do sleep 0.05; done\n" % gate)
            self.wait_job_state(pool, n, "running", 5)
        write(gate, "")
        nodes = [read(os.path.join(pool, "results", n, "stdout")).strip() for n in ("a", "b")
                 if self.wait_exit_file(pool, n) == 0]
        self.assertEqual(sorted(nodes), ["node-0", "node-1"])

    def test_slots_run_concurrently(self):
        pool = self.make_pool("conc", "nodes = 1\nslots = 3\n")
        marker = os.path.join(self.tmp, "started")
        os.mkdir(marker)
        names = ["c%d" % i for i in range(3)]
        for n in names:
            self.submit(pool, n, "touch %s/$SKY_JOB\n"
                        "while [ $(ls %s | wc -l) -lt 3 ]; do sleep 0.05; done\n"
                        % (marker, marker))
        for n in names:
            self.assertEqual(self.wait_exit_file(pool, n, timeout=10), 0)
        self.assertEqual(state(pool), "ready")


class ShebangStart(SkyfsTestCase):
    def test_many_shebang_jobs_all_start(self):
        # A script with a shebang is executed directly; every one of them
        # must start (none may fail with "Text file busy" because the
        # daemon still holds the payload open for writing when it runs it).
        pool = self.make_pool("many", "nodes = 2\nslots = 8\n")
        names = ["sb%03d" % i for i in range(500)]
        # uploads from several threads at once, while others start
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda n: self.submit(pool, n, "#!/bin/sh\necho ok\n"), names))
        failed = {}
        for n in names:
            code = self.wait_exit_file(pool, n, timeout=30)
            if code != 0:
                failed[n] = "exit %d: %s" % (code, read(os.path.join(pool, "results", n,
                                                                     "stderr")).strip())
        self.assertFalse(failed, "%d of %d shebang jobs did not start, e.g. %s"
                         % (len(failed), len(names), sorted(failed.items())[:3]))


class Submission(SkyfsTestCase):
    def test_shell_redirection_submits_once(self):
        pool = self.make_pool("sh", "nodes = 1\n")
        r = run_cmd(["sh", "-c", "printf 'echo via-shell\\necho to-err >&2\\n' > %s"
                     % os.path.join(pool, "jobs", "redir")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertWait(pool, "redir", 0)
        self.assertEqual(read(os.path.join(pool, "results/redir/stdout")), "via-shell\n")
        self.assertEqual(read(os.path.join(pool, "results/redir/stderr")), "to-err\n")
        self.assertEqual(os.listdir(os.path.join(pool, "results")), ["redir"])

    def test_touch_submits_an_empty_job(self):
        pool = self.make_pool("touch", "nodes = 1\n")
        r = run_cmd(["touch", os.path.join(pool, "jobs", "empty")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertWait(pool, "empty", 0)
        self.assertEqual(job_state(pool, "empty"), "succeeded")

    def test_job_waits_for_the_pool(self):
        pool = self.make_pool("later")
        self.submit(pool, "early", "echo ran-after-spec\n")
        self.assertEqual(job_state(pool, "early"), "queued")
        self.assertEqual(os.listdir(os.path.join(pool, "jobs")), ["early"])
        self.assertFalse(os.path.exists(os.path.join(pool, "results/early/exit")))
        time.sleep(0.3)
        self.assertEqual(job_state(pool, "early"), "queued")
        write(os.path.join(pool, "spec"), "nodes = 1\n")
        self.assertWait(pool, "early", 0)
        self.assertEqual(read(os.path.join(pool, "results/early/stdout")), "ran-after-spec\n")

    def test_broadcast_waits_for_the_pool(self):
        pool = self.make_pool("blater")
        self.submit(pool, "bearly", "echo $SKY_NODE\n", broadcast=True)
        self.assertEqual(job_state(pool, "bearly"), "queued")
        write(os.path.join(pool, "spec"), "nodes = 2\n")
        self.assertWait(pool, "bearly", 0)
        for r in (0, 1):
            self.assertEqual(read(os.path.join(pool, "results/bearly/node-%d/stdout" % r)),
                             "node-%d\n" % r)

    def test_queued_job_payload_readable(self):
        pool = self.make_pool("rd")
        body = "echo payload-text\n"
        self.submit(pool, "q", body)
        jp = os.path.join(pool, "jobs", "q")
        self.assertEqual(read(jp), body)
        self.assertEqual(os.stat(jp).st_size, len(body))
        # not writable once submitted
        self.assertIsNotNone(_errno(lambda: write(jp, "echo changed\n")))
        self.assertEqual(read(jp), body)

    def test_exit_only_once_ended(self):
        pool = self.make_pool("ex", "nodes = 1\n")
        gate = os.path.join(self.tmp, "gate")
        self.submit(pool, "gated", "while [ ! -e %s ]; do sleep 0.05; done\nexit 9\n" % gate)
        self.wait_job_state(pool, "gated", "running", 5)
        res = os.path.join(pool, "results", "gated")
        self.assertNotIn("exit", os.listdir(res))
        self.assertFalse(os.path.exists(os.path.join(res, "exit")))
        st = read(os.path.join(res, "status"))
        self.assertNotIn("\nexit:", st)
        write(gate, "")
        self.assertWait(pool, "gated", 9)
        self.assertIn("exit", os.listdir(res))
        self.assertEqual(read(os.path.join(res, "exit")), "9\n")
        self.assertIn("\nexit: 9\n", read(os.path.join(res, "status")))

    def test_killed_by_signal(self):
        pool = self.make_pool("sig", "nodes = 1\n")
        self.submit(pool, "killed", "echo before\nkill -KILL $$\necho after\n")
        self.assertWait(pool, "killed", 137)
        self.assertEqual(job_state(pool, "killed"), "failed")
        self.assertEqual(read(os.path.join(pool, "results/killed/stdout")), "before\n")

    def test_names_with_spaces_and_unicode(self):
        pool = self.make_pool("uni", "nodes = 1\n")
        for name in ("with space", "h\u00e9llo-\u4e16\u754c.sh", "-dash"):
            self.submit(pool, name, 'echo "$SKY_JOB"\n')
            self.assertWait(pool, name, 0)
            self.assertEqual(read(os.path.join(pool, "results", name, "stdout")), name + "\n")


class ResultFiles(SkyfsTestCase):
    def test_bookkeeping_is_hidden(self):
        pool = self.make_pool("bk", "nodes = 1\n")
        self.submit(pool, "j", "echo hi\n")
        self.assertWait(pool, "j", 0)
        res = os.path.join(pool, "results", "j")
        self.assertEqual(sorted(os.listdir(res)),
                         ["exit", "files", "status", "stderr", "stdout", "wait"])
        self.assertIsNotNone(_errno(lambda: read(os.path.join(res, "payload"))))
        self.assertIsNotNone(_errno(lambda: read(os.path.join(res, ".job"))))

    def test_output_symlinks_do_not_escape(self):
        pool = self.make_pool("sl", "nodes = 1\n")
        self.submit(pool, "evil", "ln -s /etc/passwd $SKY_OUTPUT/passwd\n"
                    "ln -s / $SKY_OUTPUT/root\necho ok > $SKY_OUTPUT/real\n")
        self.assertWait(pool, "evil", 0)
        files = os.path.join(pool, "results", "evil", "files")
        self.assertEqual(read(os.path.join(files, "real")), "ok\n")
        self.assertIsNotNone(_errno(lambda: read(os.path.join(files, "passwd"))))
        self.assertIsNotNone(_errno(lambda: read(os.path.join(files, "root", "etc", "passwd"))))
        self.assertIsNotNone(_errno(lambda: os.listdir(os.path.join(files, "root"))))

    def test_every_output_file_is_listed(self):
        # files/ shows what the job left in $SKY_OUTPUT, whatever it is called
        pool = self.make_pool("dot", "nodes = 1\n")
        self.submit(pool, "dots", "cd $SKY_OUTPUT\necho 1 > .env\necho 2 > payload\n"
                    "echo 3 > data.tmp.1\necho 4 > plain\nmkdir .cfg\necho 5 > .cfg/x\n")
        self.assertWait(pool, "dots", 0)
        files = os.path.join(pool, "results", "dots", "files")
        self.assertEqual(read(os.path.join(files, ".env")), "1\n")
        self.assertEqual(read(os.path.join(files, "plain")), "4\n")
        self.assertEqual(sorted(os.listdir(files)),
                         [".cfg", ".env", "data.tmp.1", "payload", "plain"])
        self.assertEqual(os.listdir(os.path.join(files, ".cfg")), ["x"])

    def test_big_archive(self):
        pool = self.make_pool("bigar", "nodes = 1\n")
        blob = os.urandom(3 * 1024 * 1024)
        self.submit(pool, "big.tgz", make_tar({
            "run": (b"#!/bin/sh\nwc -c < blob\n", 0o755), "blob": (blob, 0o644)}, gz=True))
        self.assertWait(pool, "big.tgz", 0, timeout=20)
        self.assertEqual(read(os.path.join(pool, "results/big.tgz/stdout")).strip(),
                         str(len(blob)))


class Uploads(SkyfsTestCase):
    def test_runs_only_after_the_last_close(self):
        pool = self.make_pool("up", "nodes = 1\n")
        path = os.path.join(pool, "jobs", "slow")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            os.write(fd, b"echo part1\n")
            self.assertEqual(os.listdir(os.path.join(pool, "jobs")), ["slow"])
            dup = os.dup(fd)
            os.close(dup)       # a close after a write: submitted, not yet run
            time.sleep(0.3)
            self.assertEqual(job_state(pool, "slow"), "queued")
            os.write(fd, b"echo part2\n")
            time.sleep(0.3)
            self.assertEqual(job_state(pool, "slow"), "queued")
            self.assertEqual(read(os.path.join(pool, "results/slow/stdout")), "")
        finally:
            os.close(fd)
        self.assertWait(pool, "slow", 0)
        self.assertEqual(read(os.path.join(pool, "results/slow/stdout")), "part1\npart2\n")

    def test_same_name_uploaded_twice_at_once(self):
        pool = self.make_pool("twice", "nodes = 1\n")
        path = os.path.join(pool, "jobs", "dup")
        with open(path, "wb") as f:
            f.write(b"echo first\n")
            f.flush()
            self.assertIsNotNone(_errno(lambda: write(path, "echo second\n")))
        self.assertWait(pool, "dup", 0)
        self.assertEqual(read(os.path.join(pool, "results/dup/stdout")), "first\n")

    def test_recreated_pool_starts_clean(self):
        pool = self.make_pool("re", "nodes = 1\n")
        self.submit(pool, "old", "echo old\n")
        self.assertWait(pool, "old", 0)
        os.rmdir(pool)
        os.mkdir(pool)
        self.assertEqual(state(pool), "empty")
        self.assertEqual(os.listdir(os.path.join(pool, "results")), [])
        self.assertEqual(read(os.path.join(pool, "spec")), "")
        self.assertNotIn("old", read(os.path.join(pool, "events")))


class Degraded(SkyfsTestCase):
    def test_one_node_fails_setup(self):
        lock = os.path.join(self.tmp, "only-one")
        pool = self.make_pool("deg", "nodes = 2\nsetup = mkdir %s || exit 3\n" % lock,
                              ("degraded", "ready", "failed"))
        self.assertEqual(state(pool), "degraded")
        st = read(os.path.join(pool, "status"))
        self.assertEqual(kv_lines(st)["nodes_ready"], "1")
        self.assertIn("error:", st)
        states = sorted(kv_lines(read(os.path.join(pool, "nodes", n)))["state"]
                        for n in ("node-0", "node-1"))
        self.assertEqual(states, ["failed", "ready"])
        good = "node-0" if kv_lines(read(os.path.join(pool, "nodes", "node-0")))["state"] == \
            "ready" else "node-1"
        # jobs run on the node that is up; a broadcast runs there only
        self.submit(pool, "j", "echo $SKY_NODE\n")
        self.assertWait(pool, "j", 0)
        self.assertEqual(read(os.path.join(pool, "results/j/stdout")), good + "\n")
        self.submit(pool, "b", "echo $SKY_NODE\n", broadcast=True)
        self.assertWait(pool, "b", 0)
        res = os.path.join(pool, "results", "b")
        self.assertIn(good, os.listdir(res))
        self.assertEqual(read(os.path.join(res, good, "stdout")), good + "\n")


class BlockedReaders(SkyfsTestCase):
    def test_many_wait_readers_do_not_stall_the_mount(self):
        # each reader of results/<job>/wait holds a FUSE worker until its
        # job ends; 40 of them must leave the rest of the mount answering
        pool = self.make_pool("br", "provider = local\nslots = 40\n")
        for i in range(40):
            self.submit(pool, "s%d" % i, "sleep 4\n")
        with concurrent.futures.ThreadPoolExecutor(40) as ex:
            waits = [ex.submit(read, os.path.join(pool, "results", "s%d" % i, "wait"))
                     for i in range(40)]
            time.sleep(1)
            self.assertFalse(any(w.done() for w in waits))
            t0 = time.monotonic()
            self.assertEqual(state(pool), "ready")
            self.submit(pool, "quick", "echo quick\n")
            took = time.monotonic() - t0
            self.assertLess(took, 1.0, "status and a submission took %.2fs behind 40 "
                            "blocked readers" % took)
            self.assertEqual([w.result(timeout=15) for w in waits], ["0\n"] * 40)
        self.assertWait(pool, "quick", 0)
