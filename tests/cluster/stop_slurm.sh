#!/usr/bin/env bash
# Stop the daemons tests/cluster/start_slurm.sh STATE_DIR started, by their pid files (TERM, then KILL).
set -uo pipefail
state="$(realpath -m "${1:?usage: $0 STATE_DIR}")"
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
for daemon in slurmd slurmctld munged; do
  pidfile="$state/$daemon.pid"
  [ -s "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
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
