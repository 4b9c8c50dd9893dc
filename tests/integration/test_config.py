"""The configuration file (issue 10): site defaults for the state
directory, spec keys and credential profile names; MNT/config shows what
is in effect and where it came from."""

import os
import subprocess

from harness import (SKYFS, SkyfsTestCase, fusermount_u, kv_lines, mounts_under, read, run_cmd,
                     wait_for, write)


class Config(SkyfsTestCase):
    autostart = False

    def config(self, text):
        path = os.path.join(self.tmp, "config")
        write(path, text)
        return path

    def test_defaults_apply_and_show(self):
        state = os.path.join(self.tmp, "from-config")
        path = self.config("# site defaults\nstate = %s\nprovider = local\n"
                           "orphan_timeout = 30m   # comment\naws_profile = research\n" % state)
        self.start_daemon(state_dir=os.path.join(self.tmp, "unused"),
                          env={"AWS_PROFILE": ""},
                          args=["-o", "config=" + path])
        self.assertIn("config", os.listdir(self.mnt))
        cfg = kv_lines(read(os.path.join(self.mnt, "config")))
        self.assertEqual(cfg["file"], path)
        self.assertEqual(cfg["provider"], "local (config)")
        self.assertEqual(cfg["orphan_timeout"], "30m (config)")
        self.assertEqual(cfg["region"], "- (built-in)")
        # -o state= (the harness passes one) wins over the file's
        self.assertEqual(cfg["state"], self.daemons[0].state_dir)
        # a spec that does not set a key gets the file's default
        pool = self.make_pool("p", "nodes = 1\n")
        self.assertIn("provider: local\n", read(os.path.join(pool, "status")))

    def test_profile_names(self):
        """aws_profile and runpod_profile name credentials profiles: the
        provider reads that profile, a variable the environment sets wins,
        and MNT/config shows names, never keys."""
        home = os.path.join(self.tmp, "home")
        os.makedirs(os.path.join(home, ".runpod"))
        write(os.path.join(home, ".runpod", "config.toml"),
              'apikey = "secret-of-default"\n[work]\napi_key = "secret-of-work"\n')
        path = self.config("aws_profile = research\nrunpod_profile = work\n")
        d = self.start_daemon(env={"HOME": home}, args=["-o", "config=" + path])
        cfg = kv_lines(read(os.path.join(self.mnt, "config")))
        self.assertEqual(cfg["aws_profile"], "research (config)")
        self.assertEqual(cfg["runpod_profile"], "work (config)")
        status = read(os.path.join(self.mnt, "providers", "runpod", "status"))
        self.assertIn("configured: yes (API key from ~/.runpod/config.toml [work])", status)
        for text in (read(os.path.join(self.mnt, "config")), status,
                     d.log_text()):
            self.assertNotIn("secret-of", text)
        d.stop()
        # the environment's own variable wins over the file
        d = self.start_daemon(env={"HOME": home, "AWS_PROFILE": "ops",
                                   "SKYFS_RUNPOD_PROFILE": "play"},
                              args=["-o", "config=" + path])
        cfg = kv_lines(read(os.path.join(self.mnt, "config")))
        self.assertEqual(cfg["aws_profile"], "ops (AWS_PROFILE wins over the config)")
        self.assertEqual(cfg["runpod_profile"],
                         "play (SKYFS_RUNPOD_PROFILE wins over the config)")
        self.assertIn("configured: no (no apikey line in ~/.runpod/config.toml [play])",
                      read(os.path.join(self.mnt, "providers", "runpod", "status")))
        d.stop()
        # none set anywhere
        self.start_daemon(env={"HOME": home}, args=["-o", "config=" + self.config("")])
        cfg = kv_lines(read(os.path.join(self.mnt, "config")))
        self.assertEqual(cfg["aws_profile"], "- (default)")
        self.assertEqual(cfg["runpod_profile"], "- (default)")
        self.assertIn("configured: yes (API key from ~/.runpod/config.toml)",
                      read(os.path.join(self.mnt, "providers", "runpod", "status")))

    def test_provider_default_and_spec_override(self):
        path = self.config("provider = ssh\n")
        self.start_daemon(args=["-o", "config=" + path])
        pool = self.pool_path("p")
        os.mkdir(pool)
        # no provider in the spec: the file's, and ssh wants hosts
        self.assertErrno(22, write, os.path.join(pool, "spec"), "nodes = 1\n")
        self.assertIn("hosts", read(os.path.join(pool, "status")))
        # the spec's own key wins
        write(os.path.join(pool, "spec"), "provider = local\nnodes = 1\n")
        self.wait_state(pool, "ready")

    def test_state_from_the_file(self):
        state = os.path.join(self.tmp, "state-from-config")
        path = self.config("state = %s\n" % state)
        os.makedirs(self.mnt, exist_ok=True)
        p = subprocess.Popen([SKYFS, "-f", "-o", "config=" + path, self.mnt],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: mounts_under(self.mnt), 10, what="the mount")
            self.assertEqual(kv_lines(read(os.path.join(self.mnt, "config")))["state"], state)
            self.assertTrue(os.path.exists(os.path.join(state, "skyfs.log")))
        finally:
            fusermount_u(self.mnt)
            p.wait(15)

    def test_bad_files_stop_the_mount_with_the_line(self):
        for text, want in (("bogus = 1\n", "line 1: unknown key \"bogus\""),
                           ("\nregion\n", "line 2: expected key = value"),
                           ("orphan_timeout = soon\n", "line 1: orphan_timeout: invalid duration"),
                           ("state = relative/dir\n", "not an absolute path"),
                           ("runpod_profile = a b\n", "line 1: runpod_profile: \"a b\" is "
                            "not a profile name")):
            path = self.config(text)
            r = run_cmd([SKYFS, "-f", "-o", "config=" + path, self.mnt], timeout=10)
            self.assertEqual(r.returncode, 1, text)
            self.assertIn(want, r.stderr, text)

    def test_no_file_is_fine(self):
        self.start_daemon(env={"XDG_CONFIG_HOME": os.path.join(self.tmp, "nothing")})
        cfg = kv_lines(read(os.path.join(self.mnt, "config")))
        self.assertTrue(cfg["file"].startswith("none (looked for "), cfg)
        self.assertEqual(cfg["provider"], "local (built-in)")
        self.assertEqual(cfg["orphan_timeout"], "10m (built-in)")
