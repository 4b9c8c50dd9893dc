#!/bin/bash
# wordcount.sh MNT INPUT [MAPS]: map-reduce word count on a fresh local pool;
# prints the 10 most frequent words ("count word"), removes the pool.
set -euo pipefail
mnt=$1 input=$2 maps=${3:-4}
pool=$mnt/pools/wc-$$
work=$(mktemp -d)
follower=
cleanup() {
	[ -z "$follower" ] || kill "$follower" 2>/dev/null || true
	rmdir "$pool" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

mkdir "$pool"
printf 'slots = %d\n' "$maps" > "$pool/spec"
until [ "$(head -n 1 "$pool/status")" = ready ]; do
	case $(head -n 1 "$pool/status") in failed|invalid) cat "$pool/status" >&2; exit 1;; esac
	sleep 0.1
done

# map: one job per chunk of lines; the chunk travels inside the job
split -n "l/$maps" -d "$input" "$work/chunk-"
for chunk in "$work"/chunk-*; do
	name=map-${chunk##*-}
	{
		echo 'tr -cs "[:alnum:]" "\n" <<"SKYFS_CHUNK" | tr "[:upper:]" "[:lower:]" | grep . | sort | uniq -c > "$SKY_OUTPUT/counts"'
		cat "$chunk"
		echo 'SKYFS_CHUNK'
	} > "$work/$name"
	cp "$work/$name" "$pool/jobs/$name"
done

# follow the done stream until every map job ended; any failure stops us
exec {stream}< <(exec tail -n +1 -F -s 0.2 "$pool/done" 2>/dev/null)
follower=$!
ended=0
while [ "$ended" -lt "$maps" ] && read -r -u "$stream" code state name; do
	[ "$code" = 0 ] || { echo "$name: $state (exit $code)" >&2; exit 1; }
	ended=$((ended + 1))
done
kill "$follower"
exec {stream}<&-
follower=

# reduce: one job summing every map's counts
cat > "$work/reduce" <<REDUCE
cat "$pool"/results/map-*/files/counts | awk '{ n[\$2] += \$1 } END { for (w in n) print n[w], w }' |
	sort -k1,1nr -k2 | head -n 10
REDUCE
cp "$work/reduce" "$pool/jobs/reduce"
[ "$(cat "$pool/results/reduce/wait")" = 0 ] || { cat "$pool/results/reduce/stderr" >&2; exit 1; }
cat "$pool/results/reduce/stdout"
