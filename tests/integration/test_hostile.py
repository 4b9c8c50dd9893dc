"""Hostile input through the real mount, as one table of cases.

Every row of CASES is one hostile input: bad names for pools and jobs,
renames, links and mode changes everywhere, writes to read-only files,
oversized, binary and broken specs, special files, races, floods, jobs
that leave daemons behind or write gigabytes. Each row says what skyfs must
answer: a specific errno (the one the README documents), or a specific,
clear job failure (exit code and message in results/<job>/status or
stderr).

The light rows of a group share one daemon and one ready pool
(test_<group>): each row runs, and the rows that failed are reported
together at the end (the runner shows no unittest subtests). Each heavy row
gets a daemon of its own (test_heavy_<name>). After every group, and after
every heavy row, the daemon must still answer: a pool's status reads and a
fresh trivial job succeeds. docs/hostile-input.md lists the classes of
cases and the answers.
"""

import concurrent.futures
import errno
import itertools
import os
import random
import shutil
import signal
import tempfile
import threading
import time
import unittest

from harness import (SkyfsTestCase, job_state, kv_lines, processes_with_cmdline, read, state,
                     wait_for, write)

try:
    from sshnodes import SshNodes, have_sshd
except ImportError:          # pragma: no cover - the runner always has it
    SshNodes, have_sshd = None, lambda: False

E = errno
MiB = 1 << 20
GiB = 1 << 30
POOL = "h"                   # the ready pool every light row may use
SPEC = "nodes = 1\nslots = 4\n"


# ---- the table ----------------------------------------------------------------

class Case:
    """One hostile input. fn(t) runs it against t (a Hostile test): it
    asserts the answer itself. group: the test method whose daemon it
    shares, or None for a heavy row with a daemon of its own."""

    def __init__(self, name, fn, group, doc, tmpfs=True):
        self.name, self.fn, self.group, self.doc, self.tmpfs = name, fn, group, doc, tmpfs


CASES = []


def case(group=None, tmpfs=True):
    """Decorator: a row whose check is a small function."""
    def deco(fn):
        CASES.append(Case(fn.__name__, fn, group, (fn.__doc__ or "").strip(), tmpfs))
        return fn
    return deco


def expect(group, name, want, op, *args):
    """A declarative row: OPS[op](*args) under the mount answers errno want
    (0: it succeeds). Path arguments are relative to the mount: "{p}" is the
    ready pool, whose results "done" (finished) and "run" (running) exist;
    "@outside" is a file outside the mount. "each:OP" takes one list of
    paths and expects the same answer from every one."""
    each = op.startswith("each:")
    op = op[5:] if each else op
    calls = [(p,) for p in args[0]] if each else [args]

    def fn(t):
        bad = []
        for call in calls:
            real = [t.path(a) if isinstance(a, (str, bytes)) else a for a in call]
            got = _errno(OPS[op], *real)
            if got != (want or None):
                bad.append("%s %r: %s" % (op, call, errno.errorcode.get(got, got)
                                          if got else "success"))
        t.assertEqual(bad, [], "expected %s" % errno.errorcode.get(want, "success"))
    CASES.append(Case(name, fn, group, "%s %s -> %s" % (
        op, " ".join(repr(a) for a in args), errno.errorcode.get(want, "ok"))))


def _errno(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except OSError as e:
        return e.errno
    return None


def _create(path, data=b"echo x\n"):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _open_w(path, flags=os.O_WRONLY):
    os.close(os.open(path, flags))


OPS = {
    "mkdir": os.mkdir,
    "rmdir": os.rmdir,
    "unlink": os.unlink,
    "create": _create,
    "open_w": _open_w,
    "append": lambda p: _open_w(p, os.O_WRONLY | os.O_APPEND),
    "open_rw": lambda p: _open_w(p, os.O_RDWR),
    "open_trunc": lambda p: _open_w(p, os.O_WRONLY | os.O_TRUNC),
    "truncate": os.truncate,
    "rename": os.rename,
    "link": os.link,
    "symlink": lambda target, p: os.symlink(target, p),
    "chmod": lambda p: os.chmod(p, 0o777),
    "chown": lambda p: os.chown(p, 1, 1),
    "mkfifo": os.mkfifo,
    "mknod_chr": lambda p: os.mknod(p, 0o600 | 0o020000, os.makedev(1, 3)),
    "setxattr": lambda p: os.setxattr(p, "user.skyfs", b"1"),
    "getxattr": lambda p: os.getxattr(p, "user.skyfs"),
    "listxattr": os.listxattr,
    "removexattr": lambda p: os.removexattr(p, "user.skyfs"),
}

# -- names: pools

for _n, _name, _want in [
        ("pool_dot", ".", E.EEXIST),
        ("pool_dotdot", "..", E.EEXIST),
        ("pool_leading_dot", ".hidden", E.EINVAL),
        ("pool_three_dots", "...", E.EINVAL),
        ("pool_256_bytes", "p" * 256, E.ENAMETOOLONG),
        ("pool_4096_bytes", "p" * 4096, E.ENAMETOOLONG),
        ("pool_ctrl_char", "a\x01b", E.EINVAL),
        ("pool_newline", "a\nb", E.EINVAL),
        ("pool_tab", "a\tb", E.EINVAL),
        ("pool_del", "a\x7fb", E.EINVAL),
        ("pool_escape_sequence", "\x1b[31mred", E.EINVAL),
        ("pool_bad_utf8", b"bad\xff", E.EINVAL),
        ("pool_overlong_utf8", b"a\xc0\xafb", E.EINVAL),
        ("pool_utf16_surrogate", b"a\xed\xa0\x80b", E.EINVAL),
        ("pool_c1_control", b"a\xc2\x85b", E.EINVAL),
        ("pool_cut_utf8", b"a\xe2\x82", E.EINVAL),
        ("pool_taken", POOL, E.EEXIST),
]:
    expect("names", _n, _want, "mkdir",
           (b"pools/" + _name) if isinstance(_name, bytes) else "pools/" + _name)

expect("names", "pool_inside_a_pool", E.EPERM, "mkdir", "pools/{p}/sub")
expect("names", "pool_path_with_slash", E.ENOENT, "mkdir", "pools/nope/sub")
expect("names", "pool_at_mount_root", E.EPERM, "mkdir", "newpool")

# -- names: jobs

for _n, _name, _want in [
        ("job_dot", ".", E.EISDIR),
        ("job_dotdot", "..", E.EISDIR),
        ("job_leading_dot", ".x.swp", E.EINVAL),
        ("job_256_bytes", "j" * 256, E.ENAMETOOLONG),
        ("job_4096_bytes", "j" * 4096, E.ENAMETOOLONG),
        ("job_newline", "a\nb", E.EINVAL),
        ("job_ctrl_char", "a\x1bb", E.EINVAL),
        ("job_bad_utf8", b"job\xfe", E.EINVAL),
        ("job_overlong_utf8", b"j\xe0\x80\xafb", E.EINVAL),
        ("job_name_running", "run", E.EEXIST),
        ("job_name_with_results", "done", E.EEXIST),
]:
    expect("names", _n, _want, "create",
           (b"pools/{p}/jobs/" + _name) if isinstance(_name, bytes)
           else "pools/{p}/jobs/" + _name)

expect("names", "broadcast_bad_utf8", E.EINVAL, "create", b"pools/{p}/broadcast/b\xff")
expect("names", "job_in_missing_pool", E.ENOENT, "create", "pools/nope/jobs/x")
expect("names", "job_path_with_slash", E.ENOENT, "create", "pools/{p}/jobs/a/b")

# -- rename, link, symlink

for _n, _a, _b, _want in [
        ("rename_pool", "pools/{p}", "pools/other", E.EPERM),
        ("rename_spec", "pools/{p}/spec", "pools/{p}/spec2", E.EPERM),
        ("rename_status", "pools/{p}/status", "pools/{p}/jobs/x", E.EPERM),
        ("rename_job", "pools/{p}/jobs/run", "pools/{p}/jobs/run2", E.EPERM),
        ("rename_job_over_spec", "pools/{p}/jobs/run", "pools/{p}/spec", E.EPERM),
        ("rename_result", "pools/{p}/results/done", "pools/{p}/results/d2", E.EPERM),
        ("rename_result_file", "pools/{p}/results/done/stdout",
         "pools/{p}/results/done/out", E.EPERM),
        ("rename_into_jobs_from_outside", "@outside", "pools/{p}/jobs/moved", E.EXDEV),
        ("rename_out_of_mount", "pools/{p}/results/done/stdout", "@outside2", E.EXDEV),
]:
    expect("meta", _n, _want, "rename", _a, _b)

for _n, _a, _b, _want in [
        ("link_spec", "pools/{p}/spec", "pools/{p}/jobs/l", E.EPERM),
        ("link_result_file", "pools/{p}/results/done/stdout", "pools/{p}/jobs/l", E.EPERM),
        ("link_job", "pools/{p}/jobs/run", "pools/{p}/jobs/l2", E.EPERM),
        ("link_from_outside", "@outside", "pools/{p}/jobs/l3", E.EXDEV),
]:
    expect("meta", _n, _want, "link", _a, _b)

for _n, _p in [("symlink_in_pools", "pools/s"), ("symlink_in_jobs", "pools/{p}/jobs/s"),
               ("symlink_in_results", "pools/{p}/results/s"),
               ("symlink_as_spec2", "pools/{p}/spec2")]:
    expect("meta", _n, E.EPERM, "symlink", "/etc/passwd", _p)

# -- chmod, chown, xattrs, on everything

_EVERYTHING = ["", "README", "pools", "pools/{p}", "pools/{p}/spec", "pools/{p}/status",
               "pools/{p}/events", "pools/{p}/jobs", "pools/{p}/jobs/run",
               "pools/{p}/results/done", "pools/{p}/results/done/stdout",
               "pools/{p}/results/done/exit", "pools/{p}/nodes/node-0", "catalog/offers",
               "providers/local/status"]
expect("meta", "chmod_everything", E.EPERM, "each:chmod", _EVERYTHING)
expect("meta", "chown_everything", E.EPERM, "each:chown", _EVERYTHING)
expect("meta", "setxattr_everything", E.ENOTSUP, "each:setxattr", _EVERYTHING)
expect("meta", "getxattr_spec", E.ENOTSUP, "getxattr", "pools/{p}/spec")
expect("meta", "listxattr_result", E.ENOTSUP, "listxattr", "pools/{p}/results/done/stdout")
expect("meta", "removexattr_pool", E.ENOTSUP, "removexattr", "pools/{p}")

# -- read-only files: writes, appends, truncation, unlink

_READ_ONLY = ["README", "catalog/accelerators", "catalog/offers", "providers/local/status",
              "pools/{p}/status", "pools/{p}/events", "pools/{p}/cost", "pools/{p}/plan",
              "pools/{p}/timeline.svg", "pools/{p}/nodes/node-0",
              "pools/{p}/results/done/status",
              "pools/{p}/results/done/exit", "pools/{p}/results/done/wait",
              "pools/{p}/results/done/stdout", "pools/{p}/results/done/stderr",
              "pools/{p}/results/done/files/out.txt", "pools/{p}/results/run/stdout"]
expect("readonly", "write_read_only_files", E.EACCES, "each:open_w", _READ_ONLY)
expect("readonly", "append_read_only_files", E.EACCES, "each:append", _READ_ONLY)
expect("readonly", "rdwr_read_only_files", E.EACCES, "each:open_rw", _READ_ONLY)
expect("readonly", "truncate_status", E.EACCES, "truncate", "pools/{p}/status", 0)
expect("readonly", "truncate_events", E.EACCES, "truncate", "pools/{p}/events", 0)
expect("readonly", "truncate_result_stdout", E.EACCES, "truncate",
       "pools/{p}/results/done/stdout", 0)
expect("readonly", "open_trunc_status", E.EACCES, "open_trunc", "pools/{p}/status")
expect("readonly", "truncate_spec_of_ready_pool", E.EBUSY, "truncate", "pools/{p}/spec", 0)
expect("readonly", "truncate_spec_of_ready_pool_partly", E.EINVAL, "truncate",
       "pools/{p}/spec", 3)
expect("readonly", "truncate_result_dir", E.EISDIR, "truncate", "pools/{p}/results/done/files",
       0)
expect("readonly", "unlink_pool_files", E.EACCES, "each:unlink",
       ["README", "catalog/offers", "pools/{p}/spec", "pools/{p}/status", "pools/{p}/events",
        "pools/{p}/cost", "pools/{p}/plan", "pools/{p}/timeline.svg",
        "pools/{p}/nodes/node-0", "providers/local/status"])
expect("readonly", "unlink_running_result_file", E.EBUSY, "unlink",
       "pools/{p}/results/run/stdout")
expect("readonly", "rmdir_fixed_dirs", E.EPERM, "each:rmdir",
       ["pools", "catalog", "providers", "providers/local", "pools/{p}/jobs",
        "pools/{p}/broadcast", "pools/{p}/results", "pools/{p}/nodes"])
expect("readonly", "rmdir_running_result", E.EBUSY, "rmdir", "pools/{p}/results/run")
expect("readonly", "rmdir_missing_pool", E.ENOENT, "rmdir", "pools/nope")

@case("readonly")
def truncate_spec_partly(t):
    """truncate(2) of a writable spec to anything but 0: EINVAL (a spec is
    rewritten whole); to 0 it is the empty spec."""
    path = os.path.join(t.pools, "trunc")
    os.mkdir(path)
    t.assertEqual(_errno(os.truncate, os.path.join(path, "spec"), 3), E.EINVAL)
    t.assertEqual(state(path), "empty")
    os.rmdir(path)


# -- files where none may be made: special files, result dirs

expect("special", "mkfifo_in_jobs", E.EPERM, "mkfifo", "pools/{p}/jobs/fifo")
expect("special", "mknod_chr_in_jobs", E.EPERM, "mknod_chr", "pools/{p}/jobs/null")
expect("special", "mkfifo_in_pools", E.EPERM, "mkfifo", "pools/fifo")
expect("special", "mkdir_in_jobs", E.EPERM, "mkdir", "pools/{p}/jobs/dir")
expect("special", "mkdir_in_results", E.EPERM, "mkdir", "pools/{p}/results/dir")
expect("special", "mkdir_in_a_result", E.EPERM, "mkdir", "pools/{p}/results/done/dir")
expect("special", "mkdir_in_nodes", E.EPERM, "mkdir", "pools/{p}/nodes/node-9")
expect("special", "create_in_a_result", E.EACCES, "create", "pools/{p}/results/done/new")
expect("special", "create_in_a_running_result", E.EACCES, "create",
       "pools/{p}/results/run/new")
expect("special", "create_in_results_files", E.EACCES, "create",
       "pools/{p}/results/done/files/new")
expect("special", "create_in_results", E.EACCES, "create", "pools/{p}/results/new")
expect("special", "create_in_catalog", E.EACCES, "create", "catalog/new")
expect("special", "create_in_providers", E.EACCES, "create", "providers/local/new")
expect("special", "create_in_a_pool", E.EACCES, "create", "pools/{p}/newfile")


# -- light rows whose check is a function ---------------------------------------

@case("names")
def pool_names_that_are_fine(t):
    """255 bytes, unicode, spaces, a lone space, backslashes, a slash look-alike
    and option-like names are ordinary pool names: made, listed, removed."""
    names = ["q" * 255, "p\u00f6\u00f6l-\u2713", "a b", " ", "a\\b", "a\u2215b", "-rf"]
    for n in names:
        os.mkdir(os.path.join(t.pools, n))
        t.assertEqual(state(os.path.join(t.pools, n)), "empty", repr(n))
    t.assertTrue(set(names) <= set(os.listdir(t.pools)))
    for n in names:
        os.rmdir(os.path.join(t.pools, n))
    t.assertEqual(sorted(os.listdir(t.pools)), [POOL])


@case("names")
def pool_names_differing_in_case(t):
    """Names are bytes: Pool, POOL and pool are three pools."""
    for n in ("Case", "CASE", "case"):
        os.mkdir(os.path.join(t.pools, n))
    t.assertEqual(sorted(n for n in os.listdir(t.pools) if n.lower() == "case"),
                  ["CASE", "Case", "case"])
    for n in ("Case", "CASE", "case"):
        os.rmdir(os.path.join(t.pools, n))


@case("names")
def job_names_that_are_fine(t):
    """Unicode, a lone space, a backslash, option-like names and the names of
    a result's own files are ordinary job names, and they run."""
    names = ["r\u00e9sum\u00e9 \u2713.sh", " ", "a\\b", "-rf", "payload", "status", "wait"]
    for n in names:
        t.submit(t.pool, n, "printf '%s\\n' \"$SKY_JOB\"\n")
    for n in names:
        t.assertWait(t.pool, n, 0)
        t.assertEqual(read(os.path.join(t.pool, "results", n, "stdout")), n + "\n")


@case("names")
def job_names_differing_in_case(t):
    """Job and JOB are two jobs with two results."""
    t.submit(t.pool, "Job", "echo upper\n")
    t.submit(t.pool, "job", "echo lower\n")
    t.assertWait(t.pool, "Job", 0)
    t.assertWait(t.pool, "job", 0)
    t.assertEqual(read(os.path.join(t.pool, "results", "Job", "stdout")), "upper\n")
    t.assertEqual(read(os.path.join(t.pool, "results", "job", "stdout")), "lower\n")


@case("meta")
def utimens_says_yes_and_changes_nothing(t):
    """touch on existing files succeeds (so scripts that touch work) and
    changes no time."""
    for p in ("pools/{p}/status", "pools/{p}/spec", "pools/{p}/results/done/stdout"):
        path = t.path(p)
        before = os.stat(path).st_mtime
        os.utime(path, (12345, 12345))
        t.assertEqual(os.stat(path).st_mtime, before, p)


@case("meta")
def nothing_was_renamed_or_linked(t):
    """After the renames and links above: the tree is as it was."""
    t.assertEqual(os.listdir(t.pools), [POOL])
    t.assertEqual(sorted(os.listdir(os.path.join(t.pool, "jobs"))), ["run"])
    t.assertEqual(read(os.path.join(t.pool, "results", "done", "stdout")), "done\n")
    t.assertEqual(sorted(os.listdir(t.pool)), sorted(
        ["spec", "status", "events", "done", "cost", "plan", "timeline.svg", "nodes", "jobs",
         "broadcast", "results"]))


@case("special")
def mknod_regular_is_an_empty_job(t):
    """mknod S_IFREG in jobs/ is touch: an empty job, which succeeds."""
    os.mknod(os.path.join(t.pool, "jobs", "nod"), 0o644 | 0o100000)
    t.assertWait(t.pool, "nod", 0)


@case("special")
def append_twice_concurrently(t):
    """Two O_APPEND opens of one job name: the second is EEXIST, and the
    job runs what the first wrote, once."""
    path = os.path.join(t.pool, "jobs", "app")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, b"echo one\n")
        t.assertEqual(_errno(os.open, path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
                      E.EEXIST)
        os.write(fd, b"echo two\n")
    finally:
        os.close(fd)
    t.assertWait(t.pool, "app", 0)
    t.assertEqual(read(os.path.join(t.pool, "results", "app", "stdout")), "one\ntwo\n")


@case("special")
def append_race_from_threads(t):
    """Eight threads race to O_APPEND the same new job name: exactly one
    wins, the others get EEXIST, and the job is one writer's payload."""
    path = os.path.join(t.pool, "jobs", "race")
    barrier = threading.Barrier(8)
    results = []

    def one(i):
        barrier.wait()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as e:
            results.append(e.errno)
            return
        try:
            os.write(fd, b"echo writer %d\n" % i)
            results.append(0)
        finally:
            os.close(fd)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    t.assertEqual(sorted(results), [0] + [E.EEXIST] * 7)
    t.assertWait(t.pool, "race", 0)
    out = read(os.path.join(t.pool, "results", "race", "stdout"))
    t.assertRegex(out, r"^writer [0-7]\n$")


@case("special")
def binary_payload_fails_clearly(t):
    """Random bytes as a job: /bin/sh refuses them; the job fails with the
    shell's complaint in stderr."""
    rnd = random.Random(7)
    t.submit(t.pool, "noise", bytes(rnd.randrange(256) for _ in range(4096)))
    code = int(t.cat_wait(t.pool, "noise"))
    t.assertNotEqual(code, 0)
    t.assertEqual(job_state(t.pool, "noise"), "failed")
    t.assertTrue(read(os.path.join(t.pool, "results", "noise", "stderr")))


@case("special")
def missing_interpreter_fails_clearly(t):
    """A shebang naming no program: exit 127, the reason in status and stderr."""
    t.submit(t.pool, "interp", "#!/nonexistent/interpreter\n")
    t.assertWait(t.pool, "interp", 127)
    status = read(os.path.join(t.pool, "results", "interp", "status"))
    t.assertIn("error: cannot start the payload: No such file or directory", status)
    t.assertIn("No such file or directory",
               read(os.path.join(t.pool, "results", "interp", "stderr")))


# -- the spec

def _spec_refused(t, data, errno_want, message, pool="bad"):
    """Writes data as a new pool's spec: the write (or close) fails with
    errno_want, the pool is invalid and status and events say message."""
    path = os.path.join(t.pools, pool)
    os.mkdir(path)
    got = _errno(write, os.path.join(path, "spec"), data)
    t.assertEqual(got, errno_want, errno.errorcode.get(got, got))
    t.assertEqual(state(path), "invalid")
    status = read(os.path.join(path, "status"))
    t.assertIn(message, status.splitlines()[1])
    t.assertIn(message, read(os.path.join(path, "events")))
    t.assertEqual(os.listdir(os.path.join(path, "nodes")), [])
    os.rmdir(path)


@case("spec")
def spec_100mb(t):
    """A 100 MB spec: EFBIG, the pool is invalid and says why, and no part
    of it is applied (it provisions nothing)."""
    t0 = time.monotonic()
    _spec_refused(t, b"# a comment line here\n" * (100 * MiB // 22), E.EFBIG,
                  "more than the 1048576 allowed")
    t.assertLess(time.monotonic() - t0, 20)


@case("spec")
def spec_just_over_the_limit(t):
    """1 MiB + 1 byte of valid comments: EFBIG too (at the write)."""
    _spec_refused(t, b"#" * MiB + b"\n", E.EFBIG, "more than the 1048576 allowed")


@case("spec")
def spec_write_at_huge_offset(t):
    """A write at offset 1 TiB: EFBIG, nothing applied."""
    os.mkdir(os.path.join(t.pools, "off"))
    fd = os.open(os.path.join(t.pools, "off", "spec"), os.O_WRONLY)
    try:
        t.assertEqual(_errno(os.pwrite, fd, b"nodes = 1\n", 1 << 40), E.EFBIG)
    finally:
        os.close(fd)
    t.assertEqual(state(os.path.join(t.pools, "off")), "invalid")
    os.rmdir(os.path.join(t.pools, "off"))


@case("spec")
def spec_nul_bytes(t):
    """NUL bytes: EINVAL, naming the line and the byte."""
    _spec_refused(t, b"nodes = 1\nslots\0 = 2\n", E.EINVAL, "line 2: invalid byte 0x00 (NUL)")


@case("spec")
def spec_random_bytes(t):
    """4 KiB of random bytes: EINVAL, an invalid byte named."""
    rnd = random.Random(1)
    data = bytes([0x80 | rnd.randrange(128)]) + bytes(rnd.randrange(256) for _ in range(4095))
    _spec_refused(t, data, E.EINVAL, "line 1: invalid byte 0x")


@case("spec")
def spec_invalid_utf8(t):
    """A Latin-1 value: EINVAL, not UTF-8."""
    _spec_refused(t, b"nodes = 1\nsetup = caf\xe9\n", E.EINVAL,
                  "line 2: invalid byte 0xe9 (not UTF-8)")


@case("spec")
def spec_json_nul_escape(t):
    """JSON that smuggles a NUL as \\u0000: EINVAL."""
    _spec_refused(t, b'{"nodes": 1, "setup": "a\\u0000b"}', E.EINVAL, "invalid JSON")


@case("spec")
def spec_repeated_key(t):
    """A key set twice: EINVAL, both lines named."""
    _spec_refused(t, "nodes = 1\nslots = 2\nnodes = 3\n", E.EINVAL,
                  "line 3: duplicate key \"nodes\" (first on line 1)")


@case("spec")
def spec_unknown_key(t):
    """A typo: EINVAL with a suggestion."""
    _spec_refused(t, "max_outptu = 1G\n", E.EINVAL,
                  "unknown key \"max_outptu\" (did you mean \"max_output\"?)")


@case("spec")
def spec_bad_max_output(t):
    """max_output that is no size: EINVAL saying what is expected."""
    _spec_refused(t, "max_output = lots\n", E.EINVAL,
                  "max_output: invalid size \"lots\" (use e.g. 512M, 1G, 10G or unlimited)")


@case("spec")
def spec_10k_lines(t):
    """10 000 env lines: accepted; a job sees the last one."""
    path = t.make_pool("lines", "".join("env.V%d = value %d\n" % (i, i) for i in range(10000)))
    t.submit(path, "env", "echo \"$V0|$V9999\"\n")
    t.assertWait(path, "env", 0)
    t.assertEqual(read(os.path.join(path, "results", "env", "stdout")),
                  "value 0|value 9999\n")
    os.rmdir(path)


@case("spec")
def spec_huge_env_value(t):
    """A 900 KB env value is a valid spec, but no job can be started with it
    (the kernel's limit on one string): the job fails with exit 127 and the
    reason."""
    path = t.make_pool("hugeenv", "env.BIG = %s\n" % ("x" * (900 * 1000)))
    t.submit(path, "j", "echo never\n")
    t.assertWait(path, "j", 127)
    status = read(os.path.join(path, "results", "j", "status"))
    t.assertIn("Argument list too long", status)
    t.assertEqual(status.split("\n", 1)[0], "failed")
    t.assertIn("Argument list too long", read(os.path.join(path, "results", "j", "stderr")))
    os.rmdir(path)


@case("spec")
def spec_rewrite_of_ready_pool(t):
    """Rewriting a ready pool's spec with more than its live keys: EBUSY;
    an open without a write changes nothing; the spec is unchanged."""
    spec = os.path.join(t.pool, "spec")
    t.assertEqual(_errno(write, spec, SPEC + "setup = true\n"), E.EBUSY)
    os.close(os.open(spec, os.O_RDWR))
    t.assertEqual(read(spec), SPEC)
    t.assertEqual(state(t.pool), "ready")


@case("spec")
def spec_write_after_refusal_keeps_failing(t):
    """Once a write of a spec failed, later writes on that descriptor fail
    the same way (a retried partial write must not see EBUSY), and close
    applies nothing."""
    os.mkdir(os.path.join(t.pools, "sticky"))
    fd = os.open(os.path.join(t.pools, "sticky", "spec"), os.O_WRONLY)
    try:
        t.assertEqual(_errno(os.write, fd, b"nodez = 1\n"), E.EINVAL)
        t.assertEqual(_errno(os.write, fd, b"nodes = 1\n"), E.EINVAL)
    finally:
        os.close(fd)
    t.assertEqual(state(os.path.join(t.pools, "sticky")), "invalid")
    os.rmdir(os.path.join(t.pools, "sticky"))


# -- jobs

@case("jobs")
def job_forks_daemons_and_exits(t):
    """A job that leaves daemons behind (in its group, nohup'd, setsid'd,
    double-forked with closed descriptors) ends with its own exit code at
    once, and every one of them is killed."""
    t.submit(t.pool, "daemons", "#!/bin/sh\n"
             "sleep 8675311 &\n"
             "nohup sleep 8675312 >/dev/null 2>&1 &\n"
             "setsid sleep 8675313 </dev/null >/dev/null 2>&1 &\n"
             "(setsid sh -c 'sleep 8675314 & exec sleep 8675315' </dev/null >/dev/null 2>&1 &)\n"
             "python3 -c 'import os, time\n"
             "if os.fork(): os._exit(0)\n"
             "os.setsid()\n"
             "if os.fork(): os._exit(0)\n"
             "os.closerange(0, 3)\n"
             "time.sleep(8675316)' &\n"
             "# wait until every one of them has detached\n"
             "if command -v pgrep >/dev/null; then\n"
             "  while [ $(pgrep -fc 'sleep.867531[1-6]') -lt 6 ]; do sleep 0.05; done\n"
             "else\n"
             "  sleep 1\n"
             "fi\n"
             "exit 3\n")
    t0 = time.monotonic()
    t.assertWait(t.pool, "daemons", 3, timeout=20)
    t.assertLess(time.monotonic() - t0, 10)
    wait_for(lambda: not processes_with_cmdline("867531"), 5,
             what=lambda: "the job's daemons to be gone: %s" % processes_with_cmdline("867531"))


@case("jobs")
def job_symlink_in_output(t):
    """A job cannot show files outside its result through a symlink it
    leaves in $SKY_OUTPUT: the link is not listed and does not resolve."""
    t.submit(t.pool, "sneaky", "ln -s /etc/passwd \"$SKY_OUTPUT/passwd\"\n"
             "echo ok > \"$SKY_OUTPUT/real\"\n")
    t.assertWait(t.pool, "sneaky", 0)
    files = os.path.join(t.pool, "results", "sneaky", "files")
    t.assertEqual(os.listdir(files), ["real"])
    t.assertEqual(_errno(os.stat, os.path.join(files, "passwd")), E.ENOENT)


@case("jobs")
def job_cancelled_while_uploading(t):
    """rm of a job that is still being written: the upload is dropped or the
    job cancelled, never run half."""
    path = os.path.join(t.pool, "jobs", "half")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"sleep 30\n")
        _errno(os.unlink, path)
        _errno(os.write, fd, b"echo ran > /dev/stderr\n")
    finally:
        os.close(fd)
    res = os.path.join(t.pool, "results", "half")
    if os.path.exists(res):
        t.wait_job_state(t.pool, "half", ("cancelled", "running"), 5)
        _errno(os.unlink, path)
        t.wait_job_state(t.pool, "half", "cancelled", 10)


@case("jobs")
def many_waiters_on_one_job(t):
    """Fifty readers blocked on one job's wait: all get its exit code."""
    t.submit(t.pool, "waited", "sleep 1\nexit 7\n")
    with concurrent.futures.ThreadPoolExecutor(50) as ex:
        codes = list(ex.map(lambda _: t.cat_wait(t.pool, "waited", 20), range(50)))
    t.assertEqual(set(codes), {"7\n"})


# -- heavy rows: a daemon each ------------------------------------------------------

@case(None)
def stderr_5gb(t):
    """A job writing 5 GB to stderr in a pool with max_output = 64M: killed
    at the limit, failed with the reason, 64 MiB kept on disk."""
    pool = t.make_pool("out", "max_output = 64M\n")
    t0 = time.monotonic()
    t.submit(pool, "flood", "head -c 5G /dev/zero >&2\necho survived\n")
    t.assertWait(pool, "flood", 137, timeout=50)
    res = os.path.join(pool, "results", "flood")
    status = read(os.path.join(res, "status"))
    t.assertEqual(status.split("\n", 1)[0], "failed", status)
    t.assertIn("error: stderr exceeded max_output (64 MiB)", status)
    size = os.stat(os.path.join(res, "stderr")).st_size
    # the limit, and the one line that says why
    t.assertEqual(size, 64 * MiB + len("stderr exceeded max_output (64 MiB)\n"))
    with open(os.path.join(res, "stderr"), "rb") as f:
        f.seek(64 * MiB)
        t.assertEqual(f.read(), b"stderr exceeded max_output (64 MiB)\n")
    t.assertEqual(read(os.path.join(res, "stdout")), "")
    t.assertLess(time.monotonic() - t0, 30)
    t.assertAlive(pool)


@case(None, tmpfs=False)
def stdout_default_limit(t):
    """The default max_output is 1 GiB: yes(1) forever is stopped there."""
    pool = t.make_pool("dflt", "nodes = 1\n")
    t0 = time.monotonic()
    t.submit(pool, "yes", "exec yes\n")
    t.assertWait(pool, "yes", 137, timeout=50)
    res = os.path.join(pool, "results", "yes")
    t.assertIn("error: stdout exceeded max_output (1 GiB)", read(os.path.join(res, "status")))
    t.assertEqual(os.stat(os.path.join(res, "stdout")).st_size, GiB)
    t.assertLess(time.monotonic() - t0, 40)
    t.assertAlive(pool)


@case(None)
def queued_10k(t):
    """10 000 jobs queued behind a sleeping one (slots = 1): listing shows
    them all, all are queued, and rmdir takes the pool down in bounded time."""
    pool = t.make_pool("flood", "slots = 1\n")
    t.submit(pool, "first", "sleep 8675301\n")   # a marker no other test runs
    t.wait_job_state(pool, "first", "running", 10)
    names = ["q%05d" % i for i in range(10000)]

    def sub(chunk):
        for n in chunk:
            fd = os.open(os.path.join(pool, "jobs", n), os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, b"true\n")
            os.close(fd)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        list(ex.map(sub, [names[i::16] for i in range(16)]))
    submit_s = time.monotonic() - t0
    listed = os.listdir(os.path.join(pool, "jobs"))
    t.assertEqual(len(listed), 10001)
    t.assertEqual(set(listed), set(names) | {"first"})
    t.assertEqual(len(os.listdir(os.path.join(pool, "results"))), 10001)
    st = kv_lines(read(os.path.join(pool, "status")))
    t.assertEqual((st["jobs_queued"], st["jobs_running"]), ("10000", "1"))
    t.assertEqual(job_state(pool, "q09999"), "queued")
    # the daemon answers while it holds them
    t.assertAlive(t.make_pool("other", "nodes = 1\n"))
    t0 = time.monotonic()
    os.rmdir(pool)
    rmdir_s = time.monotonic() - t0
    t.assertLess(rmdir_s, 30, "rmdir took %.1fs (submission %.1fs)" % (rmdir_s, submit_s))
    t.assertNotIn("flood", os.listdir(t.pools))
    t.assertFalse(processes_with_cmdline("sleep 8675301"))


@case(None)
def mkdir_rmdir_storm(t):
    """Eight threads mkdir and rmdir the same few pool names (some with a
    spec) as fast as they can: every answer is success, EEXIST, ENOENT or
    EBUSY (and ESTALE for a path walked through a pool that was removed
    under it: libfuse's answer for a parent that is gone), and afterwards
    every listed pool is whole."""
    names = ["s%d" % i for i in range(6)]
    allowed = {None, E.EEXIST, E.ENOENT, E.EBUSY}
    bad = []
    deadline = time.monotonic() + 8

    def storm(seed):
        rnd = random.Random(seed)
        n = 0
        while time.monotonic() < deadline:
            p = os.path.join(t.pools, rnd.choice(names))
            op = rnd.random()
            if op < 0.45:
                got = _errno(os.mkdir, p)
            elif op < 0.6:
                got = _errno(write, os.path.join(p, "spec"), "nodes = 1\n")
                if got in (E.EBUSY, E.ENOENT, E.EACCES, E.ESTALE):
                    got = None   # a pool provisioning, gone, or going
            elif op < 0.7:
                got = _errno(read, os.path.join(p, "status"))
                if got in (E.ENOENT, E.ESTALE):
                    got = None
            else:
                got = _errno(os.rmdir, p)
            if got not in allowed:
                bad.append((os.path.basename(p), op, errno.errorcode.get(got, got)))
            n += 1
        return n
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        ops = sum(ex.map(storm, range(8)))
    t.assertEqual(bad, [])
    t.assertGreater(ops, 100)
    for n in os.listdir(t.pools):
        p = os.path.join(t.pools, n)
        t.assertIn(state(p), ("empty", "ready", "provisioning", "invalid"), n)
        t.assertEqual(sorted(os.listdir(p)), sorted(
            ["spec", "status", "events", "done", "cost", "plan", "timeline.svg", "nodes",
             "jobs", "broadcast", "results"]))
    for n in os.listdir(t.pools):
        os.rmdir(os.path.join(t.pools, n))
    t.assertEqual(os.listdir(t.pools), [])
    t.assertAlive(t.make_pool("after", "nodes = 1\n"))


@case(None)
def job_helper_killed(t):
    """kill -9 of the process that supervises local jobs: the jobs it ran
    fail saying so (and are killed), and the next job starts a new one."""
    pool = t.make_pool("hk", "slots = 2\n")
    t.submit(pool, "victim", "sleep 8675320\n")
    t.wait_job_state(pool, "victim", "running", 10)

    def ours():
        return [p for p in processes_with_cmdline("skyfs-job-helper")
                if _ppid(p) == t.daemon.pid]
    # /proc read under load (other test processes come and go) may miss it once
    wait_for(lambda: len(ours()) == 1, 5, what=lambda: "one helper of ours, not %s" % ours())
    helpers = ours()
    os.kill(helpers[0], signal.SIGKILL)
    t.wait_job_state(pool, "victim", "failed", 10)
    t.assertIn("error: the job's supervisor process died",
               read(os.path.join(pool, "results", "victim", "status")))
    wait_for(lambda: not processes_with_cmdline("sleep 8675320"), 5, what="the job killed")
    t.assertAlive(pool)


def _ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


@case(None)
def ssh_stderr_flood(t):
    """Over SSH the limit holds where the channel's bytes are written: 1 GB
    to stderr on the node, max_output = 8M: killed on the node, failed with
    the reason, 8 MiB kept."""
    if not have_sshd():
        raise unittest.SkipTest("sshd is not installed")
    nodes_dir = tempfile.mkdtemp(prefix="skyfs-sshn-")
    nodes = SshNodes(1, nodes_dir)
    nodes.__enter__()
    try:
        pool = t.make_pool("ssh", "provider = ssh\nhosts = %s\nidentity = %s\nknown_hosts = %s\n"
                           "max_output = 8M\n" % (nodes.hosts_spec(), nodes.identity,
                                                  nodes.known_hosts), timeout=30)
        t.submit(pool, "flood", "head -c 1000000000 /dev/zero >&2\necho survived\n")
        t.assertWait(pool, "flood", 127, timeout=40)
        res = os.path.join(pool, "results", "flood")
        t.assertIn("error: stderr exceeded max_output (8 MiB)",
                   read(os.path.join(res, "status")))
        t.assertEqual(os.stat(os.path.join(res, "stderr")).st_size,
                      8 * MiB + len("stderr exceeded max_output (8 MiB)\n"))
        t.assertEqual(read(os.path.join(res, "stdout")), "")
        t.assertAlive(pool, timeout=30)
        os.rmdir(pool)
    finally:
        nodes.__exit__(None, None, None)
        shutil.rmtree(nodes_dir, ignore_errors=True)


# ---- the test class -------------------------------------------------------------

def _tmpfs_dir(need):
    """/dev/shm when it has room for need bytes (state on tmpfs keeps the
    floods fast on slow disks), else None (the default temporary dir)."""
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return None
    return "/dev/shm" if st.f_bavail * st.f_frsize > need and os.access("/dev/shm", os.W_OK) \
        else None


class Hostile(SkyfsTestCase):
    """The table's rows, grouped into test methods (generated below)."""

    autostart = False
    _seq = itertools.count()

    def start_for(self, rows):
        # the daemon's state on tmpfs when there is room (10k results,
        # 64 MiB outputs), except for rows that write a gigabyte
        tmpfs = all(r.tmpfs for r in rows) and _tmpfs_dir(2 * GiB)
        saved = tempfile.tempdir
        try:
            if tmpfs:
                tempfile.tempdir = tmpfs
            super().setUp()
        finally:
            tempfile.tempdir = saved
        self.daemon = self.start_daemon()
        self.outside = os.path.join(self.tmp, "outside")
        write(self.outside, "echo from outside\n")

    def setUp(self):
        pass   # each generated test starts its own daemon (start_for)

    def path(self, rel):
        if isinstance(rel, bytes):
            return os.path.join(self.mnt.encode(), rel.replace(b"{p}", POOL.encode()))
        if rel == "@outside":
            return self.outside
        if rel == "@outside2":
            return os.path.join(self.tmp, "outside2")
        return os.path.join(self.mnt, rel.replace("{p}", POOL)) if rel else self.mnt

    def fixtures(self):
        """The ready pool, a finished job "done" (with a file) and a running
        one "run"."""
        self.pool = self.make_pool(POOL, SPEC)
        self.submit(self.pool, "done", "echo done\necho out > \"$SKY_OUTPUT/out.txt\"\n")
        self.assertWait(self.pool, "done", 0)
        self.submit(self.pool, "run", "sleep 300\n")
        self.wait_job_state(self.pool, "run", "running", 10)

    def assertAlive(self, pool=None, timeout=15):
        """The daemon still answers: it runs, the pool's status reads, and a
        fresh trivial job succeeds."""
        pool = pool or self.pool
        self.assertTrue(self.daemon.running(), "the daemon died")
        self.assertIn(state(pool), ("ready", "degraded"))
        name = "alive-%d" % next(self._seq)
        self.submit(pool, name, "echo alive\n")
        self.assertWait(pool, name, 0, timeout=timeout)
        self.assertEqual(read(os.path.join(pool, "results", name, "stdout")), "alive\n")

    def run_rows(self, rows):
        """Every row, then the daemon's liveness; the rows that failed are
        reported together (the runner shows no subtests)."""
        self.start_for(rows)
        self.fixtures()
        failed = []
        for row in rows:
            try:
                row.fn(self)
            except (AssertionError, OSError) as e:
                failed.append("%s (%s):\n    %s" % (row.name, row.doc.splitlines()[0]
                                                   if row.doc else "", str(e).strip()
                                                   .replace("\n", "\n    ")))
        self.assertAlive()
        os.unlink(os.path.join(self.pool, "jobs", "run"))
        self.wait_job_state(self.pool, "run", "cancelled", 10)
        if failed:
            self.fail("%d of %d rows failed:\n%s" % (len(failed), len(rows),
                                                     "\n".join(failed)))

    def run_heavy(self, row):
        """The row on a daemon of its own, then the daemon's liveness on a
        fresh pool."""
        self.start_for([row])
        row.fn(self)
        self.assertAlive(self.make_pool("alive-after", "nodes = 1\n"))


def _install():
    """Generates the test methods: one per group of light rows, one per
    heavy row."""
    groups = {}
    for row in CASES:
        if row.group:
            groups.setdefault(row.group, []).append(row)
        else:
            setattr(Hostile, "test_heavy_" + row.name,
                    (lambda r: lambda self: self.run_heavy(r))(row))
    for g, rows in groups.items():
        setattr(Hostile, "test_" + g, (lambda rs: lambda self: self.run_rows(rs))(rows))


_install()
