#!/usr/bin/env bash
# Issue #15's GPU figures in one go, each in a fresh process under a hard time limit (under 8 minutes in all):
#
#   bash benchmarks/gpu.sh [--device auto|cpu|cuda[:N]|mps] [--quick]
#
# From the repository root of a set-up clone (.venv made by scripts/setup.sh with a CUDA build of torch).
# It downloads nothing: photos from ../shared/images when that folder sits next to the clone, else the
# bundled photo; the style models from ../shared/weights when it is there, else the user's weights cache
# (`brushwork weights fetch cd16x` fills it), with BRUSHWORK_OFFLINE=1 so a missing file is a table row
# saying so, not a download. Each figure's own output (its warm-up, progress) is printed as it runs; then
# one table: figure | target | measured | device name; the exit status is 1 if a figure failed or ran over
# its limit. --quick (or GPU_SH_QUICK=1) shrinks every figure so the whole run takes seconds on a CPU: a
# check that the script works, not a measurement.
# What each figure runs: benchmarks/gpu_figures.py --help.
set -uo pipefail
cd "$(dirname "$0")/.."

device=auto
quick=${GPU_SH_QUICK:-0}
while [ $# -gt 0 ]; do
    case "$1" in
        --device) device="${2:?--device needs a value: auto, cpu, cuda, cuda:N or mps}"; shift 2 ;;
        --device=*) device="${1#--device=}"; shift ;;
        --quick) quick=1; shift ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu.sh: unknown argument $1 (expected --device NAME, --quick)" >&2; exit 2 ;;
    esac
done

python=.venv/bin/python
[ -x "$python" ] || python=python3
shared="$(cd .. && pwd)/shared"
[ -d "$shared/weights" ] && export BRUSHWORK_WEIGHTS="$shared/weights"
export BRUSHWORK_OFFLINE=1

# figure name and hard limit in seconds (process start, imports, warm-up and the timed run together);
# the limits add up to 430 s, plus 5 s each for a killed process to go: 7 min 35 s at most.
figures=("paint-1k 50" "paint-4k 110" "wct-4096 50" "gatys-512 50" "train 170")
flags=(--device "$device")
if [ "$quick" != 0 ]; then
    flags+=(--quick)
    figures=("${figures[@]/% */ 120}")  # tiny figures, but on a CPU that may be busy: 120 s each
fi

tab=$'\t'
rows=()
status_all=0  # 1 when a figure failed or ran over its limit (a missed target is a figure, not a failure)
started=$SECONDS
for entry in "${figures[@]}"; do
    read -r name limit <<<"$entry"
    echo "== $name (at most $limit s)"
    # shown as it runs (on stderr), kept for its result line; pipefail: the status is timeout's or python's
    output=$(timeout -k 5 "$limit" "$python" benchmarks/gpu_figures.py "$name" "${flags[@]}" 2>&1 | tee /dev/stderr)
    status=$?
    row=$(grep -a "^FIGURE$tab" <<<"$output" | tail -n 1 | cut -f 2-)
    if [ -z "$row" ]; then
        if [ "$status" = 124 ] || [ "$status" = 137 ]; then
            why="stopped: over its $limit s limit"
        else
            why="failed (exit $status): $(grep -av '^ *$' <<<"$output" | tail -n 1)"
        fi
        row="$name$tab-$tab$why$tab-"
        status_all=1
    fi
    rows+=("$row")
done

echo
echo "GPU figures ($((SECONDS - started)) s in all; --device $device$([ "$quick" != 0 ] && echo ', quick: not measurements'))"
{
    printf 'figure\ttarget\tmeasured\tdevice name\n'
    printf '%s\n' "${rows[@]}"
} | awk -F '\t' '
    { for (i = 1; i <= 4; i++) { cell[NR, i] = $i; if (length($i) > width[i]) width[i] = length($i) } }
    END {
        for (r = 1; r <= NR; r++) {
            line = ""
            for (i = 1; i <= 4; i++) line = line (i > 1 ? " | " : "") sprintf("%-" width[i] "s", cell[r, i])
            print line
            if (r == 1) {
                line = ""
                for (i = 1; i <= 4; i++) { dash = sprintf("%" width[i] "s", ""); gsub(/ /, "-", dash); line = line (i > 1 ? "-|-" : "") dash }
                print line
            }
        }
    }'
exit $status_all
