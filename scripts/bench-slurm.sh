#!/usr/bin/env bash
# Slurm benchmark: N trivial jobs (`true`) through a skyfs pool with
# `provider = slurm` (one holding job on the node, every skyfs job a step
# `srun --overlap --jobid` inside it) against the same N jobs submitted with
# `sbatch --wrap true` and waited for (a full scheduling cycle per job), on
# real one-node Slurm clusters with 2 CPUs started here
# (tests/integration/slurmcluster.py). Goal: skyfs at least 5x faster than
# sbatch on a cluster with Slurm's default scheduler parameters.
#
# Two baselines, two clusters (one after the other: the machine has 2 CPUs):
# - default (the goal's baseline): a cluster with no SchedulerParameters
#   line, i.e. Slurm's defaults (batch_sched_delay=3 s: the scheduling of a
#   batch job may be deferred that long). That is what a stock Slurm does,
#   and busy production clusters, with many nodes, users and pending jobs,
#   schedule more slowly still. The main comparison runs here: this
#   baseline, the skyfs pool, the direct-srun floor and the latencies.
# - tuned (informative): a second cluster with
#   SchedulerParameters=batch_sched_delay=0,sched_min_interval=0, the
#   SlurmCluster default that our tests use so as not to wait on the
#   scheduler: a best case for sbatch that few real clusters run with. Only
#   the sbatch baseline (and its latency) is measured on it.
#
# Baseline (on each cluster): N x `sbatch --wrap true` (1 task, 1 CPU,
# output to /dev/null), submitted one after the other, then squeue polled
# every 0.2 s until none of them is left (pending, running or completing);
# timed from the first submit to the last one gone. Their end states come
# from `squeue -t all` snapshots every 60 s and at the end (ended jobs stay
# visible for MinJobAge=300 s, and the default-config run is longer).
# Then skyfs (default cluster): a pool `provider = slurm`, `slots = 2`
# (its provisioning, spec -> ready, is reported on its own line and not
# counted), N job files copied into jobs/ one after the other, then every
# results/<name>/wait read; timed from the first copy to the last wait.
# Also the latency of one job alone on each path (median of 5, after one
# unmeasured warm-up job per path): submit -> gone from squeue, and copy ->
# wait returns. A further row, the floor skyfs stands on: the same N steps
# run directly (`srun --overlap --jobid=<the pool's holding job> true`,
# 2 at a time, as the pool's slots; and 5 alone), in the pool's
# allocation before its rmdir. On the default cluster the baseline runs
# first, on a cluster that has had no other jobs; the skyfs pool gets the
# cluster afterwards (the ended sbatch jobs are still in slurmctld's memory
# then: MinJobAge=300). That cluster is stopped before the tuned one starts.
#   scripts/bench-slurm.sh [-n N]     (default 500)
# Exits non-zero when a job failed (sbatch on either cluster, or skyfs) or
# the 5x goal against the default-config baseline is not met.
# BENCH_SLURM_TIMEOUT (s, default 1800) bounds every wait. SKYFS_KEEP=1
# keeps the scratch directories (daemon log: $work/skyfs.log, cluster logs
# in the clusters' directories).
set -euo pipefail
cd "$(dirname "$0")/.."
N=500
usage() { echo "usage: $0 [-n N]" >&2; exit 2; }
while getopts n:h opt; do
	case $opt in
	n) N=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
[[ $N =~ ^[1-9][0-9]*$ ]] || usage
CPUS=2
TIMEOUT=${BENCH_SLURM_TIMEOUT:-1800}
TUNED="batch_sched_delay=0,sched_min_interval=0"   # = slurmcluster.TEST_SCHED_PARAMS
scripts/deps.sh
scripts/build.sh build
. scripts/lib.sh

# ---- a cluster: a helper process holds it until SIGTERM ----------------------------

cluster=
cluster_dir=
stop_cluster() {
	local rc=0
	if [ -n "$cluster" ]; then
		kill -TERM "$cluster" 2>/dev/null || true
		wait "$cluster" || rc=$?
		cluster=
		if [ "$rc" -ne 0 ]; then
			echo "slurm cluster helper exited with status $rc:" >&2
			tail -30 "$cluster_dir/helper.log" >&2 || true
		fi
	fi
	if [ -n "$cluster_dir" ]; then
		[ -n "${SKYFS_KEEP:-}" ] && echo "kept $cluster_dir" >&2 || rm -rf "$cluster_dir"
		cluster_dir=
	fi
	return $rc
}
trap stop_cluster EXIT

# start_cluster SCHED_PARAMS ("" = no SchedulerParameters line: Slurm's
# defaults); sets cluster, cluster_dir, slurm_url, slurm_jwt, slurm_conf
start_cluster() {
	cluster_dir=$(mktemp -d /tmp/skyfs-bench-slurm-cluster.XXXXXX)
	python3 - "$cluster_dir" "$CPUS" "$1" >"$cluster_dir/helper.log" 2>&1 <<'PY' &
import os, shlex, signal, sys, time
sys.path.insert(0, "tests/integration")
from slurmcluster import SlurmCluster, have_slurm

d, cpus, sched = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if not have_slurm():
    sys.exit("slurm is not installed (slurmctld, slurmd, slurmrestd, munged, clients)")
# SIGTERM leaves the with-block: the cluster's jobs are cancelled and its
# daemons stopped by pid
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with SlurmCluster(os.path.join(d, "cluster"), cpus=cpus, sched_params=sched or None) as c:
    env = {"slurm_url": c.url, "slurm_jwt": c.token(lifespan=86400), "slurm_conf": c.conf}
    with open(os.path.join(d, "env.tmp"), "w") as f:
        for k, v in env.items():
            f.write("%s=%s\n" % (k, shlex.quote(v)))
    os.rename(os.path.join(d, "env.tmp"), os.path.join(d, "env"))
    print(c, "SchedulerParameters=%s" % (c.sched_params or "(Slurm's defaults)"), c.timings,
          flush=True)
    while True:
        time.sleep(3600)
PY
	cluster=$!
	for _ in $(seq 600); do
		[ -e "$cluster_dir/env" ] && break
		kill -0 "$cluster" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -e "$cluster_dir/env" ]; then
		echo "the slurm cluster did not start:" >&2
		tail -40 "$cluster_dir/helper.log" >&2
		return 1
	fi
	slurm_url='' slurm_jwt='' slurm_conf=''
	. "$cluster_dir/env"
}

# ---- the measurements: one program, run once per stage ----------------------------
#   baseline CONF N TIMEOUT OUT LABEL          sbatch on one cluster
#   skyfs POOL N CPUS CONF TIMEOUT WORK OUT   the pool and the floor
#   table N CPUS TUNED DEFAULT_JSON TUNED_JSON SKYFS_JSON   prints; exit status

bench_py=$(cat <<'PY'
import collections, json, os, shutil, statistics, subprocess, sys, threading, time

LAT = 5                  # single jobs per path; the median is reported
SNAPSHOT = 60.0          # s between squeue -t all snapshots (< MinJobAge=300)
mode, args = sys.argv[1], sys.argv[2:]

def clients_env(conf):
    """the clients' environment: this cluster only, no SLURM_* from outside"""
    global env
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["SLURM_CONF"] = conf

def slurm(*args):
    r = subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=30)
    if r.returncode:
        sys.exit(f"{' '.join(args[:3])}...: status {r.returncode}: {r.stderr.strip()}")
    return r.stdout

def squeue_left(*sel):
    """Ids of the selected jobs squeue still shows (pending, running,
    completing, ...: its default states)."""
    return slurm("squeue", "-h", "-o", "%i", *sel).split()

def states(*sel):
    return collections.Counter(slurm("squeue", "-h", "-t", "all", "-o", "%T", *sel).split())

def wait_gone(sel, poll, what, every=None):
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while squeue_left(*sel):
        if time.monotonic() > deadline:
            sys.exit(f"TIMEOUT: {what}: still in squeue after {timeout:.0f} s: {states(*sel)}")
        if every and time.monotonic() - last >= SNAPSHOT:
            every()
            last = time.monotonic()
        time.sleep(poll)

def save(out, d):
    with open(out + ".tmp", "w") as f:
        json.dump(d, f)
    os.rename(out + ".tmp", out)

# ---- baseline: sbatch --wrap true ----

def sbatch(name):
    out = slurm("sbatch", "--parsable", "--job-name", name, "--ntasks=1", "--cpus-per-task=1",
                "--output=/dev/null", "--error=/dev/null", "--wrap", "true")
    return int(out.strip().split(";")[0])

def one_sbatch(name):
    t = time.perf_counter()
    jid = sbatch(name)
    wait_gone(["-j", str(jid)], 0.02, f"job {jid}")
    lat = time.perf_counter() - t
    st = states("-j", str(jid))
    if st != {"COMPLETED": 1}:
        sys.exit(f"sbatch job {jid}: {dict(st)}")
    return lat

def baseline(conf, n, out, label):
    clients_env(conf)
    one_sbatch("skybench-warm")
    lat = [one_sbatch("skybench-lat") for _ in range(LAT)]
    print(f"baseline ({label}): {n} x sbatch --wrap true ...", flush=True)
    seen = {}
    def snapshot():
        for line in slurm("squeue", "-h", "-t", "all", "-o", "%i %T",
                          "-n", "skybench-tput").splitlines():
            jid, st = line.split()
            seen[jid] = st
    t0 = time.perf_counter()
    ids = [sbatch("skybench-tput") for _ in range(n)]
    t_sub = time.perf_counter()
    wait_gone(["-n", "skybench-tput"], 0.2, f"sbatch jobs ({label})", snapshot)
    t1 = time.perf_counter()
    snapshot()
    # the last state squeue showed for each job; UNSEEN: never in a snapshot
    st = collections.Counter(seen.get(str(j), "UNSEEN") for j in ids)
    save(out, {"s": t1 - t0, "sub": t_sub - t0, "lat": lat, "states": dict(st),
               "bad": sum(v for k, v in st.items() if k != "COMPLETED")})

# ---- skyfs: a slurm pool, slots = CPUs; then the floor ----

def skyfs(pool, n, cpus, conf, work, out):
    clients_env(conf)
    slots = cpus             # one node: a slot per CPU
    job = os.path.join(work, "job.sh")
    with open(job, "w") as f:
        f.write("true\n")
    print("skyfs: provisioning the pool ...", flush=True)
    os.mkdir(pool)
    t = time.perf_counter()
    with open(f"{pool}/spec", "w") as f:
        f.write(f"provider = slurm\nnodes = 1\nslots = {slots}\n")
    while True:
        with open(f"{pool}/status") as f:
            s = f.readline().strip()
        if s == "ready":
            break
        if s in ("failed", "degraded", "invalid", "stopped") or time.perf_counter() - t > 300:
            print(open(f"{pool}/status").read(), file=sys.stderr)
            print(open(f"{pool}/events").read(), file=sys.stderr)
            sys.exit(f"pool not ready: {s}")
        time.sleep(0.02)
    prov_s = time.perf_counter() - t

    def submit(name):
        shutil.copyfile(job, f"{pool}/jobs/{name}")

    def wait(name):
        with open(f"{pool}/results/{name}/wait") as f:
            return f.read().strip()

    def one_skyfs(name):
        t = time.perf_counter()
        submit(name)
        code = wait(name)
        lat = time.perf_counter() - t
        if code != "0":
            sys.exit(f"skyfs job {name}: exit {code!r}: "
                     + open(f"{pool}/results/{name}/status").read())
        return lat

    one_skyfs("warm")
    sky_lat = [one_skyfs(f"lat{i}") for i in range(LAT)]
    print(f"skyfs: {n} jobs ...", flush=True)
    t0 = time.perf_counter()
    for i in range(n):
        submit(f"t{i}")
    t_sub = time.perf_counter()
    bad = []
    for i in range(n):
        code = wait(f"t{i}")
        if code != "0":
            bad.append((f"t{i}", code))
    t1 = time.perf_counter()
    sky_s, sky_sub = t1 - t0, t_sub - t0
    status = open(f"{pool}/status").read()

    # the floor: the same steps launched directly, slots at a time, in the
    # pool's allocation (what skyfs runs for a job, less its files and wrapper)
    def node_field(key):
        for node in sorted(os.listdir(f"{pool}/nodes")):
            for line in open(f"{pool}/nodes/{node}"):
                if line.startswith(key + ": "):
                    return line.split(": ", 1)[1].strip()
    holding, host = node_field("instance"), node_field("address")
    step = ["srun", f"--jobid={holding}", f"--nodelist={host}", "--overlap", "--nodes=1",
            "--ntasks=1", "--input=none", "--quiet", "--output=/dev/null", "--error=/dev/null",
            f"--cpus-per-task={max(1, cpus // slots)}", "true"]
    print(f"floor: {n} x srun --overlap --jobid={holding} true, {slots} at a time ...",
          flush=True)
    def steps(k, fails):
        for _ in range(k):
            if subprocess.run(step, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=60).returncode:
                fails.append(1)
    floor_bad = []
    def one_step():
        t = time.perf_counter()
        steps(1, floor_bad)
        return time.perf_counter() - t
    one_step()
    step_lat = [one_step() for _ in range(LAT)]
    workers = [threading.Thread(target=steps, args=(n // slots + (w < n % slots), floor_bad))
               for w in range(slots)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    floor_s = time.perf_counter() - t0
    bad_lines = [f"  {name}: exit {code!r}: "
                 + open(f"{pool}/results/{name}/status").read().replace("\n", "; ")
                 for name, code in bad[:5]]
    t = time.perf_counter()
    os.rmdir(pool)
    rm_s = time.perf_counter() - t
    save(out, {"s": sky_s, "sub": sky_sub, "lat": sky_lat, "bad": len(bad),
               "bad_lines": bad_lines, "prov_s": prov_s, "rm_s": rm_s, "slots": slots,
               "floor_s": floor_s, "floor_bad": len(floor_bad), "floor_lat": step_lat,
               "counters": [l for l in status.splitlines() if l.startswith("jobs_")]})

# ---- the table ----

def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        return None

def table(n, cpus, tuned_params, dflt, tuned, sky):
    dflt, tuned, sky = load(dflt), load(tuned), load(sky)
    med = statistics.median
    W = 46
    def row(label, r, s_key="s", sub_key="sub", bad_key="bad"):
        if r is None:
            print(f"{label:<{W}} {n:5d} {'(not measured: the run failed)':>42}")
            return
        sub = f"{r[sub_key]:9.2f}" if sub_key else f"{'':>9}"
        print(f"{label:<{W}} {n:5d} {r[s_key]:9.2f} {n / r[s_key]:8.2f} {sub} {r[bad_key]:6d}")
    def lat_row(label, r, key="lat"):
        if r is None:
            print(f"{label:<{W}} {'(not measured)':>27}")
            return
        v = r[key]
        print(f"{label:<{W}} {med(v):9.3f} {min(v):8.3f} {max(v):8.3f}")

    print()
    print(f"slurm benchmark: {n} trivial jobs (`true`), one-node Slurm clusters with {cpus} CPUs")
    print(f"{'method':<{W}} {'jobs':>5} {'seconds':>9} {'jobs/s':>8} {'submit s':>9} "
          f"{'failed':>6}")
    row("sbatch --wrap true, wait: default (baseline)", dflt)
    row("sbatch --wrap true, wait: tuned", tuned)
    slots = sky["slots"] if sky else cpus
    row(f"skyfs pool provider=slurm slots={slots}: default", sky)
    row("srun --overlap steps direct (floor): default", sky, "floor_s", None, "floor_bad")
    print("default: a cluster with Slurm's default SchedulerParameters (batch_sched_delay=3 s)")
    print(f"tuned: a second cluster with SchedulerParameters={tuned_params} "
          "(the tests' config)")
    ok = bool(dflt and sky)
    if ok:
        speedup = dflt["s"] / sky["s"]
        ok = speedup >= 5
        print(f"speedup skyfs / sbatch default: {speedup:.2f}x "
              f"(goal >= 5x: {'met' if ok else 'NOT met'})")
    else:
        print("speedup skyfs / sbatch default: not measured (goal NOT met)")
    if tuned and sky:
        print(f"speedup skyfs / sbatch tuned:   {tuned['s'] / sky['s']:.2f}x (informative)")
    print()
    print(f"{'latency of one job alone (s)':<{W}} {'median':>9} {'min':>8} {'max':>8}")
    lat_row("sbatch default: submit -> gone from squeue", dflt)
    lat_row("sbatch tuned: submit -> gone from squeue", tuned)
    lat_row("skyfs: copy -> wait returns", sky)
    lat_row("srun step direct (floor): run -> exit", sky, "floor_lat")
    print(f"(each {LAT} jobs one at a time, after one unmeasured warm-up job)")
    print()
    if sky:
        print(f"skyfs provisioning (spec -> ready, not counted above): {sky['prov_s']:.2f} s; "
              f"rmdir: {sky['rm_s']:.2f} s")
    print(f"(submit s: the loop of {n} sbatch calls / file copies; the rest is waiting. "
          "End states of the sbatch jobs: "
          f"default {dflt['states'] if dflt else '-'}, tuned {tuned['states'] if tuned else '-'})")
    if sky and sky["counters"]:
        print("skyfs pool status after the run: " + ", ".join(sky["counters"]))
    if sky and sky["bad"]:
        print(f"{sky['bad']} skyfs jobs failed, first ones:")
        print("\n".join(sky["bad_lines"]))
    ok = ok and all(r and not r["bad"] for r in (dflt, tuned, sky))
    sys.exit(0 if ok else 1)

if mode == "baseline":
    conf, n, timeout, out, label = args
    n, timeout = int(n), float(timeout)
    baseline(conf, n, out, label)
elif mode == "skyfs":
    pool, n, cpus, conf, timeout, work, out = args
    n, cpus, timeout = int(n), int(cpus), float(timeout)
    skyfs(pool, n, cpus, conf, work, out)
elif mode == "table":
    n, cpus, tuned_params, dflt, tuned, sky = args
    table(int(n), int(cpus), tuned_params, dflt, tuned, sky)
else:
    sys.exit(f"unknown mode {mode}")
PY
)

# ---- cluster 1: Slurm's default scheduler parameters ---------------------------------

echo "cluster 1: Slurm's default SchedulerParameters" >&2
start_cluster "" || exit 1

# the daemon: reaches the cluster through slurmrestd (JWT) and srun
# (skyfs_start sets its own EXIT trap: ours replaces it, even when it fails)
started=0
SKYFS_SLURM_URL=$slurm_url SLURM_JWT=$slurm_jwt SLURM_CONF=$slurm_conf \
	skyfs_start bench-slurm && started=1
trap 'skyfs_cleanup; stop_cluster' EXIT
[ $started = 1 ] || exit 1

rc=0
python3 -c "$bench_py" baseline "$slurm_conf" "$N" "$TIMEOUT" "$work/default.json" default ||
	rc=$?
if [ $rc = 0 ]; then
	python3 -c "$bench_py" skyfs "$mnt/pools/bench" "$N" "$CPUS" "$slurm_conf" "$TIMEOUT" \
		"$work" "$work/skyfs.json" || rc=$?
fi

# the daemon's complaints, if any
if grep -Eq '^[^ ]+ (error|warn) ' "$work/skyfs.log"; then
	echo
	echo "daemon log: $(grep -Ec '^[^ ]+ error ' "$work/skyfs.log") errors," \
		"$(grep -Ec '^[^ ]+ warn ' "$work/skyfs.log") warnings; first ones:"
	grep -E '^[^ ]+ (error|warn) ' "$work/skyfs.log" | head -10
fi
[ -d "$mnt/pools/bench" ] && rmdir "$mnt/pools/bench" 2>/dev/null || true
skyfs_stop || { echo "the skyfs daemon exited with status $?" >&2; rc=1; }
stop_cluster || rc=1

# ---- cluster 2: tuned for fast batch starts (as in the tests) -------------------------

if [ $rc = 0 ]; then
	echo "cluster 2: SchedulerParameters=$TUNED" >&2
	if start_cluster "$TUNED"; then
		python3 -c "$bench_py" baseline "$slurm_conf" "$N" "$TIMEOUT" "$work/tuned.json" \
			tuned || rc=$?
	else
		rc=1
	fi
	stop_cluster || rc=1
fi

# ---- the table ----

python3 -c "$bench_py" table "$N" "$CPUS" "$TUNED" "$work/default.json" "$work/tuned.json" \
	"$work/skyfs.json" || rc=1
exit $rc
