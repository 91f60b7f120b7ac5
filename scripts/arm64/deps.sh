#!/usr/bin/env bash
# Host packages for `make test-arm64`: the user-mode aarch64 emulator only. The arm64 userland
# itself comes from Debian's archive through a private apt configuration (scripts/arm64/root.sh),
# so the host's dpkg architectures and package lists are left as they are. Installed only when
# missing.
set -euo pipefail
command -v qemu-aarch64-static >/dev/null 2>&1 && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing system packages: qemu-user-static"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
