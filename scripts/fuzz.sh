#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan/UBSan, in
# build-fuzz) and runs each for SECONDS_PER_TARGET (default 20) on a copy
# of its seed corpus, so that a run never grows the repository:
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
# Prints one row per target and, last, "N passed, N failed" (a target that
# crashes, leaks, times out or runs out of memory fails). The input that
# failed is kept under build-fuzz/fuzz-artifacts/<target>/ and its path
# printed; replay it with build-fuzz/tests/fuzz_<target> FILE.
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;; esac
dir=build-fuzz
targets=(spec spec_json payload aws runpod vastai lambda slurm catalog)

if ! command -v clang >/dev/null; then
	echo "fuzz: clang is missing (scripts/deps.sh installs it)"
	echo "0 passed, ${#targets[@]} failed"
	exit 1
fi
if [ ! -f "$dir/build.ninja" ] &&
	! CC=clang meson setup "$dir" -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debug -Dwerror=true >/dev/null; then
	echo "fuzz: meson setup failed"
	echo "0 passed, ${#targets[@]} failed"
	exit 1
fi
if ! ninja -C "$dir" "${targets[@]/#/tests/fuzz_}" >/dev/null; then
	echo "fuzz: build failed"
	echo "0 passed, ${#targets[@]} failed"
	exit 1
fi

work=$(mktemp -d /tmp/skyfs-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
artifacts=$dir/fuzz-artifacts
passed=0
failed=0
crashes=()
printf '%-10s %10s %8s %6s %7s  %s\n' target runs exec/s cov corpus result
for t in "${targets[@]}"; do
	mkdir -p "$work/$t" "$artifacts/$t"
	cp -r "tests/fuzz/corpus/$t" "$work/$t/corpus"
	log=$work/$t/log
	rc=0
	"$dir/tests/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$artifacts/$t/" "$work/$t/corpus" \
		>"$log" 2>&1 || rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -oE ' cov: [0-9]+' "$log" | tail -n 1 | awk '{print $2}')
	size=$(find "$work/$t/corpus" -type f | wc -l)
	crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ] && [ -z "$crash" ]; then
		result=ok
		passed=$((passed + 1))
	else
		result="FAILED (exit $rc)"
		failed=$((failed + 1))
		crashes+=("$t" "$log" "$crash")
		# the log goes with the work directory: keep it next to the input
		cp "$log" "$artifacts/$t/last.log"
	fi
	printf '%-10s %10s %8s %6s %7s  %s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "$size" \
		"$result"
done

# only failures leave something there
rmdir "$artifacts"/* "$artifacts" 2>/dev/null
for ((i = 0; i < ${#crashes[@]}; i += 3)); do
	t=${crashes[i]}
	echo
	echo "== fuzz_$t failed; its output ends:"
	grep -v '^stat::\|^#[0-9]' "${crashes[i + 1]}" | tail -n 40
	echo "log: $artifacts/$t/last.log"
	if [ -n "${crashes[i + 2]}" ]; then
		echo "input: ${crashes[i + 2]}"
		echo "replay: $dir/tests/fuzz_$t ${crashes[i + 2]}"
	fi
done
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
