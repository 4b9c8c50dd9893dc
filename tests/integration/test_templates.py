"""MNT/templates/ (issue 10): spec files a user keeps in the state
directory; copying one into a pool's spec starts the pool."""

import errno
import os

from harness import SkyfsTestCase, read, write


class Templates(SkyfsTestCase):
    def test_keep_list_use_and_remove(self):
        tdir = os.path.join(self.mnt, "templates")
        self.assertIn("templates", os.listdir(self.mnt))
        self.assertEqual(os.listdir(tdir), [])
        write(os.path.join(tdir, "pair"), "nodes = 2\nslots = 3\n")
        write(os.path.join(tdir, "gpu"), "accelerator = H100:8\nprovider = aws\n")
        self.assertEqual(sorted(os.listdir(tdir)), ["gpu", "pair"])
        self.assertEqual(read(os.path.join(tdir, "pair")), "nodes = 2\nslots = 3\n")
        self.assertEqual(os.stat(os.path.join(tdir, "pair")).st_size, 20)
        # cp template spec: a pool starts from it
        pool = self.pool_path("fromtpl")
        os.mkdir(pool)
        write(os.path.join(pool, "spec"), read(os.path.join(tdir, "pair")))
        self.wait_state(pool, "ready")
        st = read(os.path.join(pool, "status"))
        self.assertIn("nodes: 2\n", st)
        self.assertIn("slots: 3\n", st)
        # rewrite, append
        write(os.path.join(tdir, "pair"), "nodes = 1\n")
        with open(os.path.join(tdir, "pair"), "a") as f:
            f.write("slots = 2\n")
        self.assertEqual(read(os.path.join(tdir, "pair")), "nodes = 1\nslots = 2\n")
        # kept in the state directory: they outlive the mount
        self.daemon.stop()
        self.daemon = self.start_daemon()
        self.assertEqual(sorted(os.listdir(tdir)), ["gpu", "pair"])
        self.assertEqual(read(os.path.join(tdir, "gpu")), "accelerator = H100:8\nprovider = aws\n")
        os.unlink(os.path.join(tdir, "gpu"))
        self.assertEqual(os.listdir(tdir), ["pair"])
        self.assertErrno(errno.ENOENT, read, os.path.join(tdir, "gpu"))

    def test_bad_names_sizes_and_operations(self):
        tdir = os.path.join(self.mnt, "templates")
        self.assertErrno(errno.EINVAL, write, os.path.join(tdir, ".hidden"), "nodes = 1\n")
        self.assertErrno(errno.ENAMETOOLONG, write, os.path.join(tdir, "x" * 300), "nodes = 1\n")
        self.assertErrno(errno.EFBIG, write, os.path.join(tdir, "huge"), "#" * (1 << 20) + "x")
        write(os.path.join(tdir, "a"), "nodes = 1\n")
        self.assertErrno(errno.EPERM, os.rename, os.path.join(tdir, "a"), os.path.join(tdir, "b"))
        self.assertErrno(errno.EPERM, os.mkdir, os.path.join(tdir, "sub"))
        self.assertEqual(sorted(os.listdir(tdir)), ["a", "huge"])
