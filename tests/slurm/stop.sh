#!/bin/sh
# Stop what tests/slurm/start.sh DIR started: slurmd, slurmctld, and munged if it started it.
set -u
DIR=$1
# cancel every job first, so that no job step outlives the daemons
if [ -s "$DIR/slurm.conf" ]; then
    export SLURM_CONF="$DIR/slurm.conf"
    ids=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    [ -n "$ids" ] && scancel $ids 2>/dev/null
    i=0
    while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
fi
for name in slurmd slurmctld; do
    if [ -s "$DIR/$name.run.pid" ]; then
        pid=$(cat "$DIR/$name.run.pid")
        kill "$pid" 2>/dev/null
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
        rm -f "$DIR/$name.run.pid"
    fi
done
if [ -e "$DIR/munge.started" ] && [ -s /run/munge/munged.pid ]; then
    kill "$(cat /run/munge/munged.pid)" 2>/dev/null
    rm -f "$DIR/munge.started"
fi
exit 0
