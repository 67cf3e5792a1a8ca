#!/usr/bin/env bash
# One prepared device check of the Pix-GRL hot path, <= 8 minutes on one GPU. From the repository root:
#
#     bash benchmarks/gpu_check.sh            # needs only what the README installs: torch==2.13.0, then ".[test]"
#
# (a) the CUDA tests (pytest -m cuda); (b) benchmarks/sync_check.py: the pixel graph, agent acting and env stepping
# under torch.cuda.set_sync_debug_mode, no host synchronisation allowed; (c) benchmarks/ddp_check.py under torchrun
# on every GPU present (NCCL, DistributedDataParallel), then benchmarks/gpu_bench.py, which writes
# benchmarks/results/<gpu name>.json (synthesis, training, env, graph conv, pixel graph; with the sync and DDP
# reports). Each step has its own time limit (450 s in all); the script goes on after a failed step, prints a
# summary and exits 1 if any step failed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this working tree, whatever is installed
PY="${PYTHON:-python}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
declare -A STATUS
ORDER=()

step() {  # step NAME SECONDS COMMAND...: run with a time limit, record pass/fail
    local name="$1" limit="$2"
    shift 2
    ORDER+=("$name")
    echo "=== [$name] $* (limit ${limit}s)"
    local start=$SECONDS
    if timeout --kill-after=10 "$limit" "$@"; then
        STATUS[$name]="ok ($((SECONDS - start)) s)"
    else
        STATUS[$name]="FAILED, exit $? ($((SECONDS - start)) s)"
    fi
}

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: torch sees no CUDA device; nothing to check" >&2
    exit 1
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, '|',
      ', '.join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())))"
NGPU="$("$PY" -c "import torch; print(torch.cuda.device_count())")"

step cuda-tests 100 "$PY" -m pytest -q -p no:cacheprovider -m cuda tests
step sync-check 60 "$PY" benchmarks/sync_check.py --device cuda --out "$WORK/sync.json"
step ddp 80 "$PY" -m torch.distributed.run --standalone --nproc_per_node="$NGPU" benchmarks/ddp_check.py \
    --out "$WORK/ddp.json"
step gpu-bench 210 "$PY" benchmarks/gpu_bench.py --device cuda --sync-report "$WORK/sync.json" \
    --ddp-report "$WORK/ddp.json"

echo "=== summary"
failed=0
for name in "${ORDER[@]}"; do
    printf '  %-12s %s\n' "$name" "${STATUS[$name]}"
    [[ "${STATUS[$name]}" == ok* ]] || failed=1
done
if [[ $failed -ne 0 ]]; then
    echo "gpu_check: FAILED"
    exit 1
fi
echo "gpu_check: all steps passed"
