#!/bin/sh
# job d: a second of work, then a line
sleep 1
echo "d on $SKY_NODE slot $SKY_SLOT"
