#!/bin/sh
# qc.sh MIN_QUAL [PAUSE]: a job. Checks reads.fastq (in its working
# directory), keeps the reads whose mean base quality (Phred+33) is at least
# MIN_QUAL: $SKY_OUTPUT/filtered.fastq and $SKY_OUTPUT/qc.tsv (reads, kept).
# A malformed record fails the job (exit 2, the line in stderr). PAUSE
# seconds of sleep stand in for a longer job.
set -eu
export LC_ALL=C
: > "$SKY_OUTPUT/filtered.fastq"
awk -v min="$1" -v out="$SKY_OUTPUT/filtered.fastq" -v stats="$SKY_OUTPUT/qc.tsv" '
function bad(why) { printf "reads.fastq:%d: %s\n", NR, why > "/dev/stderr"; failed = 1; exit 2 }
BEGIN { for (i = 33; i < 127; i++) q[sprintf("%c", i)] = i - 33 }
NR % 4 == 1 { if (substr($0, 1, 1) != "@") bad("not a FASTQ header"); head = $0 }
NR % 4 == 2 { if ($0 !~ /^[ACGTN]+$/) bad("not a sequence"); seq = $0 }
NR % 4 == 3 { if (substr($0, 1, 1) != "+") bad("no + line") }
NR % 4 == 0 {
	if (length($0) != length(seq)) bad("quality and sequence differ in length")
	sum = 0
	for (i = 1; i <= length($0); i++) sum += q[substr($0, i, 1)]
	reads++
	if (sum >= min * length($0)) { kept++; print head "\n" seq "\n+\n" $0 > out }
}
END {
	if (failed) exit 2
	if (NR % 4) bad("truncated record")
	if (!reads) bad("no reads")
	printf "reads\t%d\nkept\t%d\n", reads, kept > stats
}' reads.fastq
sleep "${2:-0}"
awk -v job="$SKY_JOB" -v where="$SKY_NODE slot $SKY_SLOT" '{ v[$1] = $2 }
	END { printf "%s: kept %d of %d reads, on %s\n", job, v["kept"], v["reads"], where }' "$SKY_OUTPUT/qc.tsv"
