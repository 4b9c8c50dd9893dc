#!/bin/sh
# job h: a second of work, then a line
sleep 1
echo "h on $SKY_NODE slot $SKY_SLOT"
