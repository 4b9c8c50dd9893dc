#!/usr/bin/env bash
# Provisioning benchmark (issue 5): time from writing the spec to `ready`
# for an aws pool of 64 nodes against the fake EC2 (tests/fakes) with
# LATENCY ms added to every API call, compared with a 1-node pool measured
# in the same run. Goal: 64 nodes in under 3x the 1-node time (calls run in
# parallel and DescribeInstances is shared, not one node after another).
#   scripts/bench-provision.sh [NODES] [LATENCY_MS]
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-64}
LATENCY=${2:-200}
scripts/deps.sh
scripts/build.sh build
. scripts/lib.sh

export AWS_ACCESS_KEY_ID=AKIDSKYFSBENCH AWS_SECRET_ACCESS_KEY=skyfs/bench/secret
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
fake_work=$(mktemp -d /tmp/skyfs-bench-ec2.XXXXXX)
python3 tests/fakes/fake_ec2.py --workdir "$fake_work" --latency-ms "$LATENCY" \
	--access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" \
	--url-file "$fake_work/url" >"$fake_work/fake.log" 2>&1 &
fake=$!
stop_fake() {
	kill "$fake" 2>/dev/null || true
	wait "$fake" 2>/dev/null || true
	rm -rf "$fake_work"
}
for _ in $(seq 100); do [ -s "$fake_work/url" ] && break; sleep 0.1; done
[ -s "$fake_work/url" ] || { cat "$fake_work/fake.log" >&2; stop_fake; exit 1; }
export AWS_ENDPOINT_URL_EC2=$(cat "$fake_work/url")
export SKYFS_CHECKIP_URL=${AWS_ENDPOINT_URL_EC2%/}/checkip
skyfs_start bench-provision
trap 'skyfs_cleanup; stop_fake' EXIT

python3 - "$mnt" "$NODES" "$LATENCY" <<'PY'
import os, sys, time

mnt, nodes, latency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
SPEC = ("provider = aws\nregion = us-east-1\naccelerator = T4\nallocation = on-demand\n"
        "ssh_user = skytest\nnodes = %d\n")

def state(pool):
    with open(f"{pool}/status") as f:
        return f.readline().strip()

def provision(name, n):
    pool = f"{mnt}/pools/{name}"
    os.mkdir(pool)
    t0 = time.perf_counter()
    with open(f"{pool}/spec", "w") as f:
        f.write(SPEC % n)
    while True:
        s = state(pool)
        if s == "ready":
            break
        if s in ("failed", "degraded", "invalid"):
            sys.exit(open(f"{pool}/status").read())
        if time.perf_counter() - t0 > 300:
            sys.exit("not ready after 300 s")
        time.sleep(0.02)
    ready = time.perf_counter() - t0
    t0 = time.perf_counter()
    os.rmdir(pool)
    return ready, time.perf_counter() - t0

one, one_rm = provision("one", 1)
many, many_rm = provision("many", nodes)
# what one node after another would cost at least: RunInstances and one
# DescribeInstances per node
serial = nodes * 2 * latency / 1000.0
print(f"aws provisioning against the fake EC2, {latency} ms added to every API call")
print(f"{'pool':<22}{'to ready (s)':>14}{'rmdir (s)':>12}")
print(f"{'1 node (baseline)':<22}{one:>14.2f}{one_rm:>12.2f}")
print(f"{f'{nodes} nodes':<22}{many:>14.2f}{many_rm:>12.2f}")
print(f"{f'{nodes} nodes one by one':<22}{f'>= {serial:.1f}':>14}{'':>12}  (2 calls a node, not run)")
ratio = many / one
print(f"ratio {nodes} nodes / 1 node: {ratio:.2f}x (goal < 3x): {'met' if ratio < 3 else 'NOT met'}")
PY
skyfs_stop
