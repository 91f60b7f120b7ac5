#!/usr/bin/env bash
# `make bench`: every figure in bench/RESULTS.md, rerun. Takes several minutes; not part of
# `make test`. Peer venvs are created on first use (PyPI at set-up time only). Output goes to
# the terminal and to bench/out/ (git-ignored); copy the tables into bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PY:-.venv/bin/python}"
DATA="${AFFECTRA_SHARED_DATA:-../shared/data}"
OUT=bench/out
mkdir -p "$OUT"

if [[ "${BENCH_NO_PEERS:-0}" != 1 ]]; then
  bench/peers/setup.sh
  PEERS=--vs-peers
else
  PEERS=
fi

lscpu | grep -E "Model name|^CPU\(s\)" | tee "$OUT/machine.txt"

"$PY" bench/accuracy.py | tee "$OUT/accuracy.txt"

shopt -s nullglob
clips=("$DATA"/video/*.mp4 "$DATA"/video/*.avi)
if [[ ${#clips[@]} -eq 0 ]]; then
  echo "no clips in $DATA/video: pass any video to bench/pipeline.py yourself" >&2
fi
for clip in "${clips[@]}"; do
  name="$(basename "$clip")"
  "$PY" bench/pipeline.py "$clip" $PEERS --model both --repeat 3 | tee "$OUT/pipeline-${name%.*}.txt"
done
# Store and web benches belong to their own areas; run them when present.
for extra in bench/store.py bench/web.py; do
  if [[ -f "$extra" ]]; then "$PY" "$extra" | tee "$OUT/$(basename "${extra%.py}").txt"; fi
done
echo "bench: results in $OUT/"
