#!/usr/bin/env bash
# Live resize benchmark: a ready pool whose spec is rewritten with a new
# `nodes` count, for `provider = local` (job processes on this machine) and
# `provider = container` (every node a podman container reached over SSH, as
# in bench-container.sh), slots = 2, on one mount, in the same run. Per
# provider and round:
#  - grow: a ready 1-node pool gets `nodes = N` (the other keys unchanged);
#    the time from the write (open to close included) until the first line
#    of status reads `ready` and `nodes_ready: N` (polled every 5 ms).
#    Baseline: a fresh N-node pool, spec write -> ready, measured the same way;
#  - shrink: the same pool, N idle nodes, gets `nodes = 1`; the time from the
#    write until nodes/ lists only node-0 (every removed node drained and
#    terminated). Baseline: the time rmdir takes on a fresh (N-1)-node pool
#    (it returns once every node is gone);
#  - jobs during a grow: a ready 1-node pool, slots x N threads each
#    submitting a trivial job (`true`) and reading its wait, over and over,
#    while the pool grows to N; how many jobs ended (exit 0 asserted) between
#    the write and ready, and on how many distinct nodes they ran. The grow
#    time under that load is reported too.
# ROUNDS rounds, local and container alternating; each figure is the median
# over the rounds (the per-round values follow the table).
#   scripts/bench-resize.sh [-n NODES] [-r ROUNDS] [-p PROVIDERS]
#     (default 4 nodes, 3 rounds, providers "local container")
# The container rows are skipped, with a message, when podman cannot run a
# container here. podman's configuration: $CONTAINERS_CONF when set, else one
# written here (as in bench-container.sh). Every container this mount made is
# removed at exit, whatever happened. BENCH_RESIZE_TIMEOUT (s, default 300)
# bounds every wait. SKYFS_KEEP=1 keeps the scratch directory (daemon log:
# $work/skyfs.log). SKYFS_BUILD (default build) is the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=4
ROUNDS=3
SLOTS=2
PROVIDERS="local container"
usage() { echo "usage: $0 [-n NODES] [-r ROUNDS] [-p 'local container']" >&2; exit 2; }
while getopts n:r:p:h opt; do
	case $opt in
	n) NODES=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	p) PROVIDERS=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
[[ $NODES =~ ^[1-9][0-9]*$ ]] || usage
[ "$NODES" -ge 2 ] || usage
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || usage
for p in $PROVIDERS; do
	case $p in local | container) ;; *) usage ;; esac
done
[ -n "${PROVIDERS// /}" ] || usage
TIMEOUT=${BENCH_RESIZE_TIMEOUT:-300}
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_RESIZE_TIMEOUT: a number of seconds" >&2; exit 2; }
export SKYFS_BUILD=${SKYFS_BUILD:-build}
scripts/deps.sh
scripts/build.sh "$SKYFS_BUILD"
. scripts/lib.sh

mount_id=
providers=
for p in $PROVIDERS; do
	if [ "$p" = container ] && ! podman_conf bench-resize; then
		echo "skipping provider = container" >&2
		continue
	fi
	providers="$providers $p"
done
[ -n "$providers" ] || { echo "no provider to measure" >&2; exit 1; }

skyfs_start bench-resize || { podman_conf_done; exit 1; }
mount_id=$(skyfs_mount_id)
trap 'skyfs_cleanup_containers "$mount_id"' EXIT

# shellcheck disable=SC2086
python3 - "$mnt/pools" "$NODES" "$ROUNDS" "$SLOTS" "$TIMEOUT" $providers <<'PY'
import os, statistics, sys, threading, time

pools = sys.argv[1]
nodes, rounds, slots, timeout = map(int, sys.argv[2:6])
PROVIDERS = sys.argv[6:]

def read(path):
    with open(path) as f:
        return f.read()

def write_spec(pool, provider, n):
    with open(f"{pool}/spec", "w") as f:
        f.write(f"provider = {provider}\nnodes = {n}\nslots = {slots}\n")

def until(pool, done, what):
    """Polls every 5 ms until done(status text) holds; fails the run on a
    failed pool or past the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        s = read(f"{pool}/status")
        first = s.split("\n", 1)[0].strip()
        if done(s, first):
            return
        if first in ("failed", "invalid", "degraded") or time.monotonic() > deadline:
            sys.exit(f"{pool}: {what} not reached ({first}):\n{s}")
        time.sleep(0.005)

def ready_with(n):
    return lambda s, first: first == "ready" and f"\nnodes_ready: {n}\n" in s

def fresh(pool, provider, n):
    """mkdir, spec write, ready with n nodes: seconds from the write's open."""
    os.mkdir(pool)
    t0 = time.perf_counter()
    write_spec(pool, provider, n)
    until(pool, ready_with(n), f"ready with {n} node(s)")
    return time.perf_counter() - t0

def grow(pool, provider):
    t0 = time.perf_counter()
    write_spec(pool, provider, nodes)
    until(pool, ready_with(nodes), f"ready with {nodes} nodes")
    return time.perf_counter() - t0

def shrink(pool, provider):
    t0 = time.perf_counter()
    write_spec(pool, provider, 1)
    deadline = time.monotonic() + timeout
    while sorted(os.listdir(f"{pool}/nodes")) != ["node-0"]:
        if time.monotonic() > deadline:
            sys.exit(f"{pool}: nodes/ still lists {sorted(os.listdir(pool + '/nodes'))}:\n"
                     + read(f"{pool}/status"))
        time.sleep(0.005)
    t = time.perf_counter() - t0
    first = read(f"{pool}/status").split("\n", 1)[0].strip()
    if first != "ready":
        sys.exit(f"{pool}: {first} after the shrink:\n" + read(f"{pool}/status"))
    return t

def rmdir(pool):
    t0 = time.perf_counter()
    os.rmdir(pool)
    return time.perf_counter() - t0

def grow_with_jobs(pool, provider):
    """Grows 1 -> nodes while slots * nodes threads submit and wait for
    trivial jobs. Returns (grow seconds, jobs ended in the window, distinct
    nodes those ran on, jobs ended in all)."""
    stop = threading.Event()
    ended = []              # (perf_counter at the end of wait, job name)
    errors = []
    lock = threading.Lock()
    def submitter(k):
        i = 0
        try:
            while not stop.is_set():
                name = f"t{k}-{i}"
                i += 1
                with open(f"{pool}/jobs/{name}", "w") as f:
                    f.write("true\n")
                rc = read(f"{pool}/results/{name}/wait").strip()
                t = time.perf_counter()
                with lock:
                    if rc != "0":
                        errors.append(f"{name}: exit {rc}")
                    ended.append((t, name))
        except OSError as e:
            errors.append(f"submitter {k}: {e}")
    threads = [threading.Thread(target=submitter, args=(k,), daemon=True)
               for k in range(slots * nodes)]
    for th in threads:
        th.start()
    time.sleep(0.5)         # the 1-node pool busy before the write
    try:
        t0 = time.perf_counter()
        write_spec(pool, provider, nodes)
        until(pool, ready_with(nodes), f"ready with {nodes} nodes under load")
        t1 = time.perf_counter()
    finally:
        stop.set()
        deadline = time.monotonic() + timeout
        for th in threads:
            th.join(max(0.1, deadline - time.monotonic()))
    if any(th.is_alive() for th in threads):
        sys.exit(f"{pool}: job submitters still waiting after {timeout} s")
    if errors:
        sys.exit(f"{pool}: {len(errors)} job(s) failed, e.g. {errors[:5]}")
    window = [name for t, name in ended if t0 <= t <= t1]
    on = set()
    for name in window:
        for line in read(f"{pool}/results/{name}/status").splitlines():
            if line.startswith("node: "):
                on.add(line[6:].strip())
    return t1 - t0, len(window), len(on), len(ended)

KEYS = ("grow", "fresh", "shrink", "rmdir", "grow_jobs", "jobs", "jobs_nodes")
res = {p: {k: [] for k in KEYS} for p in PROVIDERS}
for r in range(rounds):
    for provider in PROVIDERS:
        v = res[provider]
        # grow 1 -> N, then shrink N -> 1, on one pool
        pool = f"{pools}/{provider}-grow{r}"
        fresh(pool, provider, 1)
        v["grow"].append(grow(pool, provider))
        v["shrink"].append(shrink(pool, provider))
        rmdir(pool)
        # baselines: a fresh N-node pool; rmdir of a fresh (N-1)-node pool
        pool = f"{pools}/{provider}-fresh{r}"
        v["fresh"].append(fresh(pool, provider, nodes))
        rmdir(pool)
        pool = f"{pools}/{provider}-rm{r}"
        fresh(pool, provider, nodes - 1)
        v["rmdir"].append(rmdir(pool))
        # jobs while growing
        pool = f"{pools}/{provider}-jobs{r}"
        fresh(pool, provider, 1)
        t, n, on, total = grow_with_jobs(pool, provider)
        v["grow_jobs"].append(t)
        v["jobs"].append(n)
        v["jobs_nodes"].append(on)
        rmdir(pool)
        print(f"round {r + 1}/{rounds} {provider}: done ({total} jobs during the last test)",
              file=sys.stderr, flush=True)

med = {p: {k: statistics.median(v) for k, v in res[p].items()} for p in PROVIDERS}
print()
print(f"resize benchmark: 1 <-> {nodes} nodes, slots = {slots}, median of {rounds} round(s)")
print(f"{'':36} {'seconds':>9} {'ratio':>7}")
for p in PROVIDERS:
    m = med[p]
    print(f"{p + ' grow 1->' + str(nodes):36} {m['grow']:9.3f} {m['grow'] / m['fresh']:6.2f}x")
    print(f"{p + ' fresh ' + str(nodes) + ' (baseline)':36} {m['fresh']:9.3f}")
for p in PROVIDERS:
    m = med[p]
    print(f"{p + ' shrink ' + str(nodes) + '->1':36} {m['shrink']:9.3f} "
          f"{m['shrink'] / m['rmdir']:6.2f}x")
    print(f"{p + ' rmdir ' + str(nodes - 1) + ' (baseline)':36} {m['rmdir']:9.3f}")
for p in PROVIDERS:
    m = med[p]
    print(f"{p + ' grow 1->' + str(nodes) + ' with jobs':36} {m['grow_jobs']:9.3f} "
          f"{m['grow_jobs'] / m['fresh']:6.2f}x  {m['jobs']:.0f} jobs ended in the window, "
          f"on {m['jobs_nodes']:.0f} node(s)")
if "container" in med and "local" in med:
    c, l = med["container"], med["local"]
    print(f"{'container / local: grow, fresh':36} {c['grow'] / l['grow']:8.1f}x "
          f"{c['fresh'] / l['fresh']:6.1f}x")
    print(f"{'container / local: shrink, rmdir':36} {c['shrink'] / l['shrink']:8.1f}x "
          f"{c['rmdir'] / l['rmdir']:6.1f}x")
print("(ratio: grow / fresh, shrink / rmdir)")
print()
print("per round:")
for p in PROVIDERS:
    v = res[p]
    fmt = lambda k: " ".join(f"{x:.3f}" for x in v[k])
    print(f"  {p:10} grow {fmt('grow')}  fresh {fmt('fresh')}")
    print(f"  {'':10} shrink {fmt('shrink')}  rmdir {fmt('rmdir')}")
    print(f"  {'':10} grow with jobs {fmt('grow_jobs')}  jobs "
          + " ".join(str(x) for x in v["jobs"]) + "  on nodes "
          + " ".join(str(x) for x in v["jobs_nodes"]))
PY
skyfs_stop
