#!/usr/bin/env bash
# Load benchmark (issue 7): POOLS local pools (nodes=1, slots=2) with JOBS
# trivial jobs each (`echo $SKY_JOB`), all at once, repeated ROUNDS times on
# one mount. Each round: mkdir every pool and write its spec, wait until all
# are ready, submit every pool's jobs concurrently (a thread per pool), wait
# for every job (read results/NAME/wait; exit 0 and stdout == NAME asserted),
# rmdir every pool. The daemon's VmRSS/VmHWM, thread count and open fds are
# sampled every 0.2 s. Reports per round: time to all ready, time for all
# jobs, round time, jobs/s, peak RSS, peak threads, fds before/after/peak.
# Goals: RSS under 100 MB, no fd growth across rounds, every job succeeded.
# Baseline in the same run: the same POOLS*JOBS jobs as plain sh processes,
# xargs -P min(POOLS*2, 64).
#   scripts/bench-load.sh [POOLS] [JOBS] [ROUNDS]   (default 100 100 2)
# BENCH_LOAD_TIMEOUT (s, default 900) bounds a round; on expiry the pools
# and jobs still pending are printed and the benchmark fails.
# SKYFS_KEEP=1 keeps the scratch directory (daemon log: $work/skyfs.log).
set -euo pipefail
cd "$(dirname "$0")/.."
POOLS=${1:-100}
JOBS=${2:-100}
ROUNDS=${3:-2}
SLOTS=2
scripts/deps.sh
scripts/build.sh build

. scripts/lib.sh
skyfs_start load

# baseline: the same job script, run once per job name with SKY_JOB set and
# stdout to a file (one sh process per job, as the local provider spawns
# one), by xargs with as many at a time as the pools' slots (capped at 64)
par=$((POOLS * SLOTS))
[ "$par" -gt 64 ] && par=64
total=$((POOLS * JOBS))
mkdir -p "$work/base"
echo 'echo $SKY_JOB' > "$work/job.sh"
t0=$(date +%s.%N)
seq -f 'b%.0f' "$total" |
	xargs -P "$par" -n 1 sh -c 'SKY_JOB=$1; export SKY_JOB; . "$0" > "${0%/*}/base/$1"' \
		"$work/job.sh"
t1=$(date +%s.%N)
base_s=$(echo "$t0 $t1" | awk '{ printf "%.3f", $2 - $1 }')

rc=0
python3 - "$mnt/pools" "$POOLS" "$JOBS" "$ROUNDS" "$SLOTS" "$pid" \
	"$base_s" "$par" "$work/base" "${BENCH_LOAD_TIMEOUT:-900}" <<'PY' || rc=$?
import os, sys, time, threading

(pools_dir, npools, njobs, rounds, slots, daemon, base_s, par, base_dir,
 round_timeout) = sys.argv[1:]
npools, njobs, rounds, slots = int(npools), int(njobs), int(rounds), int(slots)
base_s, par, round_timeout = float(base_s), int(par), float(round_timeout)
total = npools * njobs
MB = 1e6

def fd_limit_of():
    with open(f"/proc/{daemon}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return line.split()[3]
    return "?"
fd_limit = fd_limit_of()

def fds():
    return len(os.listdir(f"/proc/{daemon}/fd"))

def proc_status():
    out = {}
    with open(f"/proc/{daemon}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                out[k] = int(v.split()[0])
    return out

class Sampler(threading.Thread):
    """Peaks of RSS, VmHWM, threads and fds every 0.2 s until stopped."""
    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.rss = self.hwm = self.threads = self.fds = 0
        self.sample()
    def sample(self):
        try:
            s = proc_status()
            n = fds()
        except OSError:
            return
        self.rss = max(self.rss, s.get("VmRSS", 0) * 1024)
        self.hwm = max(self.hwm, s.get("VmHWM", 0) * 1024)
        self.threads = max(self.threads, s.get("Threads", 0))
        self.fds = max(self.fds, n)
    def run(self):
        while not self.stop.wait(0.2):
            self.sample()
    def finish(self):
        self.stop.set()
        self.join()
        self.sample()

def first_line(path):
    try:
        with open(path) as f:
            return f.readline().strip()
    except OSError as e:
        return f"<{e.strerror}>"

# the baseline's outputs must be right too
bad = 0
for i in range(1, total + 1):
    with open(f"{base_dir}/b{i}") as f:
        bad += f.read() != f"b{i}\n"
if bad:
    sys.exit(f"baseline: {bad} jobs printed the wrong thing")
base_rate = total / base_s

spec = f"provider = local\nnodes = 1\nslots = {slots}\n"
rows = []
failures_all = 0
fds_start = fds()
peak_hwm = 0

def run_in_threads(fn, items):
    """fn(item) in one thread per item; returns the threads (started)."""
    ts = [threading.Thread(target=fn, args=(it,), daemon=True) for it in items]
    for t in ts:
        t.start()
    return ts

def join_all(ts, deadline, what, pending):
    for t in ts:
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            print(f"\nTIMEOUT: {what} not done after {round_timeout:.0f} s", flush=True)
            pending()
            os._exit(3)

for r in range(1, rounds + 1):
    names = [f"r{r}p{i}" for i in range(npools)]
    paths = [f"{pools_dir}/{n}" for n in names]
    errors = []          # (pool, job, what)
    elock = threading.Lock()
    def err(pool, job, what):
        with elock:
            errors.append((pool, job, what))

    fds_before = fds()
    sampler = Sampler()
    sampler.start()
    deadline = time.monotonic() + round_timeout
    t0 = time.perf_counter()

    # every pool created (directory and spec) first ...
    for p in paths:
        os.mkdir(p)
        with open(f"{p}/spec", "w") as f:
            f.write(spec)
    t_created = time.perf_counter()
    # ... then wait until every one is ready
    waiting = set(paths)
    while waiting:
        for p in list(waiting):
            st = first_line(f"{p}/status")
            if st == "ready":
                waiting.discard(p)
            elif st in ("failed", "invalid", "degraded", "stopped"):
                err(p, None, f"pool state {st}")
                waiting.discard(p)
        if waiting:
            if time.monotonic() > deadline:
                print(f"\nTIMEOUT: {len(waiting)} pools not ready, e.g. "
                      f"{sorted(waiting)[0]}: {first_line(sorted(waiting)[0] + '/status')}")
                os._exit(3)
            time.sleep(0.05)
    t_ready = time.perf_counter()

    # every pool's jobs, concurrently across pools
    done = {p: 0 for p in paths}
    def pool_jobs(p):
        submitted = []
        for j in range(njobs):
            name = f"j{j}"
            try:
                with open(f"{p}/jobs/{name}", "w") as f:
                    f.write("echo $SKY_JOB\n")
                submitted.append(name)
            except OSError as e:
                err(p, name, f"submit: {e}")
        for name in submitted:
            try:
                with open(f"{p}/results/{name}/wait") as f:
                    code = f.read().strip()
                if code != "0":
                    err(p, name, f"exit {code!r}: {first_line(f'{p}/results/{name}/status')}")
                else:
                    with open(f"{p}/results/{name}/stdout") as f:
                        out = f.read()
                    if out != name + "\n":
                        err(p, name, f"stdout {out[:60]!r}")
            except OSError as e:
                err(p, name, f"wait: {e}")
            done[p] += 1
    def pending_jobs():
        left = {p: njobs - d for p, d in done.items() if d < njobs}
        print(f"{len(left)} pools with jobs not waited for, "
              f"{sum(left.values())} jobs in all")
        for p in sorted(left)[:5]:
            print(f"  {p}: {left[p]} left; status: {first_line(p + '/status')}; "
                  f"next job: {first_line(f'{p}/results/j{done[p]}/status')}")
        sys.stdout.flush()
    join_all(run_in_threads(pool_jobs, paths), deadline, "jobs", pending_jobs)
    t_jobs = time.perf_counter()

    # every pool removed, concurrently; the slowest rmdir is reported
    rm_s = {}
    def remove(p):
        t = time.perf_counter()
        try:
            os.rmdir(p)
        except OSError as e:
            err(p, None, f"rmdir: {e}")
        rm_s[p] = time.perf_counter() - t
    def pending_rmdir():
        left = [p for p in paths if p not in rm_s]
        print(f"{len(left)} rmdirs still running, e.g. {left[:3]}")
    join_all(run_in_threads(remove, paths), deadline, "rmdir", pending_rmdir)
    t_end = time.perf_counter()
    left = [n for n in os.listdir(pools_dir) if n in names]
    if left:
        err(left[0], None, f"{len(left)} pools still listed after rmdir")

    sampler.finish()
    fds_after = fds()
    fds_late = fds_after
    if fds_after != fds_before:
        time.sleep(2)        # anything closed lazily?
        fds_late = fds()
    peak_hwm = max(peak_hwm, sampler.hwm)
    failures_all += sum(1 for e in errors if e[1] is not None)
    rows.append(dict(
        round=r, create=t_created - t0, ready=t_ready - t0, jobs=t_jobs - t_ready,
        rm=t_end - t_jobs, rm_max=max(rm_s.values()),
        rm_med=sorted(rm_s.values())[len(rm_s) // 2], total=t_end - t0,
        rate=total / (t_jobs - t_ready), hwm=sampler.hwm / MB, rss=sampler.rss / MB,
        threads=sampler.threads, fds_before=fds_before, fds_after=fds_after,
        fds_late=fds_late, fds_peak=sampler.fds, errors=errors))
    if errors:
        print(f"round {r}: {len(errors)} errors, first ones:")
        for e in errors[:10]:
            print("  ", *[x for x in e if x is not None])
    sys.stdout.flush()

print()
print(f"load benchmark: {npools} local pools (nodes=1 slots={slots}) x {njobs} jobs "
      f"(echo $SKY_JOB), {rounds} rounds; MB = 10^6 bytes")
hdr = (f"{'round':>5} {'ready s':>8} {'jobs s':>8} {'rmdir s':>8} {'max rm s':>8} "
       f"{'med rm s':>8} {'total s':>8} {'jobs/s':>8} {'HWM MB':>7} {'RSS MB':>7} {'thr':>5} "
       f"{'fds pre':>7} {'post':>5} {'peak':>5} {'errors':>6}")
print(hdr)
for w in rows:
    post = f"{w['fds_after']}" if w['fds_late'] == w['fds_after'] else f"{w['fds_late']}*"
    print(f"{w['round']:5d} {w['ready']:8.2f} {w['jobs']:8.2f} {w['rm']:8.2f} "
          f"{w['rm_max']:8.2f} {w['rm_med']:8.2f} {w['total']:8.2f} {w['rate']:8.1f} {w['hwm']:7.1f} "
          f"{w['rss']:7.1f} {w['threads']:5d} {w['fds_before']:7d} {post:>5} "
          f"{w['fds_peak']:5d} {len(w['errors']):6d}")
print("(ready: mkdir + spec of every pool until all ready; jobs: submit + wait of "
      "every job; rmdir: all pools removed, one rmdir per pool at once, max/med rm: one rmdir's time; HWM: VmHWM, the peak RSS; RSS: highest VmRSS sampled; thr: peak "
      "threads; fds: daemon's open fds before/after the round, * = 2 s after)")
print()
best = max(w["rate"] for w in rows)
print(f"{'':36} {'skyfs':>10} {'baseline':>10} {'ratio':>7}")
print(f"{'throughput (jobs/s), best round':36} {best:10.1f} {base_rate:10.1f} "
      f"{best / base_rate:7.2f}")
print(f"(baseline: the same {total} jobs as `sh -c '. job.sh > out'` with SKY_JOB set, "
      f"xargs -P {par}, {base_s:.2f} s)")
print()
growth = rows[-1]["fds_late"] - rows[0]["fds_late"]
ok_rss = peak_hwm < 100 * MB
ok_fds = growth <= 0 if rounds > 1 else None
ok_jobs = failures_all == 0 and not any(w["errors"] for w in rows)
print(f"RSS < 100 MB: {'met' if ok_rss else 'NOT met'} (peak {peak_hwm / MB:.1f} MB)")
if rounds > 1:
    print(f"fd growth across rounds: {'none' if growth <= 0 else f'+{growth}'} "
          f"(after round 1: {rows[0]['fds_late']}, after round {rounds}: "
          f"{rows[-1]['fds_late']}; at mount: {fds_start}; peak {max(w['fds_peak'] for w in rows)}"
          f" of a soft limit of {fd_limit})")
else:
    print(f"fd growth across rounds: n/a (1 round; {fds_start} at mount, "
          f"{rows[0]['fds_late']} after)")
print(f"all {total * rounds} jobs succeeded: {'yes' if ok_jobs else 'no'}"
      + ("" if ok_jobs else f" ({failures_all} job errors)"))
sys.exit(0 if ok_rss and ok_jobs and ok_fds is not False else 1)
PY

# the daemon's complaints, if any
if grep -Eq '^[^ ]+ (error|warn) ' "$work/skyfs.log"; then
	echo
	echo "daemon log: $(grep -Ec '^[^ ]+ error ' "$work/skyfs.log") errors," \
		"$(grep -Ec '^[^ ]+ warn ' "$work/skyfs.log") warnings; first ones:"
	grep -E '^[^ ]+ (error|warn) ' "$work/skyfs.log" | head -10
fi
skyfs_stop
exit $rc
