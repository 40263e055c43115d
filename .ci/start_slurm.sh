#!/usr/bin/env bash
# A single-node Slurm on this host for tests/test_slurm.py (issue 16): munge, slurmctld and slurmd, as root.
# Idempotent and quick when Slurm already answers. Never fails: where Slurm cannot be installed or started it says
# why, and the test skips with that reason (written to $SCIVID_SLURM_STATUS).
set -u
STATUS=${SCIVID_SLURM_STATUS:-/tmp/scivid-slurm-status}
CONF=/etc/slurm/slurm.conf
MARK='# written by scivid .ci/start_slurm.sh'
say() { echo "start_slurm: $*"; echo "$*" > "$STATUS"; }

if command -v sinfo >/dev/null && timeout 5 sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
  say "up"; exit 0
fi
if [ "$(id -u)" != 0 ]; then say "not root: cannot install or start Slurm"; exit 0; fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  if ! command -v apt-get >/dev/null; then say "no apt-get to install slurm-wlm and munge"; exit 0; fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge) >/tmp/scivid-slurm-apt.log 2>&1 \
    || { say "apt-get install slurm-wlm munge failed (see /tmp/scivid-slurm-apt.log)"; exit 0; }
fi
if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then say "$CONF exists and is not ours: leaving it alone"; exit 0; fi

# munge: a key, then the daemon (as the munge user, as Debian runs it)
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null
chmod 0400 /etc/munge/munge.key; chmod 0755 /run/munge
if ! munge -n >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged || /usr/sbin/munged --force || { say "munged did not start"; exit 0; }
fi

# slurm.conf: this host as the one node, with its CPUs and memory; one default partition
node=$(hostname -s); read -r cpus mem < <(slurmd -C | awk -F'[ =]' '/NodeName/ {for (i=1;i<NF;i++) {if ($i=="CPUs") c=$(i+1); if ($i=="RealMemory") m=$(i+1)}; print c, m}')
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > "$CONF" <<CONF
$MARK
ClusterName=scivid
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$node CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
pgrep -x slurmctld >/dev/null || slurmctld || { say "slurmctld did not start (see /var/log/slurm/slurmctld.log)"; exit 0; }
pgrep -x slurmd >/dev/null || slurmd || { say "slurmd did not start (see /var/log/slurm/slurmd.log)"; exit 0; }
for _ in $(seq 30); do
  if timeout 5 sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then say "up"; exit 0; fi
  sleep 1
done
say "Slurm started but its node is not idle after 30 s (sinfo: $(sinfo -h -o '%T %E' 2>&1 | head -1))"
exit 0
