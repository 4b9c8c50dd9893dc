#!/usr/bin/env python3
print(sum(range(10)))
