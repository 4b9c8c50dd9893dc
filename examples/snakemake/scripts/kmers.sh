#!/bin/sh
# kmers.sh K: a job. Counts the K-mers of the reads in filtered.fastq (in its
# working directory), those with an N left out, into $SKY_OUTPUT/kmers.tsv:
# "KMER<tab>COUNT", most frequent first, ties in KMER order.
set -eu
export LC_ALL=C
awk -v k="$1" 'NR % 4 == 2 {
	for (i = 1; i + k - 1 <= length($0); i++) {
		m = substr($0, i, k)
		if (m !~ /N/) n[m]++
	}
}
END { for (m in n) printf "%s\t%d\n", m, n[m] }' filtered.fastq |
	sort -k2,2nr -k1,1 > "$SKY_OUTPUT/kmers.tsv"
echo "$SKY_JOB: $(wc -l < "$SKY_OUTPUT/kmers.tsv") distinct $1-mers, on $SKY_NODE slot $SKY_SLOT"
