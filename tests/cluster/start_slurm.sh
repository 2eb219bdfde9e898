#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, without systemd, for the cluster test:
#   tests/cluster/start_slurm.sh STATE_DIR      (state, logs and pid files in STATE_DIR)
#   tests/cluster/stop_slurm.sh STATE_DIR       stops every daemon this started (by pid)
# Installs Debian's slurmctld, slurmd, slurm-client and munge when missing (needs root or sudo).
# The node offers CPUS (default 8) job slots whatever the real core count, so that 8 jobs can run
# at once; accounting (slurmdbd) is not set up: Snakemake's profile asks squeue for job states.
set -euo pipefail
state="$(realpath -m "${1:?usage: $0 STATE_DIR}")"
cpus="${CPUS:-8}"
partition="${PARTITION:-main}"
export PATH="$PATH:/usr/sbin:/sbin"   # the daemons live there; a user's PATH may lack it
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
   || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null; }
fi

mkdir -p "$state/ctld" "$state/d" "$state/log"
host="$(hostname)"
if scontrol ping 2>/dev/null | grep -q UP || (exec 3<>/dev/tcp/127.0.0.1/6817) 2>/dev/null; then
  echo "ERROR: a slurmctld already answers on this machine (port 6817); stop it first (stop_slurm.sh)." >&2
  exit 1
fi

# munge: a key, its run directory (systemd would make it), the daemon as the munge user.
if [ ! -s /etc/munge/munge.key ]; then
  $sudo mkdir -p /etc/munge
  $sudo dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
$sudo chown munge:munge /etc/munge/munge.key && $sudo chmod 400 /etc/munge/munge.key
$sudo mkdir -p /run/munge /var/lib/munge /var/log/munge
$sudo chown munge:munge /run/munge /var/lib/munge /var/log/munge && $sudo chmod 755 /run/munge
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  if [ -z "$sudo" ]; then runuser -u munge -- munged --pid-file=/run/munge/iotad-munged.pid
  else $sudo -u munge munged --pid-file=/run/munge/iotad-munged.pid; fi
  cp /run/munge/iotad-munged.pid "$state/munged.pid"
fi

# The real memory as slurmd measures it; the CPU count as configured (config_overrides). The file
# goes to /etc/slurm/slurm.conf: srun inside a job reads it there (SLURM_CONF does not reach it).
conf=/etc/slurm/slurm.conf
marker="# written by iotad tests/cluster/start_slurm.sh"
if [ -e "$conf" ] && ! grep -q "^$marker" "$conf"; then
  echo "ERROR: $conf exists and is not this test's; not overwriting a real cluster's configuration." >&2
  exit 1
fi
memory="$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')"
cat > "$state/slurm.conf" <<CONF
$marker
ClusterName=iotad-test
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
MinJobAge=600
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${memory} State=UNKNOWN
PartitionName=${partition} Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF
$sudo mkdir -p /etc/slurm && $sudo cp "$state/slurm.conf" "$conf"
export SLURM_CONF="$conf"
# Each daemon forks; its pid file (what stop_slurm.sh kills) appears a moment later.
wait_for_pid() {
  for _ in $(seq 40); do [ -s "$1" ] && return 0; sleep 0.25; done
  echo "ERROR: no pid file $1; logs in $state/log/" >&2; return 1
}
$sudo slurmctld -f "$SLURM_CONF" && wait_for_pid "$state/slurmctld.pid"
$sudo slurmd -f "$SLURM_CONF" && wait_for_pid "$state/slurmd.pid"

# Ready when the node takes jobs.
for _ in $(seq 60); do
  if sinfo -h -N -o '%T' 2>/dev/null | grep -q -E '^(idle|mixed|allocated)'; then
    echo "SLURM up: node $host, $cpus CPUs, ${memory} MB; export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.5
done
echo "ERROR: SLURM did not come up; logs in $state/log/" >&2
sinfo -N -l >&2 || true
tail -n 20 "$state/log/"*.log >&2 || true
exit 1
