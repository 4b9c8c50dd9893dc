#!/usr/bin/env bash
# Refreshes a shipped offer snapshot from a mounted skyfs:
#
#   scripts/refresh-catalog.sh MNT PROVIDER      e.g. /mnt/sky aws
#
# Reads MNT/catalog/offers (a header line, then per offer: provider,
# instance_type, region, accelerator, count, vcpus, memory_gb, market,
# usd_per_hour, source, age; tab-separated, or blank-separated with only the
# instance type holding blanks), keeps PROVIDER's live rows, folds the
# on-demand and spot rows of one node shape (instance type, region, count)
# into one line, keeping the cheapest of each, and writes
# catalog/data/offers-PROVIDER.tsv dated today. Left out, with a note on
# stderr: rows whose accelerator is not a canonical name in
# catalog/data/accelerators.tsv (the build would reject them) and shapes with
# no on-demand price. Nothing is written when no row is left, so a provider
# that was down does not wipe its snapshot. The tables are compiled in:
# rebuild afterwards, and review the diff (prices are not checked).
set -euo pipefail
if [ $# -ne 2 ]; then
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
	exit 2
fi
provider=$2
case $provider in
'' | *[!a-z0-9_]*) echo "refresh-catalog: bad provider name \"$provider\"" >&2; exit 2 ;;
esac
# MNT is relative to where the script was run from, not the repository
case $1 in
/*) src=$1/catalog/offers ;;
*) src=$PWD/$1/catalog/offers ;;
esac
cd "$(dirname "$0")/.."
out=catalog/data/offers-$provider.tsv
[ -r "$src" ] || { echo "refresh-catalog: cannot read $src" >&2; exit 1; }
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT

rc=0
awk -v provider="$provider" -v today="$(date -u +%F)" '
BEGIN { FS = "\t"; OFS = "\t" }
# first file: the canonical accelerator names
FNR == NR {
	if ($0 !~ /^#/ && $0 != "" && $1 != "name")
		known[$1] = 1
	next
}
FNR == 1 || $0 ~ /^[ \t]*$/ { next }
{
	if (index($0, "\t")) {
		n = split($0, f, "\t")
		if (n != 11) { bad++; next }
		type = f[2]; region = f[3]; acc = f[4]; cnt = f[5]; vcpus = f[6]
		mem = f[7]; market = f[8]; price = f[9]; source = f[10]
	} else {
		# blanks: fixed fields from both ends, the instance type between
		n = split($0, f, " ")
		if (f[n] == "stale") n--   # a flag after the age, on snapshot rows
		if (n < 11) { bad++; next }
		region = f[n - 8]; acc = f[n - 7]; cnt = f[n - 6]; vcpus = f[n - 5]
		mem = f[n - 4]; market = f[n - 3]; price = f[n - 2]; source = f[n - 1]
		type = f[2]
		for (i = 3; i <= n - 9; i++)
			type = type " " f[i]
	}
	if (f[1] == "provider" || f[1] != provider || source != "live")
		next
	if (acc == "-" || acc == "none") acc = ""
	if (vcpus == "-") vcpus = 0
	if (mem == "-") mem = 0
	if (acc != "" && !(acc in known)) { unknown[acc] = 1; next }
	if (price !~ /^[0-9]+(\.[0-9]+)?$/ || price + 0 <= 0 || cnt !~ /^[0-9]+$/) { bad++; next }
	key = type SUBSEP region SUBSEP cnt
	if (!(key in seen)) {
		seen[key] = 1; order[++nk] = key
		T[key] = type; R[key] = region; A[key] = acc; C[key] = cnt; V[key] = vcpus; M[key] = mem
	}
	if (market == "spot") {
		if (!(key in SP) || price + 0 < SP[key] + 0) SP[key] = price
	} else if (market == "on-demand") {
		if (!(key in OD) || price + 0 < OD[key] + 0) OD[key] = price
	} else {
		bad++
	}
}
END {
	print "# snapshot " today " live " provider " offers read from a mounted skyfs (catalog/offers) by scripts/refresh-catalog.sh"
	print "instance_type", "region", "accelerator", "count", "vcpus", "memory_gb", "ondemand_usd_h", "spot_usd_h"
	for (i = 1; i <= nk; i++) {
		k = order[i]
		if (!(k in OD)) { spot_only++; continue }
		print T[k], R[k], A[k], C[k], V[k], M[k], OD[k], (k in SP) ? SP[k] : ""
		rows++
	}
	for (a in unknown)
		printf "refresh-catalog: left out rows with accelerator \"%s\" (not in accelerators.tsv)\n", a > "/dev/stderr"
	if (spot_only)
		printf "refresh-catalog: left out %d spot-only shapes (no on-demand price)\n", spot_only > "/dev/stderr"
	if (bad)
		printf "refresh-catalog: skipped %d malformed lines\n", bad > "/dev/stderr"
	if (!rows)
		exit 3
}' catalog/data/accelerators.tsv "$src" >"$tmp" || rc=$?
if [ "$rc" -eq 3 ]; then
	echo "refresh-catalog: no usable live $provider rows in $src; $out left as it was" >&2
	exit 1
fi
[ "$rc" -eq 0 ] || exit "$rc"
chmod 644 "$tmp"
mv "$tmp" "$out"
echo "refresh-catalog: wrote $out, rows: $(($(wc -l <"$out") - 2))" >&2
