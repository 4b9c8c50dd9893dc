#!/usr/bin/env python3
# Runs on every node as a broadcast: each rank sums its share of 1..N.
import os
rank = int(os.environ["SKY_NODE_RANK"])
nodes = int(os.environ["SKY_NUM_NODES"])
n = 1_000_000
part = sum(range(rank + 1, n + 1, nodes))
print(f"rank {rank}/{nodes}: partial sum {part}")
