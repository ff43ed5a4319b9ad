#!/usr/bin/env bash
# Runs the README's Slurm job array ("Past one machine") for real, on this machine, and
# checks that the merged shards are byte-identical to an unsharded run.
#
#     cargo build --release --locked && sudo scripts/slurm-local.sh
#     sudo FAULTLINE=/path/to/faultline SHARDS=4 scripts/slurm-local.sh
#
# As root, on Debian or Ubuntu: installs Slurm and MUNGE from the distribution's packages
# when they are missing, writes a one-node slurm.conf for this host (its CPUs and memory
# as `slurmd -C` reports them; process tracking by /proc, no cgroups, no accounting, so
# it works in a container without systemd), starts munged (unless one answers already),
# slurmctld and slurmd, then for each case below runs the command unsharded into one
# directory, submits it as an array of SHARDS tasks (`--shard "$SLURM_ARRAY_TASK_ID/N"`)
# into another, merges with a job that depends on the array (`--dependency=afterok`),
# and compares the two with `diff -r`. Exits non-zero on any difference or failure. On
# exit it stops the daemons it started and removes its state directory.
#
# Environment:
#   FAULTLINE   the binary (default: ${CARGO_TARGET_DIR:-target}/release/faultline,
#               built with `cargo build --release --locked` when missing)
#   SHARDS      array size (default 3)
#   STATE_DIR   configuration, spool, logs and results (default
#               /var/tmp/faultline-slurm-local; emptied at the start, removed at the end)
#   KEEP=1      keep STATE_DIR (logs and results) at the end
#   SLURMCTLD_PORT, SLURMD_PORT   (default 16817, 16818: clear of a real cluster's)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

shards="${SHARDS:-3}"
state="${STATE_DIR:-/var/tmp/faultline-slurm-local}"
ctld_port="${SLURMCTLD_PORT:-16817}"
slurmd_port="${SLURMD_PORT:-16818}"

script_start="${EPOCHREALTIME/[.,]/}"
step_start="${script_start}"

# Seconds since $1 (microseconds since the epoch), to a tenth.
since() {
    local us=$((${EPOCHREALTIME/[.,]/} - $1))
    printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000))
}
log() { printf '[slurm-local] %s\n' "$*"; }
step() {
    step_start="${EPOCHREALTIME/[.,]/}"
    log "$*"
}
done_step() { log "  done in $(since "${step_start}") s${1:+: $1}"; }
die() {
    log "FAILED: $*" >&2
    exit 1
}

if [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo): it installs packages and starts slurmd, which must be root"
fi
case "${shards}" in
'' | *[!0-9]* | 0 | 1) die "SHARDS must be an integer of at least 2, not '${shards}'" ;;
esac

# --- Daemons: only those this script started are stopped, by their process ids. ---
started_pids=()
started_munged=""
state_ours=1
cleanup() {
    local status=$?
    set +e
    if [ -n "${SLURM_CONF:-}" ] && [ -f "${SLURM_CONF}" ] && [ "${#started_pids[@]}" -gt 0 ]; then
        scancel --quiet --user "$(id -un)" >/dev/null 2>&1
    fi
    for pid in "${started_pids[@]}"; do
        kill "${pid}" 2>/dev/null && wait "${pid}" 2>/dev/null
    done
    if [ -n "${started_munged}" ]; then
        kill "${started_munged}" 2>/dev/null
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        log "kept ${state}"
    elif [ -n "${state_ours}" ]; then
        rm -rf "${state}"
    fi
    if [ "${status}" -eq 0 ]; then
        log "all checks passed; total $(since "${script_start}") s"
    else
        log "exit ${status}; total $(since "${script_start}") s" >&2
    fi
    exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Only a directory this script made (it holds the marker) is emptied.
if [ -d "${state}" ] && [ -n "$(ls -A "${state}")" ] && [ ! -e "${state}/.slurm-local" ]; then
    state_ours=""
    die "STATE_DIR ${state} is not empty and was not made by this script; choose another"
fi
# A previous run killed before its trap ran leaves its daemons' pid files behind.
for pidfile in "${state}/run/slurmctld.pid" "${state}/run/slurmd.pid" "${state}/run/munged.pid"; do
    if [ -f "${pidfile}" ]; then
        pid="$(cat "${pidfile}")"
        if [ -n "${pid}" ] && grep -qsE 'slurm|munged' "/proc/${pid}/comm"; then
            log "stopping ${pidfile##*/} ${pid} left by an earlier run"
            kill "${pid}" || true
            sleep 1
        fi
    fi
done
rm -rf "${state}"
mkdir -p "${state}"/{etc,run,log,spool/ctld,spool/d,jobs,results}
touch "${state}/.slurm-local"

# --- Slurm and MUNGE from the distribution ---
step "installing Slurm and MUNGE"
if command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
    command -v sbatch >/dev/null && command -v munged >/dev/null; then
    done_step "already installed ($(slurmctld -V))"
else
    command -v apt-get >/dev/null || die "no apt-get: install slurmctld, slurmd, slurm-client and munge by hand"
    # Keep the packages' maintainer scripts from starting the daemons with their own
    # configuration (and failing without systemd): this script starts them itself.
    policy=/usr/sbin/policy-rc.d
    made_policy=""
    if [ ! -e "${policy}" ]; then
        printf '#!/bin/sh\nexit 101\n' >"${policy}"
        chmod 755 "${policy}"
        made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >"${state}/log/apt.log" 2>&1 ||
        {
            cat "${state}/log/apt.log" >&2
            [ -z "${made_policy}" ] || rm -f "${policy}"
            die "apt-get install"
        }
    [ -z "${made_policy}" ] || rm -f "${policy}"
    done_step "$(slurmctld -V)"
fi

# --- faultline ---
bin="${FAULTLINE:-${CARGO_TARGET_DIR:-target}/release/faultline}"
if [ ! -x "${bin}" ]; then
    [ -z "${FAULTLINE:-}" ] || die "FAULTLINE=${FAULTLINE} is not an executable"
    step "building ${bin}"
    cargo build --release --locked
    done_step
fi
bin="$(cd "$(dirname "${bin}")" && pwd)/$(basename "${bin}")"
log "faultline: ${bin}"

# --- MUNGE ---
step "starting munged"
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    done_step "a munged already answers; using it"
else
    key=/etc/munge/munge.key
    if [ ! -s "${key}" ]; then
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile="${key}"
        else # MUNGE before 0.5.14
            dd if=/dev/urandom of="${key}" bs=1024 count=1 status=none
        fi
        log "  created ${key}"
    fi
    chown munge:munge "${key}"
    chmod 0400 "${key}"
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    runuser -u munge -- munged
    started_munged="$(cat /run/munge/munged.pid)"
    echo "${started_munged}" >"${state}/run/munged.pid"
    munge -n | unmunge >/dev/null || die "munged does not answer"
    done_step "pid ${started_munged}"
fi

# --- slurm.conf for this one node ---
host="$(hostname -s)"
# `slurmd -C` prints this host's node line: CPUs, sockets, cores, threads, RealMemory.
node_line="$(slurmd -C | grep '^NodeName=')"
[ -n "${node_line}" ] || die "slurmd -C printed no NodeName line"
node_line="${node_line/#NodeName=* CPUs=/NodeName=${host} NodeAddr=127.0.0.1 CPUs=}"
export SLURM_CONF="${state}/etc/slurm.conf"
cat >"${SLURM_CONF}" <<EOF
# Written by scripts/slurm-local.sh: one node, no cgroups, no accounting.
ClusterName=faultline-local
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${ctld_port}
SlurmdPort=${slurmd_port}
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=${state}/spool/ctld
SlurmdSpoolDir=${state}/spool/d
SlurmctldPidFile=${state}/run/slurmctld.pid
SlurmdPidFile=${state}/run/slurmd.pid
SlurmctldLogFile=${state}/log/slurmctld.log
SlurmdLogFile=${state}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MailProg=/bin/true
${node_line} State=UNKNOWN
PartitionName=local Nodes=${host} Default=YES MaxTime=INFINITE State=UP
EOF
log "slurm.conf: ${node_line}"

# --- slurmctld and slurmd ---
step "starting slurmctld and slurmd"
slurmctld -D -f "${SLURM_CONF}" >"${state}/log/slurmctld.out" 2>&1 &
started_pids+=($!)
slurmd -D -f "${SLURM_CONF}" >"${state}/log/slurmd.out" 2>&1 &
started_pids+=($!)
node_state=""
for _ in $(seq 1 120); do
    node_state="$(sinfo --noheader --nodes="${host}" --format=%T 2>/dev/null || true)"
    [ "${node_state}" = idle ] && break
    for pid in "${started_pids[@]}"; do
        if ! kill -0 "${pid}" 2>/dev/null; then
            tail -n 20 "${state}"/log/slurm*.log "${state}"/log/slurm*.out >&2 || true
            die "a Slurm daemon exited"
        fi
    done
    sleep 0.5
done
if [ "${node_state}" != idle ]; then
    tail -n 20 "${state}"/log/slurm*.log >&2 || true
    die "node ${host} is '${node_state}', not idle, after 60 s"
fi
done_step "$(sinfo --noheader --format='%P %D node(s) %T, %c CPUs, %m MB')"

# --- the checks ---
failures=0

# check_sharded KIND SCENARIO ARGS...: `faultline KIND SCENARIO ARGS... --out A`, then the
# same as a Slurm array of $shards tasks with `--shard I/N --out B` and a dependent
# `faultline merge`; B/<scenario>/KIND must equal A/<scenario>/KIND byte for byte.
check_sharded() {
    local kind="$1" scenario="$2"
    shift 2
    local dir
    dir="${state}/results/${kind}-$(basename "${scenario}" .json)"
    local unsharded="${dir}/unsharded" sharded="${dir}/slurm" logs="${dir}/logs"
    mkdir -p "${unsharded}" "${sharded}" "${logs}"

    step "${kind} ${scenario} $*: unsharded"
    local status=0
    "${bin}" "${kind}" "${scenario}" "$@" --out "${unsharded}" >"${logs}/unsharded.log" 2>&1 || status=$?
    if [ "${status}" -ne 0 ]; then
        cat "${logs}/unsharded.log" >&2
        die "unsharded ${kind} exited ${status}"
    fi
    # The one directory it wrote is named after the scenario (its `name`).
    local name
    name="$(cd "${unsharded}" && ls -d -- */)"
    name="${name%/}"
    if [ -z "${name}" ] || [ ! -d "${unsharded}/${name}/${kind}" ]; then
        die "unsharded ${kind} wrote no ${kind}/ directory in ${unsharded}"
    fi
    done_step "${name}/${kind}/: $(find "${unsharded}/${name}/${kind}" -type f | wc -l) files"

    step "${kind} ${scenario} $*: Slurm array of ${shards} and a dependent merge"
    # The job script as the README writes it, with the array size and paths of this run.
    local job="${state}/jobs/${kind}-${name}.sh"
    {
        echo '#!/bin/bash'
        echo "#SBATCH --job-name=faultline-${kind}-${name}"
        echo "#SBATCH --array=0-$((shards - 1))"
        echo '#SBATCH --cpus-per-task=1'
        echo "#SBATCH --chdir=${repo}"
        echo "#SBATCH --output=${logs}/shard-%a.log"
        printf 'exec %q %q %q' "${bin}" "${kind}" "${scenario}"
        printf ' %q' "$@"
        # shellcheck disable=SC2016 # expanded by the job, not here
        printf ' --shard "$SLURM_ARRAY_TASK_ID/%d" --jobs "$SLURM_CPUS_PER_TASK" --out %q\n' \
            "${shards}" "${sharded}"
    } >"${job}"
    local array_id merge_id
    array_id="$(sbatch --parsable "${job}")"
    array_id="${array_id%%;*}"
    # The merge waits for every task of the array (afterok); --kill-on-invalid-dep cancels
    # it, rather than leaving it pending, when a shard fails.
    status=0
    merge_id="$(sbatch --parsable --wait --job-name="faultline-merge-${name}" \
        --dependency="afterok:${array_id}" --kill-on-invalid-dep=yes \
        --chdir="${repo}" --output="${logs}/merge.log" \
        --wrap="$(printf '%q ' "${bin}" merge "${sharded}/${name}" --out "${sharded}")")" ||
        status=$?
    merge_id="${merge_id%%;*}"
    done_step "array job ${array_id}, merge job ${merge_id}"
    # `sbatch --wait` exits 0 for a job cancelled before it started, so the states decide:
    # every task of the array and the merge must have COMPLETED (exit code 0).
    local states
    states="$({ scontrol --oneliner show job "${array_id}" || true; scontrol --oneliner show job "${merge_id}" || true; } |
        sed -n 's/^JobId=\([0-9]*\) .*JobName=\([^ ]*\) .*JobState=\([A-Z_]*\) .*ExitCode=\([0-9:]*\).*/\1 \2 \3 \4/p')"
    if [ "${status}" -ne 0 ] || [ "$(grep -c ' COMPLETED 0:0$' <<<"${states}")" -ne $((shards + 1)) ]; then
        printf '%s\n' "${states}" >&2
        tail -n 5 "${logs}"/shard-*.log "${logs}"/merge.log >&2 2>/dev/null || true
        log "FAILED: ${kind} ${scenario}: not every shard and merge job completed (sbatch --wait exited ${status})" >&2
        failures=$((failures + 1))
        return
    fi

    local i got=0
    for i in $(seq 0 $((shards - 1))); do
        [ -s "${sharded}/${name}/${kind}-shard-${i}-of-${shards}/partial.json" ] && got=$((got + 1))
    done
    if [ "${got}" -ne "${shards}" ]; then
        log "FAILED: ${kind}: ${got} of ${shards} partial.json files in ${sharded}/${name}" >&2
        failures=$((failures + 1))
    elif diff -r "${unsharded}/${name}/${kind}" "${sharded}/${name}/${kind}" >"${logs}/diff.txt" 2>&1; then
        log "  identical: ${name}/${kind}/ unsharded and merged from ${shards} Slurm shards"
    else
        head -n 40 "${logs}/diff.txt" >&2
        log "FAILED: ${kind}: ${name}/${kind}/ differs between the unsharded run and the merged shards" >&2
        failures=$((failures + 1))
    fi
}

# Small grids (each runs in under a second on one core): what is checked is the path
# through Slurm, not the simulator's speed. 8 cells in 3 shards are uneven (3, 3, 2).
check_sharded compare scenarios/slow-database.json --seeds 2
check_sharded sweep scenarios/retry-storm.json --seeds 2 \
    --set services.api.endpoints.handle.calls.query.retry.max_attempts=1,4 \
    --set workload.users.rate=200/s,600/s
# Another subcommand with --shard is one more call.
if "${bin}" search --help >/dev/null 2>&1; then
    check_sharded search scenarios/shop-steady.json --seeds 1 --depth 2
else
    log "skipping search: '${bin##*/} search --help' fails (this faultline has no search subcommand)"
fi

[ "${failures}" -eq 0 ] || die "${failures} check(s) failed"
