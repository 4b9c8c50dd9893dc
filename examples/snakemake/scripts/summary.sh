#!/bin/sh
# summary.sh QC KMERS [QC KMERS...]: runs here, after the jobs. One line per
# sample (QC's file name without .tsv): its reads, the reads qc kept, its
# distinct k-mers, the most frequent one and its count.
set -eu
export LC_ALL=C
printf 'sample\treads\tkept\tkmers\ttop_kmer\ttop_count\n'
while [ $# -ge 2 ]; do
	awk -v sample="$(basename "$1" .tsv)" -v OFS='\t' '
		NR == FNR { v[$1] = $2; next }
		FNR == 1 { top = $1 OFS $2 }
		{ n++ }
		END { print sample, v["reads"], v["kept"], n + 0, (n ? top : "-" OFS 0) }' "$1" "$2"
	shift 2
done
