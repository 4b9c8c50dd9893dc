"""skyfs as an installed FUSE filesystem (issue 10): `meson install` puts the
binary and the man page skyfs(1) in place; the man page names every option
of --help, every spec key and every file of the tree; mount(8) mounts skyfs
from an fstab line (`mount -T FSTAB DIR`, through mount.fuse3); and the
example systemd unit passes `systemd-analyze verify`."""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import SKYFS, SkyfsTestCase, fusermount_u, mounts_under, read, wait_for, write

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MAN = os.path.join(ROOT, "docs", "skyfs.1")
LINK = "/usr/local/bin/skyfs"   # where meson install puts it


class Installed(SkyfsTestCase):
    """A test with the skyfs under test as the one in /usr/local/bin
    (mount.fuse3 runs "skyfs" from mount's PATH; the unit names that path)
    for its length, and no daemon of its own; skipped when a skyfs installed
    there already is not ours. The module's tests run one after the other,
    so they never share the link."""
    autostart = False

    def setUp(self):
        super().setUp()
        if os.path.lexists(LINK):
            if os.path.realpath(LINK) != os.path.realpath(SKYFS):
                self.skipTest("%s is another skyfs" % LINK)
        else:
            os.symlink(os.path.realpath(SKYFS), LINK)
            self.addCleanup(os.unlink, LINK)


def man_text():
    """The man page as text: rendered by man when there is one, else its
    source with roff's escapes undone."""
    if shutil.which("man"):
        r = subprocess.run(["man", "-l", MAN], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, MANWIDTH="200", MAN_KEEP_FORMATTING="0"))
        if r.returncode == 0:
            return re.sub(r".\x08", "", r.stdout)
    return read(MAN).replace("\\-", "-").replace("\\e", "\\")


class ManPage(SkyfsTestCase):
    def test_man_page_names_every_option_key_and_file(self):
        text = man_text()
        r = subprocess.run([SKYFS, "--help"], capture_output=True, text=True, timeout=10)
        ours = r.stdout.split("skyfs options:")[1].split("\n\n")[0]
        opts = re.findall(r"-o (\w+)=", ours) + re.findall(r"^\s+(-\w)\b", ours, re.M)
        self.assertGreaterEqual(len(opts), 9, ours)
        for o in opts:
            self.assertIn(o, text, "option %s of --help is not in skyfs(1)" % o)
        # every spec key, as the parser lists them
        pool = self.pool_path("m")
        os.mkdir(pool)
        self.assertErrno(22, write, os.path.join(pool, "spec"), "colour = 1\n")
        known = re.search(r"known: ([^)]*)\)", read(os.path.join(pool, "status"))).group(1)
        keys = [k.strip().replace("env.NAME", "env.") for k in known.split(",")]
        self.assertGreater(len(keys), 30)
        for k in keys:
            self.assertIn(k, text, "spec key %s is not in skyfs(1)" % k)
        # every file of the tree
        for name in os.listdir(self.mnt) + os.listdir(pool):
            self.assertIn(name, text, "%s is not in skyfs(1)" % name)

    def test_meson_install_puts_binary_and_man_page(self):
        build = os.path.dirname(SKYFS)
        if not os.path.exists(os.path.join(build, "build.ninja")) or not shutil.which("meson"):
            self.skipTest("the daemon under test is not in a meson build directory")
        dest = tempfile.mkdtemp(prefix="skyfs-install-")
        self.addCleanup(shutil.rmtree, dest, True)
        r = subprocess.run(["meson", "install", "-C", build, "--no-rebuild", "--destdir", dest],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        found = {os.path.relpath(os.path.join(d, f), dest)
                 for d, _, files in os.walk(dest) for f in files}
        self.assertTrue(any(f.endswith("bin/skyfs") for f in found), found)
        self.assertTrue(any(f.endswith("man1/skyfs.1") for f in found), found)


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("mount")
                     and os.path.exists("/sbin/mount.fuse3"),
                     "needs root, mount(8) and mount.fuse3 (fuse3)")
class Fstab(Installed):

    def test_mount_from_an_fstab_line(self):
        tmp = tempfile.mkdtemp(prefix="skyfs-fstab-")
        self.addCleanup(shutil.rmtree, tmp, True)
        mnt, state, fstab = (os.path.join(tmp, n) for n in ("mnt", "state", "fstab"))
        os.mkdir(mnt)
        with open(fstab, "w") as f:
            f.write("# what /etc/fstab would hold\n"
                    "skyfs %s fuse.skyfs state=%s,noauto 0 0\n" % (mnt, state))
        r = subprocess.run(["mount", "-T", fstab, mnt], capture_output=True, text=True,
                           timeout=30)
        self.addCleanup(lambda: mounts_under(tmp) and fusermount_u(mnt, lazy=True))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(mounts_under(tmp))
        self.assertIn("fuse.skyfs", read("/proc/mounts"))
        pool = os.path.join(mnt, "pools", "f")
        os.mkdir(pool)
        write(os.path.join(pool, "spec"), "nodes = 1\n")
        wait_for(lambda: read(os.path.join(pool, "status")).startswith("ready"), 10,
                 what="the pool ready")
        write(os.path.join(pool, "jobs", "hi"), "echo hi from fstab\n")
        self.assertEqual(read(os.path.join(pool, "results", "hi", "wait")), "0\n")
        self.assertEqual(read(os.path.join(pool, "results", "hi", "stdout")),
                         "hi from fstab\n")
        r = subprocess.run(["umount", mnt], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: not mounts_under(tmp), 10, what="the mount gone")
        # the daemon tore its pool down and left
        wait_for(lambda: "skyfs" not in subprocess.run(
            ["pgrep", "-af", "state=" + state], capture_output=True, text=True).stdout,
            15, what="the daemon gone")
        self.assertIn("state ready -> terminating", read(os.path.join(state, "skyfs.log")))


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("systemd-analyze"),
                     "needs root and systemd-analyze (scripts/deps.sh installs systemd)")
class SystemdUnit(Installed):
    """scripts/skyfs.service, the example user unit. No systemd runs here as
    PID 1, so it is verified, not started: every directive must parse (a
    bad value is only a warning to systemd, so the output must be empty),
    the commands must exist, and the man page it names must be there."""

    def test_unit_verifies_clean(self):
        tmp = tempfile.mkdtemp(prefix="skyfs-unit-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.makedirs(os.path.join(tmp, "man", "man1"))
        shutil.copy(MAN, os.path.join(tmp, "man", "man1", "skyfs.1"))
        unit = os.path.join(tmp, "skyfs.service")
        shutil.copy(os.path.join(ROOT, "scripts", "skyfs.service"), unit)
        man = [] if shutil.which("man") else ["--man=no"]
        env = dict(os.environ, MANPATH=os.path.join(tmp, "man"), SYSTEMD_LOG_LEVEL="notice")
        r = subprocess.run(["systemd-analyze", "verify"] + man + [unit], capture_output=True,
                           text=True, timeout=60, env=env)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
        # and it can fail: a directive systemd cannot parse is reported
        with open(unit, "a") as f:
            f.write("[Service]\nKillMode=mixd\n")
        r = subprocess.run(["systemd-analyze", "verify"] + man + [unit], capture_output=True,
                           text=True, timeout=60, env=env)
        self.assertIn("mixd", r.stdout + r.stderr)
        text = read(unit)
        self.assertIn("ExecStart=%s -f %%h/sky" % LINK, text)
