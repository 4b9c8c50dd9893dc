#!/usr/bin/env bash
# Dispatch benchmark (issue 2): on a local pool (nodes=2, slots=2) submit N
# trivial jobs (`true`) through the mount and wait for all of them; report
# jobs/s, and the latency from the close of jobs/<name> to the end of a read
# of results/<name>/wait (p50, p99, one job at a time so queueing does not
# count). Baseline in the same run: the same N jobs with xargs -P 4 -n 1 sh.
# Also reports the daemon's peak RSS (VmHWM).
#   scripts/bench-dispatch.sh [N]     (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
scripts/deps.sh
scripts/build.sh build

. scripts/lib.sh
skyfs_start bench
mkdir -p "$work/jobs"

# baseline: the same jobs as files, run by xargs with 4 at a time
for i in $(seq "$N"); do echo true > "$work/jobs/j$i"; done
t0=$(date +%s.%N)
ls "$work/jobs" | sed "s|^|$work/jobs/|" | xargs -P 4 -n 1 sh
t1=$(date +%s.%N)
base=$(echo "$t0 $t1" | awk -v n="$N" '{ printf "%.1f", n / ($2 - $1) }')

P=$mnt/pools/bench
mkdir "$P"
printf 'nodes = 2\nslots = 2\n' > "$P/spec"
skyfs_wait_ready "$P"

python3 - "$P" "$N" "$base" "$pid" <<'PY'
import os, sys, time, statistics
pool, n, base, daemon = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]

def submit(name):
    with open(f"{pool}/jobs/{name}", "w") as f:
        f.write("true\n")

def wait(name):
    with open(f"{pool}/results/{name}/wait") as f:
        return f.read().strip()

# throughput: submit everything, then wait for everything
t0 = time.perf_counter()
for i in range(n):
    submit(f"t{i}")
bad = [i for i in range(n) if wait(f"t{i}") != "0"]
t1 = time.perf_counter()
if bad:
    sys.exit(f"{len(bad)} jobs failed")
tput = n / (t1 - t0)

# the floor for the latency: the same job spawned directly (posix_spawn
# of sh, then waitpid), measured here in the same run
floor = []
script = os.path.join(os.path.dirname(pool), "..", "..", "floor.sh")
with open(script, "w") as f:
    f.write("true\n")
for i in range(n // 4):
    t = time.perf_counter()
    child = os.posix_spawn("/bin/sh", ["sh", script], {"PATH": "/usr/bin:/bin"})
    os.waitpid(child, 0)
    floor.append((time.perf_counter() - t) * 1000)
floor.sort()

# latency: one job at a time, close -> end of wait; and open -> close
lat = []
sub_lat = []
for i in range(n):
    name = f"l{i}"
    t0 = time.perf_counter()
    with open(f"{pool}/jobs/{name}", "w") as f:
        f.write("true\n")
    # the clock starts at close
    t = time.perf_counter()
    sub_lat.append((t - t0) * 1000)
    if wait(name) != "0":
        sys.exit(f"job {name} failed")
    lat.append((time.perf_counter() - t) * 1000)
lat.sort()
sub_lat.sort()
def pct(l, q):
    return l[min(len(l) - 1, int(len(l) * q))]
p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
rss = 0
with open(f"/proc/{daemon}/status") as f:
    for line in f:
        if line.startswith("VmHWM:"):
            rss = int(line.split()[1]) / 1024

print()
print(f"dispatch benchmark, N={n} trivial jobs, local pool nodes=2 slots=2")
print(f"{'':34} {'skyfs':>10} {'baseline':>10} {'ratio':>7}")
print(f"{'throughput (jobs/s), xargs -P4':34} {tput:10.1f} {base:10.1f} {tput / base:7.2f}")
print(f"{'latency close->wait p50 (ms)':34} {p50:10.2f} {pct(floor, 0.5):10.2f} {p50 / pct(floor, 0.5):7.2f}")
print(f"{'latency close->wait p99 (ms)':34} {p99:10.2f} {pct(floor, 0.99):10.2f} {p99 / pct(floor, 0.99):7.2f}")
print(f"{'submit open->close p50 (ms)':34} {pct(sub_lat, 0.5):10.2f}")
print(f"{'daemon peak RSS (MiB)':34} {rss:10.1f}")
print("(latency baseline: posix_spawn of the same script + waitpid, no skyfs)")
print()
print(f"goals: throughput >= 50% of baseline: {'yes' if tput >= 0.5 * base else 'NO'}; "
      f"p50 < 5 ms: {'yes' if p50 < 5 else 'NO'}")
PY
rmdir "$P"
skyfs_stop
