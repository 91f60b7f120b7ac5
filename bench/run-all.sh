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
"$PY" bench/emotion_mix.py | tee "$OUT/emotion_mix.txt"

shopt -s nullglob
clips=("$DATA"/video/*.mp4 "$DATA"/video/*.avi)
if [[ ${#clips[@]} -eq 0 ]]; then
  echo "no clips in $DATA/video: pass any video to bench/pipeline.py yourself" >&2
fi
for clip in "${clips[@]}"; do
  name="$(basename "$clip")"
  "$PY" bench/pipeline.py "$clip" $PEERS --model both --repeat 3 | tee "$OUT/pipeline-${name%.*}.txt"
done
# Store, MQTT and web benches belong to their own areas; modest sizes so `make bench` stays
# within minutes. The store figures in docs come from 1 M sessions: BENCH_STORE_SESSIONS=1000000.
if [[ -f bench/store.py ]]; then
  "$PY" bench/store.py --sessions "${BENCH_STORE_SESSIONS:-100000}" --runs 5 | tee "$OUT/store.txt"
fi
if [[ -f bench/mqtt_drain.py ]]; then
  if command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]]; then
    "$PY" bench/mqtt_drain.py --backlog 5000 --live 200 | tee "$OUT/mqtt_drain.txt"
  else
    echo "bench/mqtt_drain.py skipped: no mosquitto (scripts/system-deps.sh installs it)" >&2
  fi
fi
if [[ -f bench/web.py ]]; then
  "$PY" bench/web.py --clients 50 --seconds 5 --rounds 2 | tee "$OUT/web.txt"
fi
echo "bench: results in $OUT/"
