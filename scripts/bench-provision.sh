#!/usr/bin/env bash
# Provisioning benchmark (issue 5): time from writing the spec to `ready`
# for an aws pool of NODES nodes against the fake EC2 (tests/fakes) with
# LATENCY ms added to every API call, compared with a 1-node pool measured
# in the same run. Goal: NODES nodes in under 3x the 1-node time (calls run
# in parallel and DescribeInstances is shared, not one node after another).
#
# The fake's instances are real sshd processes on this machine, so the same
# pools are also measured with no added latency: that is this machine's
# floor (booting NODES sshd, NODES SSH handshakes with both ends here), and
# the difference between the two runs is what the API's latency costs.
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
results=$(mktemp /tmp/skyfs-bench-provision-results.XXXXXX)
fake=
fake_work=
stop_fake() {
	[ -n "$fake" ] && { kill "$fake" 2>/dev/null || true; wait "$fake" 2>/dev/null || true; }
	[ -n "$fake_work" ] && rm -rf "$fake_work"
	fake=
	fake_work=
}
trap 'skyfs_cleanup; stop_fake; rm -f "$results"' EXIT

# measure LATENCY_MS: a fresh fake and mount; "latency one many one_rm many_rm"
measure() {
	fake_work=$(mktemp -d /tmp/skyfs-bench-ec2.XXXXXX)
	python3 tests/fakes/fake_ec2.py --workdir "$fake_work" --latency-ms "$1" \
		--access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" \
		--url-file "$fake_work/url" >"$fake_work/fake.log" 2>&1 &
	fake=$!
	for _ in $(seq 100); do [ -s "$fake_work/url" ] && break; sleep 0.1; done
	[ -s "$fake_work/url" ] || { cat "$fake_work/fake.log" >&2; return 1; }
	AWS_ENDPOINT_URL_EC2=$(cat "$fake_work/url")
	export AWS_ENDPOINT_URL_EC2 SKYFS_CHECKIP_URL=${AWS_ENDPOINT_URL_EC2%/}/checkip
	skyfs_start bench-provision
	python3 - "$mnt" "$NODES" "$1" >>"$results" <<'PY'
import os, sys, time

mnt, nodes, latency = sys.argv[1], int(sys.argv[2]), sys.argv[3]
SPEC = ("provider = aws\nregion = us-east-1\naccelerator = T4\nallocation = on-demand\n"
        "ssh_user = skytest\nnodes = %d\n")

def provision(name, n):
    pool = f"{mnt}/pools/{name}"
    os.mkdir(pool)
    t0 = time.perf_counter()
    with open(f"{pool}/spec", "w") as f:
        f.write(SPEC % n)
    while True:
        with open(f"{pool}/status") as f:
            s = f.readline().strip()
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
print(latency, one, many, one_rm, many_rm)
PY
	skyfs_stop
	skyfs_cleanup
	stop_fake
}

measure "$LATENCY"
measure 0

python3 - "$results" "$NODES" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    lat, one, many, one_rm, many_rm = line.split()
    rows[int(lat)] = tuple(map(float, (one, many, one_rm, many_rm)))
nodes = int(sys.argv[2])
lat = max(rows)
one, many, one_rm, many_rm = rows[lat]
f_one, f_many, _, _ = rows[0]
print(f"aws provisioning against the fake EC2 ({nodes} sshd instances on this machine)")
print(f"{'pool':<26}{f'+{lat} ms/call':>14}{'+0 ms (floor)':>15}{'latency cost':>14}{'rmdir':>8}")
print(f"{'1 node (baseline)':<26}{one:>13.2f}s{f_one:>14.2f}s{one - f_one:>13.2f}s{one_rm:>7.2f}s")
print(f"{f'{nodes} nodes':<26}{many:>13.2f}s{f_many:>14.2f}s{many - f_many:>13.2f}s{many_rm:>7.2f}s")
print(f"{f'{nodes} nodes one by one':<26}{f'>= {nodes * 2 * lat / 1000:.1f}s':>14}"
      "   (estimate: RunInstances + DescribeInstances a node, not run)")
ratio = many / one
print(f"ratio {nodes} nodes / 1 node: {ratio:.2f}x (goal < 3x): {'met' if ratio < 3 else 'NOT met'}")
print(f"latency cost {nodes} nodes / 1 node: {(many - f_many) / (one - f_one):.2f}x")
PY
