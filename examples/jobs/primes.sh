#!/bin/sh
# Counts the primes below a limit (default 20000) with awk: a small CPU job.
limit=${LIMIT:-20000}
awk -v n="$limit" 'BEGIN {
	c = 0
	for (i = 2; i < n; i++) {
		p = 1
		for (d = 2; d * d <= i; d++) if (i % d == 0) { p = 0; break }
		c += p
	}
	printf "%d primes below %d (node %s of %s)\n", c, n, ENVIRON["SKY_NODE_RANK"], ENVIRON["SKY_NUM_NODES"]
}'
