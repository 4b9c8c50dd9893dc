#!/usr/bin/env bash
# Container benchmark: a 4-node pool with `provider = container` (every node
# a podman container on this machine: this machine's root filesystem under
# an overlay, sshd published on 127.0.0.1, reached over SSH) against a
# 4-node `provider = local` pool (job processes on this machine), both with
# slots = 2, on one mount, in the same run. Per pool:
#  - spec -> ready: mkdir, then the time from the write of the spec (open to
#    close) until the first line of status reads `ready` (polled every 5 ms);
#  - dispatch: N trivial jobs (`true`) written into jobs/ one after the other,
#    then every results/<name>/wait read (exit 0 asserted); jobs/s from the
#    first write to the last wait;
#  - rmdir: the time rmdir takes (it returns once every node is gone).
# ROUNDS rounds, local and container pools alternating; each figure is the
# median over the rounds (the per-round values follow the table). The last
# row is the ratio container / local.
#   scripts/bench-container.sh [-n N] [-r ROUNDS]     (default 200 jobs, 3 rounds)
# podman's configuration: $CONTAINERS_CONF when set, else one written here
# (runc, ulimits the machine allows, no default network namespace: what the
# tests use; see tests/integration/test_container.py). Every container this
# mount made is removed at exit, whatever happened. BENCH_CONTAINER_TIMEOUT
# (s, default 300) bounds every wait. SKYFS_KEEP=1 keeps the scratch
# directory (daemon log: $work/skyfs.log).
set -euo pipefail
cd "$(dirname "$0")/.."
N=200
ROUNDS=3
NODES=4
SLOTS=2
usage() { echo "usage: $0 [-n N] [-r ROUNDS]" >&2; exit 2; }
while getopts n:r:h opt; do
	case $opt in
	n) N=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
[[ $N =~ ^[1-9][0-9]*$ ]] || usage
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || usage
TIMEOUT=${BENCH_CONTAINER_TIMEOUT:-300}
scripts/deps.sh
scripts/build.sh build
. scripts/lib.sh

podman_conf bench-container || exit 1
skyfs_start bench-container
mount_id=$(skyfs_mount_id)
trap 'skyfs_cleanup_containers "$mount_id"' EXIT

python3 - "$mnt/pools" "$N" "$ROUNDS" "$NODES" "$SLOTS" "$TIMEOUT" <<'PY'
import os, statistics, sys, time

pools, n, rounds, nodes, slots, timeout = sys.argv[1], *map(int, sys.argv[2:])
PROVIDERS = ("local", "container")

def first_line(path):
    with open(path) as f:
        return f.readline().strip()

def ready(pool, provider):
    """Seconds from the spec's open to status `ready`."""
    spec = f"provider = {provider}\nnodes = {nodes}\nslots = {slots}\n"
    t0 = time.perf_counter()
    with open(f"{pool}/spec", "w") as f:
        f.write(spec)
    deadline = time.monotonic() + timeout
    while True:
        s = first_line(f"{pool}/status")
        if s == "ready":
            return time.perf_counter() - t0
        if s in ("failed", "invalid", "degraded") or time.monotonic() > deadline:
            with open(f"{pool}/status") as f:
                sys.exit(f"{pool}: not ready ({s}):\n{f.read()}")
        time.sleep(0.005)

def dispatch(pool):
    """jobs/s for n trivial jobs: all written, then all waited for."""
    t0 = time.perf_counter()
    for i in range(n):
        with open(f"{pool}/jobs/t{i}", "w") as f:
            f.write("true\n")
    bad = []
    for i in range(n):
        with open(f"{pool}/results/t{i}/wait") as f:
            if f.read().strip() != "0":
                bad.append(f"t{i}")
    t = time.perf_counter() - t0
    if bad:
        sys.exit(f"{pool}: {len(bad)} jobs failed, e.g. {bad[:5]}")
    return n / t

def rmdir(pool):
    t0 = time.perf_counter()
    os.rmdir(pool)
    return time.perf_counter() - t0

res = {p: {"ready": [], "tput": [], "rmdir": []} for p in PROVIDERS}
for r in range(rounds):
    for provider in PROVIDERS:
        pool = f"{pools}/{provider}{r}"
        os.mkdir(pool)
        res[provider]["ready"].append(ready(pool, provider))
        res[provider]["tput"].append(dispatch(pool))
        res[provider]["rmdir"].append(rmdir(pool))
        print(f"round {r + 1}/{rounds} {provider}: done", file=sys.stderr, flush=True)

med = {p: {k: statistics.median(v) for k, v in res[p].items()} for p in PROVIDERS}
loc, ct = med["local"], med["container"]
print()
print(f"container benchmark: {nodes}-node pools, slots = {slots}, N = {n} trivial jobs, "
      f"median of {rounds} round(s)")
print(f"{'':22} {'spec->ready (s)':>16} {'dispatch (jobs/s)':>18} {'rmdir (s)':>10}")
for p in PROVIDERS:
    print(f"{p:22} {med[p]['ready']:16.3f} {med[p]['tput']:18.1f} {med[p]['rmdir']:10.3f}")
print(f"{'container / local':22} {ct['ready'] / loc['ready']:15.1f}x "
      f"{ct['tput'] / loc['tput']:17.2f}x {ct['rmdir'] / loc['rmdir']:9.1f}x")
print()
print("per round:")
for p in PROVIDERS:
    print(f"  {p:10} ready " + " ".join(f"{v:.3f}" for v in res[p]["ready"]) +
          "  jobs/s " + " ".join(f"{v:.1f}" for v in res[p]["tput"]) +
          "  rmdir " + " ".join(f"{v:.3f}" for v in res[p]["rmdir"]))
PY
skyfs_stop
