#!/usr/bin/env bash
# The GPU checks (fast paths on CUDA, and the DSR memory bench) as one script for a lent GPU machine,
# most important first, each under its own time limit. Results go to $OUT (or ./gpu_checks).
#   bash scripts/gpu_checks.sh            # from the repository root, with torch + CUDA importable
#   STEPS="tests flexsn_paths compile_paths" bash scripts/gpu_checks.sh   # what was never run on a GPU
#   (all steps take ~17 min: two calls)
# Seen on an H200 (2026-11-27): tests 20 s, check_paths 55 s, bench_fastpath 22-114 s, bench_dsr
# 82 s, bench_memopt 24 s, profile50 15 s; compile_paths not yet run there (a KEYS S-ResNet took
# more than 90 s to compile; on the 2-core CPU TDBN ResNet-19 took 56 s and KEYS over 150 s);
# the FlexSN scans (trainer.flexsn: tests/test_flexsn.py -k cuda, flexsn_paths) not yet either.
# A machine without spikingjelly/hydra gets them from wheels in .whl/ (pip download them beside the repo first).
set -u -o pipefail
OUT=${OUT:-gpu_checks}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 WANDB_MODE=disabled PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
PY=${PY:-python3}
if [ -d .whl ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
$PY -c "import torch, spikingjelly, triton; print('torch', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name())"
STEPS=${STEPS:-tests flexsn_paths check_paths bench_fastpath bench_dsr bench_memopt profile50 compile_paths}  # a subset: STEPS="tests bench_dsr"
step() { local t=$1 name=$2; shift 2; [[ " $STEPS " == *" $name "* ]] || return 0; echo "=== $name (limit ${t}s)"; local s=$SECONDS
  timeout "$t" "$@" 2>&1 | tee "$OUT/$name.txt"; echo "=== $name: rc ${PIPESTATUS[0]}, $((SECONDS - s)) s"; }
step ${T_TESTS:-150} tests $PY -m pytest -q -p no:cacheprovider -k cuda tests/test_fastpath.py tests/test_fast_surrogates.py tests/test_flexsn.py
# trainer.flexsn=true on every paper configuration: FlexSN's Triton scan ran (not its fallback), its
# step time against the Python loop, the weight gradient against the loop's (not yet run on a GPU)
step ${T_FLEXSN:-150} flexsn_paths $PY scripts/check_paths.py --device cuda --no-compile --flexsn
step ${T_PATHS:-120} check_paths $PY scripts/check_paths.py --device cuda --no-compile
step ${T_SPEED:-170} bench_fastpath $PY scripts/bench_fastpath.py --device cuda --warmup 3 --iters 15 --skip-memopt
step ${T_DSR:-180} bench_dsr $PY scripts/bench_dsr.py --device cuda
step ${T_MEMOPT:-90} bench_memopt $PY scripts/bench_fastpath.py --device cuda --warmup 3 --iters 10 --skip-compile --skip-resnet50
step ${T_PROFILE:-60} profile50 $PY scripts/bench_fastpath.py --device cuda --profile50
# the compiled loop (trainer.compile) of every model whose neurons have no fused kernel, each in a
# child process with its own limit: compile time, step time against eager
step ${T_COMPILE:-540} compile_paths $PY scripts/check_paths.py --device cuda --compile-budget ${COMPILE_BUDGET:-400} --compile-timeout ${COMPILE_TIMEOUT:-150}
