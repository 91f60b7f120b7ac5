#!/usr/bin/env bash
# `make test-arm64`: the appliance on aarch64, proven by emulation (issue 14; the release check,
# docs/appliance.md "Platforms and aarch64").
#
#  1. an arm64 Debian bookworm userland (the Python 3.11 of Raspberry Pi OS Bookworm) from
#     Debian's packages in build/arm64-root (scripts/arm64/root.sh);
#  2. the project's wheel and its dependencies as aarch64 wheels, resolved by pip as on the box,
#     binary wheels only (scripts/arm64/wheels.sh); every shared object must load on the Pi 5's
#     16 KiB-page kernel, which qemu-user cannot emulate (scripts/arm64/page_align.py); the
#     same resolution for Python 3.10 (JetPack 6);
#  3. under qemu-aarch64 as a Raspberry Pi 4 (Cortex-A72, ARMv8.0: an instruction the CPU
#     lacks is SIGILL) and a Pi 5 (Cortex-A76, ARMv8.2: XNNPACK may take its dotprod/fp16 kernels) the core
#     tests that run native code: model files, BlazeFace and both emotion models through
#     ai-edge-litert, OpenCV, the tracker and sessions;
#  4. a replay of the start of a shared clip (losslessly cut) on both CPUs with the installed
#     wheel, compared session by session with the x86-64 run of the same file
#     (scripts/arm64/compare_sessions.py); skipped with the reason where ../shared/data is
#     absent;
#  5. the installer's platform pieces: a --system-site-packages venv of Debian's python sees
#     Debian's python3-systemd, and setup.sh refuses a 32-bit (armhf) Python with one message.
# Prints the machine it ran on and how long it took. No chroot, binfmt or root privileges:
# qemu-aarch64-static -L ROOT runs ROOT/usr/bin/python3.11 directly.
#
# Environment: ARM64_CPUS (default "cortex-a72 cortex-a76"), ARM64_TESTS (pytest paths),
# ARM64_REPLAY_FRAMES (default 50; 0 = the whole clip), AFFECTRA_SHARED_DATA.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
start=$(date +%s)
cpu_start=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
ROOT=$REPO/build/arm64-root
SITE=$ROOT/opt/affectra-edge/site
EMU=$ROOT/usr/local/bin/python3
OUT=$REPO/build/arm64-out
SHARED=${AFFECTRA_SHARED_DATA:-$REPO/../shared/data}
CLIP=$SHARED/video/orlando_bloom.avi
CPUS=${ARM64_CPUS:-cortex-a72 cortex-a76}
# Emulated, a full-range BlazeFace invoke costs ~2.2 s of CPU (7 ms natively): 50 frames
# (2 s, one session) keep the replay to ~2 min per CPU; the whole clip agrees as well.
FRAMES=${ARM64_REPLAY_FRAMES:-50}
# What runs native code on the box; the rest of tests/core is the same Python on any CPU and
# runs on x86-64 in `make test` (emulated, every CLI test's child interpreter alone takes
# ~12 s to start and import OpenCV and LiteRT).
TESTS=${ARM64_TESTS:-tests/core/test_models.py tests/core/test_detect_classify.py tests/core/test_track_sessions.py}
HOST_PY=$REPO/.venv/bin/python
step() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - start))"; }
host() { env -u PYTHONPATH -u QEMU_LD_PREFIX -u QEMU_CPU "$@"; } # an x86-64 program
quiet_pip() { grep -v "^WARNING: Location" || true; } # this machine's pip.conf find-links noise

step "host packages"
scripts/arm64/deps.sh
step "arm64 userland in ${ROOT#"$REPO"/}"
scripts/arm64/root.sh "$ROOT"
pyver=$(qemu-aarch64-static -L "$ROOT" "$ROOT/usr/bin/python3.11" -c \
    'import sys; print("%d.%d" % sys.version_info[:2])')
step "aarch64 wheels for Python $pyver (Raspberry Pi OS Bookworm)"
HOST_PY=$HOST_PY scripts/arm64/wheels.sh "$SITE" "$pyver" 2>&1 | quiet_pip
step "aarch64 shared objects load with 16 KiB pages (the Pi 5's kernel)"
host "$HOST_PY" scripts/arm64/page_align.py "$SITE"
step "aarch64 wheels resolved for Python 3.10 (JetPack 6)"
# pip evaluates environment markers for the host's Python, so the pure-Python tomli
# (python_version<"3.11") is not listed here; every compiled dependency is.
HOST_PY=$HOST_PY scripts/arm64/wheels.sh --resolve 3.10 2>&1 | quiet_pip

# The emulated python's sys.executable (tests start `python -m affectra_edge` children): a
# host script, so the host kernel runs qemu again for every child. QEMU_LD_PREFIX and QEMU_CPU
# are read by qemu itself and inherited by those children.
mkdir -p "$(dirname "$EMU")" "$OUT"
cat >"$EMU" <<'EOF'
#!/bin/sh
exec qemu-aarch64-static -0 "$0" "$QEMU_LD_PREFIX/usr/bin/python3.11" "$@"
EOF
chmod +x "$EMU"
export QEMU_LD_PREFIX=$ROOT PYTHONPATH=$SITE PYTHONNOUSERSITE=1 AFFECTRA_SHARED_DATA=$SHARED

emulate() { # CPU: as that board (its /proc/cpuinfo, see scripts/arm64/cpuinfo.sh)
    scripts/arm64/cpuinfo.sh "$ROOT" "$1"
    export QEMU_CPU=$1
}

step "machine"
printf 'host: %s, %s, %s\n' "$(uname -m)" \
    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
    "$(qemu-aarch64-static --version | head -1)"

for cpu in $CPUS; do
    step "core tests on aarch64 $cpu"
    emulate "$cpu"
    "$EMU" - "$cpu" <<'EOF'
import importlib.metadata as md, platform, sys
model = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("Model")]
print(f"emulated: {platform.machine()} {sys.argv[1]} as a {model[0]}, Python {platform.python_version()}")
print("wheels:", ", ".join(f"{d} {md.version(d)}" for d in (
    "affectra-edge", "ai-edge-litert", "numpy", "opencv-python-headless", "sqlcipher3")))
EOF
    # shellcheck disable=SC2086  # TESTS is a list of paths
    "$EMU" -m pytest $TESTS -q -p no:cacheprovider
done

if [ ! -f "$CLIP" ]; then
    step "replay skipped: $CLIP is absent (shared media live only in the developers' workspace)"
else
    clip=$OUT/clip.mkv
    what="${CLIP##*/}, the whole clip"
    if [ "$FRAMES" -gt 0 ]; then
        what="${CLIP##*/}, its first $FRAMES frames (FFV1, lossless)"
        # shellcheck disable=SC2016  # a Python program
        host "$HOST_PY" -c 'import sys, cv2
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
cap = cv2.VideoCapture(src)
ok, frame = cap.read()
h, w = frame.shape[:2]
out = cv2.VideoWriter(dst, cv2.VideoWriter_fourcc(*"FFV1"), cap.get(cv2.CAP_PROP_FPS), (w, h))
for _ in range(n):
    if not ok:
        break
    out.write(frame)
    ok, frame = cap.read()
out.release()' "$CLIP" "$clip" "$FRAMES"
    else
        clip=$CLIP
    fi
    step "replay of $what on x86-64"
    (cd "$OUT" && host "$HOST_PY" -m affectra_edge replay "$clip" --json) >"$OUT/x86_64.jsonl"
    tail -1 "$OUT/x86_64.jsonl"
    status=0
    for cpu in $CPUS; do
        step "replay on aarch64 $cpu with the installed wheel, compared with x86-64"
        emulate "$cpu"
        # cwd outside the checkout: affectra_edge comes from the wheel in $SITE
        (cd "$OUT" && "$EMU" -m affectra_edge replay "$clip" --json) >"$OUT/$cpu.jsonl"
        tail -1 "$OUT/$cpu.jsonl"
        host "$HOST_PY" scripts/arm64/compare_sessions.py "$OUT/x86_64.jsonl" "$OUT/$cpu.jsonl" || status=1
    done
    [ "$status" -eq 0 ] || { echo "test-arm64: aarch64 sessions differ from x86-64" >&2; exit 1; }
fi

step "installer pieces: Debian's python3-systemd in a --system-site-packages venv"
venv=$ROOT/opt/affectra-edge/venv
rm -rf "$venv"
# --copies: a symlink to /usr/bin/python3.11 would be resolved by the host, not under -L
env -u PYTHONPATH qemu-aarch64-static -L "$ROOT" "$ROOT/usr/bin/python3.11" \
    -m venv --system-site-packages --without-pip --copies "$venv"
env -u PYTHONPATH qemu-aarch64-static -L "$ROOT" "$venv/bin/python3" -c '
import sys, systemd.daemon, systemd.journal
assert sys.prefix != sys.base_prefix and "/usr/lib/python3/dist-packages/" in systemd.journal.__file__
print("venv", sys.prefix, "imports", systemd.journal.__file__)'

step "installer pieces: setup.sh on a 32-bit Raspberry Pi OS userland (armhf)"
ARMHF=$REPO/build/armhf-root
scripts/arm64/root.sh "$ARMHF" armhf
printf '#!/bin/sh\nexec qemu-arm-static -L "%s" "%s/usr/bin/python3.11" "$@"\n' "$ARMHF" "$ARMHF" \
    >"$ARMHF/usr/local-python3"
chmod +x "$ARMHF/usr/local-python3"
# host: QEMU_CPU=cortex-a7x would be an unknown CPU to qemu-arm
if msg=$(host env PYTHON="$ARMHF/usr/local-python3" VENV="$OUT/armhf-venv" scripts/setup.sh 2>&1); then
    echo "test-arm64: setup.sh accepted a 32-bit Python" >&2
    exit 1
fi
echo "$msg"
if [ "$(printf '%s\n' "$msg" | wc -l)" -ne 1 ] || [[ "$msg" != *"32-bit system (armv7l"* ]]; then
    echo "test-arm64: expected one line about a 32-bit system" >&2
    exit 1
fi
[ ! -e "$OUT/armhf-venv" ] || { echo "test-arm64: a venv was created anyway" >&2; exit 1; }

cpu_s=$((($(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat) - cpu_start) / $(getconf CLK_TCK)))
step "test-arm64 passed in $(($(date +%s) - start)) s wall, ${cpu_s} s CPU (children included)"
