"""Cancel (rm jobs/NAME), rmdir of a pool with running jobs, and a blocked
reader of wait that is interrupted."""

import os
import random
import signal
import subprocess
import time

from harness import (SkyfsTestCase, job_state, kv_lines, pid_alive, proc_stat,
                     processes_in_pgid, processes_with_cmdline, read, run_cmd, state,
                     wait_for, write)


def marker_sleep(seconds):
    """A sleep argument unique to this run, to find the process by cmdline."""
    return "%d.%06d" % (seconds, random.randrange(1, 999999))


class Cancel(SkyfsTestCase):
    def test_cancel_running_job(self):
        pool = self.make_pool("cp", "nodes = 1\nslots = 1\n")
        secs = marker_sleep(30)
        pidfile = os.path.join(self.tmp, "pid")
        self.submit(pool, "sleeper", "echo $$ > %s\nsleep %s\necho not-cancelled\n"
                    % (pidfile, secs))
        wait_for(lambda: os.path.exists(pidfile) and read(pidfile).strip(), 5, what="pid file")
        pid = int(read(pidfile))
        wait_for(lambda: processes_with_cmdline("sleep " + secs), 5, what="sleep running")
        self.assertEqual(job_state(pool, "sleeper"), "running")
        t0 = time.monotonic()
        os.unlink(os.path.join(pool, "jobs", "sleeper"))
        self.wait_job_state(pool, "sleeper", "cancelled", 2)
        self.assertLess(time.monotonic() - t0, 2)
        wait_for(lambda: not processes_in_pgid(pid), 5, what="process group %d gone" % pid)
        wait_for(lambda: not processes_with_cmdline("sleep " + secs), 5,
                 what="no 'sleep %s' left" % secs)
        self.assertNotIn("sleeper", os.listdir(os.path.join(pool, "jobs")))
        self.assertIn("sleeper", os.listdir(os.path.join(pool, "results")))
        code = int(self.cat_wait(pool, "sleeper"))
        self.assertNotEqual(code, 0)
        self.assertNotIn("not-cancelled", read(os.path.join(pool, "results/sleeper/stdout")))
        self.assertEqual(kv_lines(read(os.path.join(pool, "status")))["jobs_cancelled"], "1")
        # cancelling again: it is no longer in jobs/
        self.assertIsNotNone(_errno(lambda: os.unlink(os.path.join(pool, "jobs", "sleeper"))))

    def test_cancel_ignoring_sigterm_is_killed(self):
        pool = self.make_pool("stub", "nodes = 1\n")
        secs = marker_sleep(30)
        pidfile = os.path.join(self.tmp, "pid")
        self.submit(pool, "stubborn", "trap '' TERM\necho $$ > %s\nsleep %s\n"
                    % (pidfile, secs))
        wait_for(lambda: os.path.exists(pidfile) and read(pidfile).strip(), 5, what="pid file")
        pid = int(read(pidfile))
        os.unlink(os.path.join(pool, "jobs", "stubborn"))
        # SIGKILL after the grace (a few seconds)
        self.wait_job_state(pool, "stubborn", "cancelled", 10)
        wait_for(lambda: not processes_in_pgid(pid), 5, what="process group gone")
        wait_for(lambda: not processes_with_cmdline("sleep " + secs), 5, what="sleep gone")

    def test_cancel_queued_job_never_runs(self):
        pool = self.make_pool("cq", "nodes = 1\nslots = 1\n")
        secs = marker_sleep(30)
        ran = os.path.join(self.tmp, "queued-ran")
        self.submit(pool, "busy", "sleep %s\n" % secs)
        self.wait_job_state(pool, "busy", "running", 5)
        self.submit(pool, "waiting", "touch %s\necho ran\n" % ran)
        self.assertEqual(job_state(pool, "waiting"), "queued")
        self.assertEqual(sorted(os.listdir(os.path.join(pool, "jobs"))), ["busy", "waiting"])
        os.unlink(os.path.join(pool, "jobs", "waiting"))
        self.wait_job_state(pool, "waiting", "cancelled", 2)
        self.assertEqual(os.listdir(os.path.join(pool, "jobs")), ["busy"])
        self.assertEqual(int(self.cat_wait(pool, "waiting", timeout=5)), 143)
        # free the slot: the cancelled job must still never run
        os.unlink(os.path.join(pool, "jobs", "busy"))
        self.wait_job_state(pool, "busy", "cancelled", 5)
        wait_for(lambda: not processes_with_cmdline("sleep " + secs), 5, what="sleep gone")
        time.sleep(1.0)
        self.assertFalse(os.path.exists(ran), "the cancelled queued job ran")
        self.assertEqual(read(os.path.join(pool, "results/waiting/stdout")), "")
        st = read(os.path.join(pool, "results/waiting/status"))
        self.assertEqual(st.split("\n")[0], "cancelled")
        self.assertNotIn("started:", st)
        self.assertEqual(os.listdir(os.path.join(pool, "jobs")), [])

    def test_cancel_an_upload_still_open(self):
        """rm of a job whose writer has not closed it yet (rm racing cp, a
        cp interrupted by Ctrl-C): the job ends cancelled and never runs,
        and the writer's close is not an error."""
        pool = self.make_pool("up", "slots = 2\n")
        ran = os.path.join(self.tmp, "ran")
        payload = ("touch %s-$SKY_JOB\nsleep 30\n" % ran).encode()
        for name, write_first in (("written", True), ("empty", False)):
            fd = os.open(os.path.join(pool, "jobs", name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            if write_first:
                os.write(fd, payload)
            self.assertIn(name, os.listdir(os.path.join(pool, "jobs")))
            os.unlink(os.path.join(pool, "jobs", name))
            if not write_first:
                os.write(fd, payload)
            os.close(fd)
            self.assertWait(pool, name, 143)
            self.assertEqual(job_state(pool, name), "cancelled")
        time.sleep(0.5)
        self.assertFalse([f for f in os.listdir(self.tmp) if f.startswith("ran-")])
        self.assertEqual(os.listdir(os.path.join(pool, "jobs")), [])
        # the names are free again once the results are removed
        for name in ("written", "empty"):
            subprocess.run(["rm", "-r", os.path.join(pool, "results", name)], check=True)
        self.submit(pool, "written", "echo ok\n")
        self.assertWait(pool, "written", 0)

    def test_cancel_broadcast(self):
        pool = self.make_pool("cb", "nodes = 2\n")
        secs = marker_sleep(30)
        self.submit(pool, "bsleep", "sleep %s\n" % secs, broadcast=True)
        wait_for(lambda: len(processes_with_cmdline("sleep " + secs)) == 2, 5,
                 what="2 sleeps running")
        self.assertEqual(os.listdir(os.path.join(pool, "broadcast")), ["bsleep"])
        # a broadcast is not in jobs/
        self.assertEqual(os.listdir(os.path.join(pool, "jobs")), [])
        os.unlink(os.path.join(pool, "broadcast", "bsleep"))
        self.wait_job_state(pool, "bsleep", "cancelled", 3)
        wait_for(lambda: not processes_with_cmdline("sleep " + secs), 5, what="sleeps gone")
        self.assertEqual(os.listdir(os.path.join(pool, "broadcast")), [])


def _errno(fn):
    try:
        fn()
    except OSError as e:
        return e.errno
    return None


class RemoveBusyPool(SkyfsTestCase):
    def test_rmdir_with_running_jobs(self):
        pool = self.make_pool("busy", "nodes = 1\nslots = 3\n")
        secs = marker_sleep(60)
        pids = []
        for i in range(3):
            pidfile = os.path.join(self.tmp, "pid%d" % i)
            pids.append(pidfile)
            self.submit(pool, "s%d" % i, "echo $$ > %s\nsleep %s\n" % (pidfile, secs))
        wait_for(lambda: len(processes_with_cmdline("sleep " + secs)) == 3, 5,
                 what="3 sleeps running")
        pgids = [int(read(p)) for p in pids]
        self.assertEqual(kv_lines(read(os.path.join(pool, "status")))["jobs_running"], "3")
        t0 = time.monotonic()
        r = run_cmd(["rmdir", pool], timeout=15)
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLess(took, 5)
        self.assertFalse(os.path.exists(pool))
        self.assertEqual(os.listdir(self.pools), [])
        self.assertEqual(processes_with_cmdline("sleep " + secs), [])
        for g in pgids:
            self.assertEqual(processes_in_pgid(g), [], "job group %d still has processes" % g)
        self.assertFalse(os.path.exists(os.path.join(self.state, "pools", "busy")))
        # the name can be used again
        os.mkdir(pool)
        self.assertEqual(state(pool), "empty")


class InterruptedWait(SkyfsTestCase):
    def _interrupt(self, sig):
        pool = self.make_pool("iw", "nodes = 1\n")
        secs = marker_sleep(60)
        self.submit(pool, "long", "sleep %s\n" % secs)
        self.wait_job_state(pool, "long", "running", 5)
        reader = subprocess.Popen(["cat", os.path.join(pool, "results", "long", "wait")],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  start_new_session=True)
        try:
            time.sleep(0.5)
            self.assertIsNone(reader.poll(), "wait returned while the job runs")
            t0 = time.monotonic()
            reader.send_signal(sig)
            try:
                reader.wait(timeout=1.5)
            except subprocess.TimeoutExpired:
                st = proc_stat(reader.pid)
                self.fail("reader still alive 1.5s after %s (state %s)"
                          % (signal.Signals(sig).name, st and st[0]))
            self.assertLess(time.monotonic() - t0, 1.5)
        finally:
            if reader.poll() is None:
                reader.kill()
                try:
                    reader.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    pass
            reader.stdout.close()
            reader.stderr.close()
        # the daemon still answers, quickly
        t0 = time.monotonic()
        r = run_cmd(["ls", self.pools], timeout=3)
        self.assertEqual(r.stdout, "iw\n")
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertEqual(job_state(pool, "long"), "running")
        # and a new reader of wait still gets the answer once the job ends
        os.unlink(os.path.join(pool, "jobs", "long"))
        self.assertEqual(int(self.cat_wait(pool, "long", timeout=6)), 143)

    def test_sigint(self):
        self._interrupt(signal.SIGINT)

    def test_sigterm(self):
        self._interrupt(signal.SIGTERM)

    def test_many_waiters_and_ls(self):
        pool = self.make_pool("mw", "nodes = 1\n")
        self.submit(pool, "slow", "sleep 1\nexit 4\n")
        readers = [subprocess.Popen(["cat", os.path.join(pool, "results", "slow", "wait")],
                                    stdout=subprocess.PIPE, start_new_session=True)
                   for _ in range(6)]
        try:
            # blocked readers do not block the rest of the tree
            t0 = time.monotonic()
            self.assertEqual(os.listdir(self.pools), ["mw"])
            self.assertEqual(state(pool), "ready")
            self.assertLess(time.monotonic() - t0, 0.5)
            outs = [r.communicate(timeout=10)[0] for r in readers]
        finally:
            for r in readers:
                if r.poll() is None:
                    r.kill()
                    r.wait(timeout=3)
        self.assertEqual(outs, [b"4\n"] * 6)


class WaitAndRemove(SkyfsTestCase):
    def test_rmdir_releases_waiters(self):
        # rmdir must not wait for blocked readers of wait: it ends their jobs
        pool = self.make_pool("wr", "nodes = 1\n")
        self.submit(pool, "long", "sleep 60\n")
        # a job is sealed at the last close, which FUSE sends after close(2)
        # returned: "queued" goes in once "long" runs, so it cannot go first
        self.wait_job_state(pool, "long", "running", 5)
        self.submit(pool, "queued", "echo never\n")
        readers = [subprocess.Popen(["cat", os.path.join(pool, "results", n, "wait")],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True) for n in ("long", "queued")]
        try:
            time.sleep(0.3)
            self.assertEqual([r.poll() for r in readers], [None, None])
            t0 = time.monotonic()
            r = run_cmd(["rmdir", pool], timeout=5)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertLess(time.monotonic() - t0, 5)
            for rd in readers:
                try:
                    rd.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    self.fail("a reader of wait still blocks 3s after rmdir")
        finally:
            for rd in readers:
                if rd.poll() is None:
                    rd.kill()
                    try:
                        rd.wait(timeout=3)
                    except subprocess.TimeoutExpired:
                        pass
                rd.stdout.close()
                rd.stderr.close()
        self.assertEqual(os.listdir(self.pools), [])


class ProvisioningStop(SkyfsTestCase):
    def test_rmdir_during_setup(self):
        secs = marker_sleep(30)
        pool = self.make_pool("slow", "nodes = 1\nsetup = sleep %s\n" % secs, "provisioning")
        wait_for(lambda: processes_with_cmdline("sleep " + secs), 5, what="setup running")
        t0 = time.monotonic()
        r = run_cmd(["rmdir", pool], timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(os.listdir(self.pools), [])
        wait_for(lambda: not processes_with_cmdline("sleep " + secs), 5, what="setup gone")

    def test_unmount_during_setup(self):
        secs = marker_sleep(30)
        self.make_pool("slow", "nodes = 1\nsetup = sleep %s\n" % secs, "provisioning")
        wait_for(lambda: processes_with_cmdline("sleep " + secs), 5, what="setup running")
        t0 = time.monotonic()
        self.assertEqual(self.daemon.unmount().returncode, 0)
        self.assertEqual(self.daemon.wait_exit(10), 0)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(processes_with_cmdline("sleep " + secs), [])


class JobProcesses(SkyfsTestCase):
    def test_background_children_end_with_the_job(self):
        pool = self.make_pool("bg", "nodes = 1\n")
        secs = marker_sleep(30)
        self.submit(pool, "bg", "sleep %s &\necho started\n" % secs)
        self.assertWait(pool, "bg", 0)
        wait_for(lambda: not processes_with_cmdline("sleep " + secs), 3,
                 what="background sleep gone")

    def test_stdin_is_empty(self):
        pool = self.make_pool("in", "nodes = 1\n")
        self.submit(pool, "reads", "cat\necho read-eof\n")
        self.assertWait(pool, "reads", 0, timeout=5)
        self.assertEqual(read(os.path.join(pool, "results/reads/stdout")), "read-eof\n")


class SigtermWithWaiter(SkyfsTestCase):
    def test_sigterm_while_a_reader_waits(self):
        pool = self.make_pool("sw", "nodes = 1\n")
        secs = marker_sleep(60)
        self.submit(pool, "long", "sleep %s\n" % secs)
        self.wait_job_state(pool, "long", "running", 5)
        reader = subprocess.Popen(["cat", os.path.join(pool, "results", "long", "wait")],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  start_new_session=True)
        try:
            time.sleep(0.3)
            self.daemon.proc.terminate()
            rc = self.daemon.wait_exit(10)
            self.assertIsNotNone(rc, "the daemon did not exit within 10s of SIGTERM")
            self.assertEqual(rc, 0)
            try:
                reader.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.fail("the reader of wait still blocks after the daemon exited")
        finally:
            if reader.poll() is None:
                reader.kill()
                try:
                    reader.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    pass
            reader.stdout.close()
            reader.stderr.close()
        wait_for(lambda: not processes_with_cmdline("sleep " + secs), 5, what="job gone")
