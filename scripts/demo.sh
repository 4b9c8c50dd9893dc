#!/usr/bin/env bash
# The main job on the local provider: installs what is missing, builds,
# mounts skyfs on a temporary directory, creates a 2-node pool, runs a
# handful of real jobs and one broadcast, prints their results and the
# pool's status, removes the pool and unmounts. Fails on any failed step.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build

. scripts/lib.sh
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
skyfs_start demo

P=$mnt/pools/demo
step "mkdir $P"
mkdir "$P"
step "printf 'nodes = 2\\nslots = 2\\n' > $P/spec"
printf 'nodes = 2\nslots = 2\nenv.LIMIT = 30000\n' > "$P/spec"
skyfs_wait_ready "$P"
step "head -1 $P/status"
head -1 "$P/status"

step "cp examples/jobs/{primes.sh,report.sh} $P/jobs/; tar a pipeline job"
cp examples/jobs/primes.sh examples/jobs/report.sh "$P/jobs/"
tar -C examples/jobs/pipeline -czf "$work/pipeline.tgz" run data.txt
cp "$work/pipeline.tgz" "$P/jobs/pipeline.tgz"
step "cp examples/jobs/sum.py $P/broadcast/"
cp examples/jobs/sum.py "$P/broadcast/"

status=0
for job in primes.sh report.sh pipeline.tgz sum.py; do
	step "cat $P/results/$job/wait"
	code=$(cat "$P/results/$job/wait")
	echo "$code"
	[ "$code" = 0 ] || status=1
done
step "cat $P/results/primes.sh/stdout"
cat "$P/results/primes.sh/stdout"
step "cat $P/results/pipeline.tgz/stdout; ls $P/results/pipeline.tgz/files"
cat "$P/results/pipeline.tgz/stdout"
ls "$P/results/pipeline.tgz/files"
step "ls -R $P/results/report.sh/files"
ls -R "$P/results/report.sh/files"
step "cat $P/results/sum.py/node-*/stdout"
cat "$P"/results/sum.py/node-*/stdout
step "cat $P/status"
cat "$P/status"
step "cat $P/events"
cat "$P/events"

step "rmdir $P"
rmdir "$P"
step "fusermount3 -u $mnt"
skyfs_stop || status=1
if [ "$status" -ne 0 ]; then echo "demo: a job failed" >&2; exit 1; fi
echo
echo "demo: all jobs succeeded"
