#!/usr/bin/env bash
# Stop the daemons tests/cluster/start_slurm.sh STATE_DIR started, by their pid files (TERM, then KILL).
set -uo pipefail
state="$(realpath -m "${1:?usage: $0 STATE_DIR}")"
export PATH="$PATH:/usr/sbin:/sbin"
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
# Jobs first: with proctrack/linuxproc their processes would outlive slurmd.
if [ -s "$state/slurmctld.pid" ]; then
  SLURM_CONF="$state/slurm.conf" scancel --full --user "$(id -un)" 2>/dev/null
  for _ in $(seq 40); do [ -z "$(SLURM_CONF="$state/slurm.conf" squeue -h 2>/dev/null)" ] && break; sleep 0.25; done
fi
for daemon in slurmd slurmctld munged; do
  pidfile="$state/$daemon.pid"
  [ -s "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  [ "$(ps -p "$pid" -o comm= 2>/dev/null)" = "$daemon" ] || continue  # gone, or the pid was reused
  $sudo kill -TERM "$pid" 2>/dev/null || continue
  for _ in $(seq 20); do $sudo kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  $sudo kill -KILL "$pid" 2>/dev/null || true
  echo "stopped $daemon ($pid)"
done
# The configuration start_slurm.sh wrote (never another one).
if grep -q "^# written by iotad tests/cluster/start_slurm.sh" /etc/slurm/slurm.conf 2>/dev/null; then
  $sudo rm -f /etc/slurm/slurm.conf
fi
exit 0
