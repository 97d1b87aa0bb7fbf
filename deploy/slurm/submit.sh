#!/usr/bin/env bash
# Starts fcnsweep workers: as a Slurm job array where `sbatch` is on PATH, else as plain
# background processes on this machine (for a workstation, or to try the job script out).
#
#   deploy/slurm/submit.sh [--tasks N] [--parallel K] [--cpus C] [-- EXTRA WORKER ARGS]
#
#   --tasks N     array tasks, i.e. worker processes in all (Slurm default: the job script's
#                 --array line, 16; local default: 2)
#   --parallel K  at most K tasks at once (Slurm default: the job script's throttle, 4;
#                 local default: N, all at once)
#   --cpus C      cores per task = trials each worker trains at once (Slurm default: the
#                 job script's --cpus-per-task; local default: 1)
#   -- ARGS       passed on to `fcnsweep worker`, e.g. -- --idle-exit 60
#
# The job script reads FCNSWEEP_DB (required), FCNSWEEP_SWEEPS, FCNSWEEP_BIN and
# FCNSWEEP_DATA from the environment; see deploy/slurm/fcnsweep-worker.sbatch.
#
# Logs go to logs/fcnsweep-JOBID_TASK.out and .err under the current directory, in both
# modes. Locally JOBID is `local` followed by this script's process id. Locally the script
# waits for every task and exits 1 if any of them failed (0 if all succeeded); with Slurm
# it exits once sbatch has queued the array.

set -euo pipefail

prog=submit.sh
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
job_script="$here/fcnsweep-worker.sbatch"

usage() {
    sed -n '5,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# Prints a message to stderr and exits with status 2.
die() {
    echo "$prog: error: $*" >&2
    exit 2
}

# Refuses anything but a whole number >= 1 for option $1.
positive() {
    case "$2" in
        "" | *[!0-9]* | 0*) die "$1 needs a whole number >= 1, got '$2'" ;;
    esac
}

# --- Options -------------------------------------------------------------------------------
tasks=""
parallel=""
cpus=""
while [ $# -gt 0 ]; do
    case "$1" in
        --tasks)
            [ $# -ge 2 ] || die "--tasks needs a value"
            positive --tasks "$2"
            tasks="$2"
            shift 2
            ;;
        --parallel)
            [ $# -ge 2 ] || die "--parallel needs a value"
            positive --parallel "$2"
            parallel="$2"
            shift 2
            ;;
        --cpus)
            [ $# -ge 2 ] || die "--cpus needs a value"
            positive --cpus "$2"
            cpus="$2"
            shift 2
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        --)
            shift
            break
            ;;
        *)
            die "unknown option '$1' (worker arguments go after --; see --help)"
            ;;
    esac
done
# "$@" is now the extra worker arguments.

# Both modes need the database; the job script would refuse too, but only after starting.
if [ -z "${FCNSWEEP_DB:-}" ]; then
    die "FCNSWEEP_DB is not set: export FCNSWEEP_DB='postgres://USER:PASSWORD@HOST:5432/DB' (or, locally only, an SQLite file) first"
fi

mkdir -p logs

# --- Slurm ---------------------------------------------------------------------------------
if command -v sbatch >/dev/null 2>&1; then
    # The job script refuses an SQLite FCNSWEEP_DB on the cluster too; checking here as
    # well means the mistake is reported now instead of in the logs after queueing.
    case "$FCNSWEEP_DB" in
        postgres://* | postgresql://*) ;;
        *) die "FCNSWEEP_DB must be a postgres:// URL on a Slurm cluster, not an SQLite file: array tasks share it over a network file system (NFS), whose locks SQLite cannot rely on, and concurrent workers corrupt it" ;;
    esac
    # Options on sbatch's command line override the job script's #SBATCH lines.
    cmd=(sbatch)
    if [ -n "$tasks" ]; then
        array="0-$((tasks - 1))"
        [ -z "$parallel" ] || array="$array%$parallel"
        cmd+=(--array="$array")
    elif [ -n "$parallel" ]; then
        die "--parallel needs --tasks with Slurm (the throttle is part of --array)"
    fi
    [ -z "$cpus" ] || cmd+=(--cpus-per-task="$cpus")
    cmd+=("$job_script" "$@")
    echo "$prog: ${cmd[*]}" >&2
    exec "${cmd[@]}"
fi

# --- Locally: the same job script, N times ---------------------------------------------------
tasks="${tasks:-2}"
parallel="${parallel:-$tasks}"
cpus="${cpus:-1}"
job_id="local$$"
echo "$prog: no sbatch on PATH: running $tasks tasks locally, at most $parallel at once; logs in logs/fcnsweep-${job_id}_*" >&2

# The variables Slurm gives an array task. SLURM_JOB_ID stays unset: the job script takes
# its absence to mean "not on a cluster" (and then accepts an SQLite database).
unset SLURM_JOB_ID
export SLURM_ARRAY_JOB_ID="$job_id"
export SLURM_ARRAY_TASK_COUNT="$tasks"
export SLURM_ARRAY_TASK_MIN=0
export SLURM_ARRAY_TASK_MAX=$((tasks - 1))
export SLURM_CPUS_PER_TASK="$cpus"

# Each task gets its own process group (job control on), so that a Ctrl-C in the terminal
# reaches only this script; stop() then sends the tasks one SIGTERM each. (A worker that got
# both the terminal's SIGINT and a SIGTERM would take the second as "exit at once".)
set -m
# Ctrl-C or kill stops the tasks too (each worker hands its running trials back).
pids=()
stop() {
    echo "$prog: stopping the local tasks" >&2
    [ ${#pids[@]} -eq 0 ] || kill -TERM "${pids[@]}" 2>/dev/null || true
    wait || true
    exit 130
}
trap stop INT TERM

for ((task = 0; task < tasks; task++)); do
    # Throttle: wait while K tasks are running.
    while [ "$(jobs -pr | wc -l)" -ge "$parallel" ]; do
        sleep 0.2
    done
    log="logs/fcnsweep-${job_id}_${task}"
    SLURM_ARRAY_TASK_ID="$task" bash "$job_script" "$@" >"$log.out" 2>"$log.err" &
    pids+=("$!")
done

# Collect every task's exit status (the shell remembers them even for tasks already done).
failed=0
for task in "${!pids[@]}"; do
    if wait "${pids[$task]}"; then
        status=0
    else
        status=$?
    fi
    if [ "$status" -ne 0 ]; then
        echo "$prog: task $task failed with exit status $status; see logs/fcnsweep-${job_id}_${task}.err" >&2
        failed=$((failed + 1))
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "$prog: $failed of $tasks tasks failed" >&2
    exit 1
fi
echo "$prog: all $tasks tasks finished" >&2
