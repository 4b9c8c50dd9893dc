#!/bin/sh
# job c: a second of work, then a line
sleep 1
echo "c on $SKY_NODE slot $SKY_SLOT"
