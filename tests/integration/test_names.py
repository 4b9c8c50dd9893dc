"""Names and what the tree refuses: bad job and pool names, taken names,
forgetting results, files where none may be made, read-only files, rename.

Job scripts here have no shebang (they run with /bin/sh): see
test_jobs.ShebangStart for the direct-exec path."""

import errno
import os

from harness import SkyfsTestCase, read, run_cmd, state, wait_for, write


class Names(SkyfsTestCase):
    def setUp(self):
        super().setUp()
        self.pool = self.make_pool("demo", "nodes = 1\nslots = 2\n")
        self.jobs = os.path.join(self.pool, "jobs")

    def test_control_char_job_name(self):
        self.assertErrno(errno.EINVAL, write, os.path.join(self.jobs, "a\x01b"), "echo x\n")
        self.assertErrno(errno.EINVAL, write, os.path.join(self.pool, "broadcast", "a\x7fb"),
                         "echo x\n")
        self.assertErrno(errno.EINVAL, write, os.path.join(self.jobs, "tab\tname"), "echo x\n")
        self.assertEqual(os.listdir(self.jobs), [])
        self.assertEqual(os.listdir(os.path.join(self.pool, "results")), [])

    def test_invalid_utf8_job_name(self):
        self.assertErrno(errno.EINVAL, write, os.path.join(self.jobs.encode(), b"bad\xff"),
                         "echo x\n")
        self.assertErrno(errno.EINVAL, write, os.path.join(self.jobs.encode(), b"c1\xc2\x85"),
                         "echo x\n")

    def test_too_long_job_name(self):
        self.assertErrno(errno.ENAMETOOLONG, write, os.path.join(self.jobs, "a" * 256), "x\n")
        self.assertErrno(errno.ENAMETOOLONG, write, os.path.join(self.pool, "broadcast", "a" * 300),
                         "x\n")
        self.assertEqual(os.listdir(self.jobs), [])

    def test_255_byte_job_name(self):
        name = "b" * 255
        self.submit(self.pool, name, "echo long\n")
        self.assertWait(self.pool, name, 0)
        self.assertEqual(read(os.path.join(self.pool, "results", name, "stdout")), "long\n")

    def test_control_char_pool_name(self):
        self.assertErrno(errno.EINVAL, os.mkdir, os.path.join(self.pools, "p\x01q"))
        self.assertErrno(errno.EINVAL, os.mkdir, os.path.join(self.pools, "p\nq"))
        self.assertEqual(os.listdir(self.pools), ["demo"])
        # and an existing pool name
        self.assertErrno(errno.EEXIST, os.mkdir, self.pool)

    def test_too_long_pool_name(self):
        self.assertErrno(errno.ENAMETOOLONG, os.mkdir, os.path.join(self.pools, "p" * 256))
        self.assertEqual(os.listdir(self.pools), ["demo"])
        os.mkdir(os.path.join(self.pools, "q" * 255))
        self.assertEqual(state(os.path.join(self.pools, "q" * 255)), "empty")

    def test_name_with_results_is_taken(self):
        self.submit(self.pool, "once", "echo first\n")
        self.assertWait(self.pool, "once", 0)
        self.assertErrno(errno.EEXIST, write, os.path.join(self.jobs, "once"), "echo second\n")
        self.assertEqual(read(os.path.join(self.pool, "results/once/stdout")), "first\n")
        # a broadcast of the same name too: results/ is shared
        self.assertErrno(errno.EEXIST, write, os.path.join(self.pool, "broadcast", "once"),
                         "echo second\n")

    def test_name_of_running_job_is_taken(self):
        self.submit(self.pool, "busy", "sleep 30\n")
        self.assertErrno(errno.EEXIST, write, os.path.join(self.jobs, "busy"), "echo again\n")
        os.unlink(os.path.join(self.jobs, "busy"))

    def test_rm_r_results_frees_the_name(self):
        self.submit(self.pool, "again", "echo first\n")
        self.assertWait(self.pool, "again", 0)
        r = run_cmd(["rm", "-r", os.path.join(self.pool, "results", "again")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("again", os.listdir(os.path.join(self.pool, "results")))
        self.assertFalse(os.path.exists(os.path.join(self.pool, "results", "again")))
        self.submit(self.pool, "again", "echo second\n")
        self.assertWait(self.pool, "again", 0)
        self.assertEqual(read(os.path.join(self.pool, "results/again/stdout")), "second\n")

    def test_rm_r_results_with_files(self):
        self.submit(self.pool, "withfiles", "mkdir -p $SKY_OUTPUT/d/e\necho 1 > $SKY_OUTPUT/d/e/f\n")
        self.assertWait(self.pool, "withfiles", 0)
        self.assertTrue(os.path.exists(os.path.join(self.pool, "results/withfiles/files/d/e/f")))
        r = run_cmd(["rm", "-rf", os.path.join(self.pool, "results", "withfiles")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.listdir(os.path.join(self.pool, "results")), [])

    def test_rm_r_running_job_results_refused(self):
        self.submit(self.pool, "live", "sleep 30\n")
        self.wait_job_state(self.pool, "live", "running", 5)
        res = os.path.join(self.pool, "results", "live")
        r = run_cmd(["rm", "-r", res])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("busy", r.stderr.lower())
        self.assertErrno(errno.EBUSY, os.rmdir, res)
        self.assertErrno(errno.EBUSY, os.unlink, os.path.join(res, "stdout"))
        # nothing was lost, the job still runs
        self.assertEqual(read(os.path.join(res, "status")).split("\n")[0], "running")
        self.assertIn("live", os.listdir(self.jobs))
        self.assertIn("stdout", os.listdir(res))
        os.unlink(os.path.join(self.jobs, "live"))
        self.wait_job_state(self.pool, "live", "cancelled", 5)
        r = run_cmd(["rm", "-r", res])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_no_files_where_none_belong(self):
        self.assertIsNotNone(_errno(write, os.path.join(self.pools, "file"), "x"))
        self.assertIsNotNone(_errno(write, os.path.join(self.pool, "foo"), "x"))
        self.assertIsNotNone(_errno(write, os.path.join(self.mnt, "foo"), "x"))
        self.assertIsNotNone(_errno(write, os.path.join(self.pool, "results", "foo"), "x"))
        self.assertIsNotNone(_errno(write, os.path.join(self.pool, "nodes", "node-9"), "x"))
        self.assertIsNotNone(_errno(os.mkdir, os.path.join(self.pool, "foo")))
        self.assertIsNotNone(_errno(os.mkdir, os.path.join(self.jobs, "dir")))
        self.assertIsNotNone(_errno(os.mkdir, os.path.join(self.pool, "results", "dir")))
        self.assertIsNotNone(_errno(os.mkdir, os.path.join(self.mnt, "dir")))
        self.assertEqual(sorted(os.listdir(self.pool)),
                         sorted(["spec", "status", "events", "done", "cost", "plan",
                                 "timeline.svg", "nodes", "jobs", "broadcast", "results"]))
        self.assertEqual(os.listdir(self.pools), ["demo"])
        self.assertEqual(os.listdir(self.jobs), [])
        self.assertEqual(os.listdir(os.path.join(self.pool, "results")), [])

    def test_read_only_files(self):
        for f in ("status", "events", "cost", "nodes/node-0"):
            self.assertErrno(errno.EACCES, write, os.path.join(self.pool, f), "x\n")
        self.assertErrno(errno.EACCES, write, os.path.join(self.mnt, "README"), "x\n")
        self.assertEqual(state(self.pool), "ready")
        self.submit(self.pool, "ro", "echo hi\n")
        self.assertWait(self.pool, "ro", 0)
        for f in ("status", "stdout", "stderr", "exit", "wait"):
            self.assertErrno(errno.EACCES, write, os.path.join(self.pool, "results", "ro", f),
                             "x\n")
        self.assertEqual(read(os.path.join(self.pool, "results/ro/stdout")), "hi\n")
        # appending to events is refused too
        with self.assertRaises(OSError):
            with open(os.path.join(self.pool, "events"), "a") as f:
                f.write("forged\n")
        self.assertNotIn("forged", read(os.path.join(self.pool, "events")))

    def test_rename_refused(self):
        self.submit(self.pool, "r1", "echo hi\n")
        self.assertWait(self.pool, "r1", 0)
        res = os.path.join(self.pool, "results")
        self.assertIsNotNone(_errno(os.rename, os.path.join(res, "r1"), os.path.join(res, "r2")))
        self.assertIsNotNone(_errno(os.rename, self.pool, os.path.join(self.pools, "other")))
        self.assertIsNotNone(_errno(os.rename, os.path.join(self.pool, "spec"),
                                    os.path.join(self.pool, "spec2")))
        self.assertIsNotNone(_errno(os.rename, os.path.join(res, "r1", "stdout"),
                                    os.path.join(res, "r1", "out")))
        self.assertEqual(os.listdir(res), ["r1"])
        self.assertEqual(os.listdir(self.pools), ["demo"])
        self.assertEqual(read(os.path.join(res, "r1", "stdout")), "hi\n")

    def test_rename_of_an_upload_refused(self):
        # mv into jobs/ from elsewhere on the mount is a rename: refused
        self.submit(self.pool, "a1", "sleep 30\n")
        self.assertIsNotNone(_errno(os.rename, os.path.join(self.jobs, "a1"),
                                    os.path.join(self.jobs, "a2")))
        self.assertEqual(os.listdir(self.jobs), ["a1"])
        os.unlink(os.path.join(self.jobs, "a1"))

    def test_unknown_paths(self):
        for p in ("pools/nope", "pools/nope/status", "pools/demo/results/nope",
                  "pools/demo/results/nope/stdout", "pools/demo/nodes/node-7",
                  "pools/demo/jobs/nope"):
            self.assertErrno(errno.ENOENT, os.stat, os.path.join(self.mnt, p))
        self.assertErrno(errno.ENOENT, os.rmdir, os.path.join(self.pools, "nope"))


def _errno(fn, *args):
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return None
