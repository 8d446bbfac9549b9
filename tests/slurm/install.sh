#!/bin/sh
# Install Debian's Slurm (slurmctld, slurmd, the clients) and munge for the real-Slurm tests.
# Idempotent: does nothing when the daemons are already installed. Exit 0 with a message when apt is
# unavailable (the tests then skip, saying so); needs root for apt-get.
set -eu
if command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 && command -v sbatch >/dev/null 2>&1 \
    && command -v munged >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get not available: slurm not installed, the real-Slurm tests will be skipped"
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
