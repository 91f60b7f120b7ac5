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
SOAK_MINUTES="${BENCH_SOAK_MINUTES:-20}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --minutes) SOAK_MINUTES="$2"; shift 2 ;;
    --minutes=*) SOAK_MINUTES="${1#*=}"; shift ;;
    *) echo "usage: bench/run-all.sh [--minutes N]  (soak length; 0 skips the soak)" >&2; exit 2 ;;
  esac
done

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
  "$PY" bench/pipeline.py "$clip" $PEERS --schedule both --repeat 2 | tee "$OUT/schedule_vs_fer_${name}.txt"
done
# Adaptive detection scheduling (issue 14): agreement with every-frame processing (the clips
# and the demo), then the real-time CPU cost on one core.
"$PY" bench/schedule.py --agreement --demo-fps 10,15 | tee "$OUT/schedule_agreement.txt"
taskset -c 0 "$PY" bench/schedule.py --realtime --seconds 10 | tee "$OUT/schedule_realtime.txt"
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
# The museum view (issue 16): 100 devices' publishers, one mosquitto, one box's /fleet.
if [[ -f bench/fleet.py ]]; then
  if command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]]; then
    "$PY" bench/fleet.py --devices 100 --workers 4 --seconds 60 | tee "$OUT/fleet.txt"
  else
    echo "bench/fleet.py skipped: no mosquitto (scripts/system-deps.sh installs it)" >&2
  fi
fi
if [[ -f bench/web.py ]]; then
  "$PY" bench/web.py --clients 50 --seconds 5 --rounds 2 | tee "$OUT/web.txt"
fi
# The soak: the daemon under load with broker restarts and kills, RSS/threads/fds over time
# and sessions recorded vs published. 20 minutes by default; `--minutes 1440` (or
# BENCH_SOAK_MINUTES=1440) for the 24-hour run.
if [[ -f bench/soak.py ]] && [[ "$SOAK_MINUTES" != 0 ]]; then
  if command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]]; then
    "$PY" bench/soak.py --minutes "$SOAK_MINUTES" | tee "$OUT/soak.txt"
  else
    echo "bench/soak.py skipped: no mosquitto (scripts/system-deps.sh installs it)" >&2
  fi
fi
echo "bench: results in $OUT/"
