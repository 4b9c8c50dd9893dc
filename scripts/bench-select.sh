#!/usr/bin/env bash
# Selection benchmark: rank N synthetic offers (default 100k) for a spec with
# three alternatives, R times (default 200); reports ms per selection (mean,
# p50, p99) for sky_rank and, in the same run, for the obvious approach
# (filter each alternative into whole candidates, qsort them, merge). Goal:
# under 10 ms per selection. No mount needed.
#   scripts/bench-select.sh [N] [R]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
build/tests/bench_select "${1:-100000}" "${2:-200}"
