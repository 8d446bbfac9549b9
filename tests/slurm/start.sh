#!/bin/sh
# Start a single-node Slurm (Debian slurm-wlm 22.05, munge) for the tests, without systemd, as root.
#   tests/slurm/start.sh DIR CTLD_PORT SLURMD_PORT
# DIR holds everything: slurm.conf, state, spool, logs, pid files. Waits until the node is idle.
# Clients then need SLURM_CONF=DIR/slurm.conf. tests/slurm/stop.sh DIR stops what this started.
set -eu
DIR=$1
CTLD_PORT=${2:-6817}
SLURMD_PORT=${3:-6818}
HOST=$(hostname -s)
getent hosts "$HOST" >/dev/null || { echo "the short host name $HOST does not resolve (add it to /etc/hosts)"; exit 1; }
mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"

# munge: one daemon per machine; started here only if none runs, and then stopped by stop.sh
if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --force
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
install -d -o munge -g munge -m 755 /run/munge
if ! munge -n >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
    touch "$DIR/munge.started"
    i=0
    until munge -n >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -lt 50 ] || { echo "munged did not start"; exit 1; }; sleep 0.1
    done
fi

# 16 CPUs whatever the machine has (config_overrides): the test jobs sleep, and several must run at once
CPUS=16
cat > "$DIR/slurm.conf" <<CONF
ClusterName=islandgrid-test
SlurmctldHost=$HOST
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
ReturnToService=2
SlurmdParameters=config_overrides
MailProg=/bin/true
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
MaxJobCount=20000
NodeName=$HOST CPUs=$CPUS RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

export SLURM_CONF="$DIR/slurm.conf"
cd "$DIR"
setsid /usr/sbin/slurmctld -D -i -f "$SLURM_CONF" >"$DIR/log/slurmctld.out" 2>&1 < /dev/null &
echo $! > "$DIR/slurmctld.run.pid"
setsid /usr/sbin/slurmd -D -f "$SLURM_CONF" >"$DIR/log/slurmd.out" 2>&1 < /dev/null &
echo $! > "$DIR/slurmd.run.pid"
i=0
until [ "$(sinfo -h -o %t 2>/dev/null | head -n1)" = "idle" ]; do
    i=$((i + 1))
    if [ $i -ge 300 ]; then
        echo "the node did not become idle in 30 s; logs in $DIR/log"; tail -n 20 "$DIR/log/"*.log; exit 1
    fi
    sleep 0.1
done
