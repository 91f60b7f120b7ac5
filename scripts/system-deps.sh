#!/usr/bin/env bash
# System packages the test suite talks to for real: a mosquitto broker and Debian's
# Chromium (Playwright drives it; no browser is ever downloaded), shellcheck and systemd-analyze
# for the appliance checks, libsystemd for systemd-python. Installed only when missing.
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# systemd-python (journald + sd_notify through libsystemd) builds against these
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
pkg-config --exists libsystemd 2>/dev/null || need+=(libsystemd-dev)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing system packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
