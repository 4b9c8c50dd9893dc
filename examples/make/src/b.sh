#!/bin/sh
# job b: a second of work, then a line
sleep 1
echo "b on $SKY_NODE slot $SKY_SLOT"
