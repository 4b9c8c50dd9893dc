"""Unmounting with live pools, and remounting the same state directory.

Job scripts here have no shebang (they run with /bin/sh)."""

import errno
import os
import random
import time

from harness import (SkyfsTestCase, job_state, processes_in_pgid, processes_with_cmdline,
                     read, state, wait_for, write)


class UnmountRemount(SkyfsTestCase):
    def test_unmount_with_live_pools_then_remount(self):
        secs = "60.%06d" % random.randrange(1, 999999)
        pidfiles = {}
        pools = {}
        for name in ("alpha", "beta"):
            pidfiles[name] = os.path.join(self.tmp, "pids-" + name)
            pools[name] = self.make_pool(name, "nodes = 1\nslots = 2\nenv.PIDFILE = %s\n"
                                         % pidfiles[name])
        a, b = pools["alpha"], pools["beta"]
        self.submit(a, "early", "echo finished-before\n")
        self.assertWait(a, "early", 0)
        for name, pool in pools.items():
            self.submit(pool, "long-" + name, 'echo $$ >> "$PIDFILE"\nsleep %s\n' % secs)
        wait_for(lambda: len(processes_with_cmdline("sleep " + secs)) == 2, 5,
                 what="both sleeps running")
        pids = [int(read(pidfiles[n]).split()[0]) for n in pools]

        t0 = time.monotonic()
        r = self.daemon.unmount()
        self.assertEqual(r.returncode, 0, r.stderr)
        rc = self.daemon.wait_exit(10)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, "daemon exit status after unmount")
        self.assertLess(took, 6, "the daemon took %.1fs to exit" % took)
        self.assertFalse(os.path.ismount(self.mnt))
        for pid in pids:
            self.assertEqual(processes_in_pgid(pid), [], "job group %d survived" % pid)
        self.assertEqual(processes_with_cmdline("sleep " + secs), [])

        # remount the same state directory
        self.daemon = self.start_daemon()
        self.assertEqual(sorted(os.listdir(self.pools)), ["alpha", "beta"])
        for pool in pools.values():
            self.assertEqual(state(pool), "stopped")
        self.assertEqual(read(os.path.join(a, "spec")),
                         "nodes = 1\nslots = 2\nenv.PIDFILE = %s\n" % pidfiles["alpha"])
        self.assertEqual(read(os.path.join(a, "results/early/stdout")), "finished-before\n")
        self.assertEqual(job_state(a, "early"), "succeeded")
        self.assertWait(a, "early", 0, timeout=3)
        self.assertNotEqual(job_state(a, "long-alpha"), "running")
        self.assertEqual(processes_with_cmdline("sleep " + secs), [])

        # a new spec provisions it again; rmdir deletes it
        write(os.path.join(a, "spec"), "nodes = 1\nslots = 2\nenv.PIDFILE = %s\n"
              % pidfiles["alpha"])
        self.wait_state(a, "ready")
        self.submit(a, "after", "echo back\n")
        self.assertWait(a, "after", 0)
        self.assertEqual(read(os.path.join(a, "results/after/stdout")), "back\n")
        t0 = time.monotonic()
        os.rmdir(a)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(os.listdir(self.pools), ["beta"])
        self.assertFalse(os.path.exists(os.path.join(self.state, "pools", "alpha")))
        # removed out of the way, then deleted: nothing left in trash/
        self.assertEqual(os.listdir(os.path.join(self.state, "trash")), [])
        wait_for(lambda: not processes_with_cmdline("sleep " + secs), 5, what="no sleeps")
        self.assertEqual(state(b), "stopped")

        # and the second mount ends cleanly too
        self.assertEqual(self.daemon.unmount().returncode, 0)
        self.assertEqual(self.daemon.wait_exit(10), 0)

    def test_sigterm_tears_down(self):
        secs = "60.%06d" % random.randrange(1, 999999)
        pool = self.make_pool("t", "nodes = 1\n")
        self.submit(pool, "long", "sleep %s\n" % secs)
        wait_for(lambda: processes_with_cmdline("sleep " + secs), 5, what="sleep running")
        self.daemon.proc.terminate()
        rc = self.daemon.wait_exit(10)
        self.assertEqual(rc, 0)
        wait_for(lambda: not os.path.ismount(self.mnt), 5, what="mount gone")
        self.assertEqual(processes_with_cmdline("sleep " + secs), [])

    def test_remount_keeps_invalid_and_empty_pools(self):
        self.make_pool("e")
        p = self.make_pool("i")
        try:
            write(os.path.join(p, "spec"), "nodez = 1\n")
        except OSError:
            pass
        self.assertEqual(state(p), "invalid")
        self.assertEqual(self.daemon.unmount().returncode, 0)
        self.assertEqual(self.daemon.wait_exit(10), 0)
        self.daemon = self.start_daemon()
        self.assertEqual(sorted(os.listdir(self.pools)), ["e", "i"])
        self.assertEqual(state(self.pool_path("e")), "empty")
        # the refused spec was never accepted: nothing to come back as
        self.assertIn(state(p), ("empty", "invalid"))

    def test_upload_cut_before_its_first_file_reads_as_lost(self):
        """A stop between an upload's mkdir of its result directory and its
        first file (a crash window the crash harness hit once) leaves an
        empty directory: after a remount it is a lost job whose stdout and
        stderr read empty, like any other result."""
        pool = self.make_pool("u", "nodes = 1\n")
        self.assertEqual(self.daemon.unmount().returncode, 0)
        self.assertEqual(self.daemon.wait_exit(10), 0)
        os.mkdir(os.path.join(self.state, "pools", "u", "results", "cut"))
        self.daemon = self.start_daemon()
        res = os.path.join(pool, "results", "cut")
        self.assertEqual(read(os.path.join(res, "status")).split("\n", 1)[0], "lost")
        self.assertIn("upload interrupted by a daemon stop", read(os.path.join(res, "status")))
        self.assertEqual(read(os.path.join(res, "stdout")), "")
        self.assertEqual(read(os.path.join(res, "stderr")), "")
        self.assertEqual(os.listdir(os.path.join(res, "files")), [])

    def test_dot_named_job_refused_or_kept(self):
        # a job named ".x" is either refused at once (EINVAL), or it is a job
        # like any other and its results survive a remount
        pool = self.make_pool("d", "nodes = 1\n")
        try:
            self.submit(pool, ".dotjob", "echo dotted\n")
        except OSError as e:
            self.assertEqual(e.errno, errno.EINVAL)
            self.assertEqual(os.listdir(os.path.join(pool, "results")), [])
            self.assertEqual(os.listdir(os.path.join(pool, "jobs")), [])
            return
        self.assertWait(pool, ".dotjob", 0)
        self.assertEqual(os.listdir(os.path.join(pool, "results")), [".dotjob"])
        self.assertEqual(self.daemon.unmount().returncode, 0)
        self.assertEqual(self.daemon.wait_exit(10), 0)
        self.daemon = self.start_daemon()
        results = os.path.join(pool, "results")
        listed = os.listdir(results)
        taken = None
        if ".dotjob" not in listed:
            # invisible, yet is the name free?
            try:
                write(os.path.join(pool, "jobs", ".dotjob"), "echo again\n")
            except OSError as e:
                taken = e.strerror
        self.assertEqual(listed, [".dotjob"], "results of .dotjob lost at remount%s"
                         % (" (and resubmitting it fails: %s)" % taken if taken else ""))
        self.assertEqual(read(os.path.join(results, ".dotjob", "stdout")), "dotted\n")
