#!/bin/sh
# job g: a second of work, then a line
sleep 1
echo "g on $SKY_NODE slot $SKY_SLOT"
