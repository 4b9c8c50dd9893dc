"""Two tests every cloud's suite runs (a mixin of its test case): the daemon
dies while the cloud launches a node, after the machine exists and before
its answer came. The next daemon cannot adopt that machine (its host key was
never recorded), so it must end it rather than leave it billing until rmdir.
And the launch request is still in the network when the daemon dies: the
cloud carries it out only after the next daemon has looked for it and
launched the node again, and the orphan sweep ends it while the pool lives.

A class using it sets lost_spec (a pool spec without `nodes`) and
lost_match (text of the launch call, as fakehttp.Server.hold matches it),
and gives lost_server() (the fake's fakehttp.Server), lost_live() (the
ids of the fake's machines that still run or boot) and lost_all() (the ids
of every machine the fake ever made for the pool); assertAllGone() checks
that nothing is left after rmdir. lost_restart() kills the daemon and starts
the next one, with api_timeout=2s (and the options more gives) unless a
class says otherwise; lost_keep_late() makes sure the late launch can still
succeed once it lands (the default does nothing).
"""

import os

from harness import fusermount_u, kv_lines, read, wait_for, write


class LostLaunch:
    lost_spec = None
    lost_match = None

    def lost_keep_late(self):
        """Called once the launch is in flight, before the next daemon runs;
        returns what to call before the launch lands."""
        return lambda: None

    def lost_node(self, pool, name):
        return kv_lines(read(os.path.join(pool, "nodes", name)))["instance"]

    def lost_restart(self, *more):
        os.killpg(self.daemon.pid, 9)
        self.assertIsNotNone(self.daemon.wait_exit(10), "the daemon survived SIGKILL")
        fusermount_u(self.mnt, lazy=True)
        self.daemon = self.start_daemon(env=self.daemon.env,
                                        args=["-o", "api_timeout=2s"] + list(more))

    def test_a_launch_whose_answer_a_crash_lost_is_ended(self):
        pool = self.make_pool("ll", self.lost_spec + "nodes = 1\n", "ready", timeout=60)
        first = self.lost_live()
        self.assertEqual(len(first), 1, first)
        # the launch of node-1 makes the machine; its answer never comes
        self.lost_server().hold(self.lost_match, seconds=60)
        write(os.path.join(pool, "spec"), self.lost_spec + "nodes = 2\n")
        stray = wait_for(lambda: [i for i in self.lost_live() if i not in first], 20,
                         interval=0.02, what="the second launch made its machine")
        self.assertEqual(len(stray), 1, stray)
        # at once: before the client's api_timeout (2 s) gives up on the answer
        self.lost_restart()
        self.wait_state(pool, "ready", 60)
        wait_for(lambda: sorted(os.listdir(os.path.join(pool, "nodes"))) == ["node-0", "node-1"],
                 30, what="two nodes")
        self.assertEqual(self.lost_node(pool, "node-0"), first[0])
        second = self.lost_node(pool, "node-1")
        self.assertNotEqual(second, stray[0])
        wait_for(lambda: sorted(self.lost_live()) == sorted([first[0], second]), 20,
                 what=lambda: "the stray %s ended, the pool's two live: %s"
                 % (stray[0], self.lost_live()))
        self.assertIn("whose answer was lost", self.daemon.log_text())
        self.submit(pool, "after", "echo after\n")
        self.assertWait(pool, "after", 0, timeout=30)
        os.rmdir(pool)
        self.assertAllGone()

    def test_a_launch_landing_after_the_recovery_looked_is_ended(self):
        pool = self.make_pool("ll", self.lost_spec + "nodes = 1\n", "ready", timeout=60)
        first = self.lost_live()
        self.assertEqual(len(first), 1, first)
        server = self.lost_server()
        server.lag(self.lost_match)
        write(os.path.join(pool, "spec"), self.lost_spec + "nodes = 2\n")
        wait_for(server.lagging.is_set, 20, interval=0.02, what="node-1's launch in flight")
        undo = self.lost_keep_late()
        self.lost_restart("-o", "sweep_interval=1s")
        self.wait_state(pool, "ready", 60)
        wait_for(lambda: sorted(os.listdir(os.path.join(pool, "nodes"))) == ["node-0", "node-1"],
                 30, what="two nodes")
        second = self.lost_node(pool, "node-1")
        self.assertEqual(sorted(self.lost_live()), sorted([first[0], second]))
        # only now does the cloud carry out the first launch of node-1 (the
        # sweep may end it before a poll sees it running: every machine made)
        made = set(self.lost_all())
        undo()
        server.release()
        stray = wait_for(lambda: [i for i in self.lost_all() if i not in made] or None, 20,
                         interval=0.02, what="the late launch landed")
        wait_for(lambda: sorted(self.lost_live()) == sorted([first[0], second]), 20,
                 what=lambda: "the stray %s ended, the pool's two live: %s"
                 % (stray, self.lost_live()))
        self.assertIn(stray[0], self.daemon.log_text())
        self.assertEqual(self.lost_node(pool, "node-1"), second)
        self.submit(pool, "after", "echo after\n", broadcast=True)
        self.assertWait(pool, "after", 0, timeout=30)
        os.rmdir(pool)
        self.assertAllGone()
