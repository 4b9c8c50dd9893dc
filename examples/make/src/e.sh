#!/bin/sh
# job e: a second of work, then a line
sleep 1
echo "e on $SKY_NODE slot $SKY_SLOT"
