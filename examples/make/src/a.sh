#!/bin/sh
# job a: a second of work, then a line
sleep 1
echo "a on $SKY_NODE slot $SKY_SLOT"
