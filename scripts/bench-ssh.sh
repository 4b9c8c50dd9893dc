#!/usr/bin/env bash
# SSH benchmarks (issue 4), on real sshd nodes on loopback (the test
# harness's tests/integration/sshnodes.py):
#  - dispatch: N trivial jobs (default 1000) on a 2-node ssh pool with
#    slots = 4, against OpenSSH with ControlMaster multiplexing running the
#    same N commands with xargs -P 8, and against one plain `ssh host true`
#    per job (measured on N/10 jobs);
#  - streaming: a job writing SIZE bytes (default 1 GiB) to stdout, MB/s into
#    results/, against `ssh host 'head -c SIZE /dev/zero' > /dev/null`.
#   scripts/bench-ssh.sh [N] [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
SIZE_MB=${2:-1024}
scripts/deps.sh
scripts/build.sh build
. scripts/lib.sh
skyfs_start bench-ssh

python3 - "$mnt" "$work" "$N" "$SIZE_MB" "$pid" <<'PY'
import os, subprocess, sys, time
sys.path.insert(0, "tests/integration")
from sshnodes import SshNodes

mnt, work, n, size_mb, daemon = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
size = size_mb * 1024 * 1024

def wait_state(pool, want, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"{pool}/status") as f:
            s = f.readline().strip()
        if s == want:
            return
        if s in ("failed", "invalid"):
            sys.exit(open(f"{pool}/status").read())
        time.sleep(0.05)
    sys.exit(f"pool not {want}")

with SshNodes(2, os.path.join(work, "nodes")) as nodes:
    pool = f"{mnt}/pools/ssh"
    os.mkdir(pool)
    with open(f"{pool}/spec", "w") as f:
        f.write(f"provider = ssh\nhosts = {nodes.hosts_spec()}\nslots = 4\n"
                f"identity = {nodes.identity}\nknown_hosts = {nodes.known_hosts}\n")
    wait_state(pool, "ready")

    # skyfs: submit everything, then wait for everything
    t0 = time.perf_counter()
    for i in range(n):
        with open(f"{pool}/jobs/t{i}", "w") as f:
            f.write("true\n")
    for i in range(n):
        with open(f"{pool}/results/t{i}/wait") as f:
            if f.read().strip() != "0":
                sys.exit(f"job t{i} failed")
    sky = n / (time.perf_counter() - t0)

    # OpenSSH with ControlMaster: the same commands, 8 at a time
    ctl = os.path.join(work, "cm-%h-%p")
    opts = nodes.ssh_options() + ["-o", "ControlMaster=auto", "-o", f"ControlPath={ctl}",
                                  "-o", "ControlPersist=60"]
    targets = [f"{nodes.user}@{nodes.address(i)}" for i in range(2)]
    ports = [str(nodes.port(i)) for i in range(2)]
    for i in range(2):   # open the masters first
        subprocess.run(["ssh"] + opts + ["-p", ports[i], targets[i], "true"], check=True,
                       timeout=30)
    lines = "".join(f"{ports[i % 2]} {targets[i % 2]}\n" for i in range(n))
    t0 = time.perf_counter()
    subprocess.run(["xargs", "-P", "8", "-L", "1", "sh", "-c",
                    "exec ssh " + " ".join(opts) + " -p \"$0\" \"$1\" true"],
                   input=lines, text=True, check=True, timeout=600)
    cm = n / (time.perf_counter() - t0)
    for i in range(2):
        subprocess.run(["ssh"] + opts + ["-p", ports[i], "-O", "exit", targets[i]],
                       capture_output=True, timeout=30)

    # one plain ssh per job (no multiplexing), on a tenth of the jobs
    m = max(10, n // 10)
    t0 = time.perf_counter()
    for i in range(m):
        nodes.ssh(i % 2, "true", timeout=30)
    plain = m / (time.perf_counter() - t0)

    # streaming: SIZE bytes of stdout
    t0 = time.perf_counter()
    with open(f"{pool}/jobs/stream", "w") as f:
        f.write(f"head -c {size} /dev/zero\n")
    with open(f"{pool}/results/stream/wait") as f:
        if f.read().strip() != "0":
            sys.exit("stream job failed")
    got = os.stat(f"{pool}/results/stream/stdout").st_size
    if got != size:
        sys.exit(f"stream job: {got} bytes of stdout, expected {size}")
    stream = size / (time.perf_counter() - t0) / 1e6
    t0 = time.perf_counter()
    subprocess.run(nodes.ssh_args(0, f"head -c {size} /dev/zero"), stdout=subprocess.DEVNULL,
                   check=True, timeout=600)
    stream_base = size / (time.perf_counter() - t0) / 1e6
    os.rmdir(pool)

print()
print(f"ssh benchmark: 2 sshd nodes on loopback, slots = 4")
print(f"{'':38} {'skyfs':>10} {'baseline':>10} {'ratio':>7}")
print(f"{'dispatch, jobs/s vs ControlMaster -P8':38} {sky:10.1f} {cm:10.1f} {sky / cm:7.2f}")
print(f"{'dispatch, jobs/s vs one ssh per job':38} {sky:10.1f} {plain:10.1f} {sky / plain:7.2f}")
print(f"{'stdout streaming, MB/s':38} {stream:10.1f} {stream_base:10.1f} {stream / stream_base:7.2f}")
print()
print(f"goals: >= ControlMaster: {'met' if sky >= cm else 'NOT met'}; "
      f">= 10x one ssh per job: {'met' if sky >= 10 * plain else 'NOT met'}; "
      f"streaming >= 80%: {'met' if stream >= 0.8 * stream_base else 'NOT met'}")
PY
skyfs_stop
