#!/bin/sh
# square.sh POOL N...: one job per N on a skyfs pool, submitted and waited
# for by GNU parallel; prints "N N*N" per line in input order.
set -eu
pool=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in "$@"; do
	printf 'echo $((%s * %s))\n' "$n" "$n" > "$work/sq-$n"
done
# submit: 16 copies at a time (the pool's slots decide what runs)
parallel -j 16 cp "$work/sq-{}" "$pool/jobs/sq-{}" ::: "$@"
# wait for each, keeping the input's order; a failed job fails the run
parallel -k -j 16 'code=$(cat '"$pool"'/results/sq-{}/wait); [ "$code" = 0 ] ||
	{ echo "sq-{} exited $code" >&2; exit 1; }; echo "{} $(cat '"$pool"'/results/sq-{}/stdout)"' ::: "$@"
