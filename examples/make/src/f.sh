#!/bin/sh
# job f: a second of work, then a line
sleep 1
echo "f on $SKY_NODE slot $SKY_SLOT"
