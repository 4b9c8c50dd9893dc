#!/usr/bin/env bash
# Installs what is missing, builds a normal and an ASan/UBSan build, and runs
# every test (cmocka unit tests and mount-level integration tests) in both,
# then each libFuzzer target for a short while (scripts/fuzz.sh).
# The last line is the overall "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1

passed=0
failed=0
# the name of each failed test, printed again at the end: CI keeps only
# the tail of a long log
failures=$(mktemp)
summary() {
	# adds the "N passed, N failed" of one run to the totals, and its
	# failed tests' lines to $failures
	local line
	grep -E '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT|ERROR) |^(FAIL|ERROR): |^point [0-9]+: .*: FAILED|FAILED \(exit' \
		"$1" | awk -v l="$label" '{ print "  " l ": " $0 }' >>"$failures"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		echo "  $label: no \"N passed\" line: the run ended early" >>"$failures"
		failed=$((failed + 1))
		return
	fi
	passed=$((passed + $(echo "$line" | awk '{print $1}')))
	failed=$((failed + $(echo "$line" | awk '{print $3}')))
}

run_build() {
	local dir=$1 label=$2
	shift 2
	echo "== $label: build"
	if ! scripts/build.sh "$dir" "$@"; then
		echo "$label: build failed"
		failed=$((failed + 1))
		return
	fi
	echo "== $label: unit tests"
	local log
	log=$(mktemp)
	if meson test -C "$dir" --suite unit --print-errorlogs >"$log" 2>&1; then :; fi
	grep -E '^ *[0-9]+/[0-9]+ ' "$log"
	local ok fail
	ok=$(grep -Ec '^ *[0-9]+/[0-9]+ .* OK ' "$log")
	fail=$(grep -Ec '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT|ERROR) ' "$log")
	[ "$fail" -eq 0 ] || cat "$dir/meson-logs/testlog.txt"
	echo "$ok passed, $fail failed" >>"$log"
	summary "$log"
	echo "== $label: integration tests (at ${SECONDS}s)"
	# three processes on two cores: the mount tests mostly wait (on
	# sshd, Slurm, podman, jobs), and the whole suite must stay well
	# under 15 minutes on CI's 2-core machine
	python3 tests/integration/run.py --skyfs "$dir/skyfs" -j 3 2>&1 | tee "$log"
	summary "$log"
	echo "== $label: crash tests (at ${SECONDS}s)"
	python3 tests/crash/run.py --skyfs "$dir/skyfs" 2>&1 | tee "$log"
	summary "$log"
	rm -f "$log"
}

# crash points: 25 on the normal build and 15 under ASan (each run draws
# new ones; the harness's own default is 50), which keeps the suite near
# 13 minutes on CI's 2-core machine
SKYFS_CRASH_POINTS=25 run_build build "normal build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 SKYFS_CRASH_POINTS=15 \
	run_build build-asan "ASan/UBSan build" -Db_sanitize=address,undefined -Db_lundef=false \
	-Dbuildtype=debug

# libFuzzer on every parser (build-fuzz, clang); each target is one test
fuzz_secs=5
echo "== fuzz: $fuzz_secs s per target (at ${SECONDS}s)"
log=$(mktemp)
label=fuzz
scripts/fuzz.sh "$fuzz_secs" 2>&1 | tee "$log"
summary "$log"
rm -f "$log"

echo
echo "(${SECONDS}s in all)"
if [ -s "$failures" ]; then
	echo "failed:"
	cat "$failures"
fi
rm -f "$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
