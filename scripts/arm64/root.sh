#!/usr/bin/env bash
# A Debian bookworm userland for ARCH (default arm64: python3 and the C libraries the wheels
# link against; armhf: python3 alone, the 32-bit system the platform check must refuse) in
# ROOT, from Debian's own packages: apt resolves and downloads them with a private
# configuration (the host's architectures, lists and status are untouched), dpkg-deb -x
# unpacks them. No chroot, no binfmt, no root needed for the tree: qemu-aarch64-static -L ROOT
# runs ROOT/usr/bin/python3.11 directly. Idempotent: a finished root is kept.
set -euo pipefail
ROOT=${1:?usage: root.sh ROOT [arm64|armhf]}
ARCH=${2:-arm64}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# python3 and what the manylinux wheels link against from the system (libstdc++, libgcc, zlib;
# they bundle the rest), plus python3-systemd: the installer takes Debian's build of it
# instead of compiling systemd-python, and the check proves a venv sees it.
PACKAGES=(python3.11 python3-minimal python3-systemd libstdc++6 libgcc-s1 zlib1g tzdata)
[ "$ARCH" = arm64 ] || PACKAGES=(python3.11)
stamp=.root-$(printf '%s\n' "$SUITE" "$ARCH" "${PACKAGES[@]}" | sha256sum | cut -c1-12)

[ -f "$ROOT/$stamp" ] && exit 0
[ "$(cd "$(dirname "$ROOT")" && pwd)/$(basename "$ROOT")" != / ] || exit 64
rm -rf "$ROOT" "$ROOT.apt"
mkdir -p "$ROOT"
ROOT=$(cd "$ROOT" && pwd)
APTDIR="$ROOT.apt"
mkdir -p "$APTDIR"/{lists/partial,archives/partial,etc/preferences.d,etc/apt.conf.d}
: >"$APTDIR/status"
echo "deb [arch=$ARCH] $MIRROR $SUITE main" >"$APTDIR/etc/sources.list"
apt_opts=(
    -o "APT::Architecture=$ARCH" -o "APT::Architectures::=$ARCH"
    -o "Dir::Etc::SourceList=$APTDIR/etc/sources.list" -o "Dir::Etc::SourceParts=-"
    -o "Dir::Etc::Preferences=-" -o "Dir::Etc::PreferencesParts=$APTDIR/etc/preferences.d"
    -o "Dir::Etc::Parts=$APTDIR/etc/apt.conf.d"
    -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::State::status=$APTDIR/status"
    -o "Dir::Cache=$APTDIR" -o "Dir::Cache::archives=$APTDIR/archives"
    -o "APT::Install-Recommends=false" -o "Debug::NoLocking=true"
    -o "APT::Sandbox::User=root"
)
echo "$ARCH root: resolving ${#PACKAGES[@]} packages from $MIRROR $SUITE"
apt-get "${apt_opts[@]}" -qq update
apt-get "${apt_opts[@]}" -qq -y --download-only install "${PACKAGES[@]}" >/dev/null
n=0
for deb in "$APTDIR"/archives/*.deb; do
    dpkg-deb -x "$deb" "$ROOT"
    n=$((n + 1))
done
# usr-merge: bookworm's packages still ship /lib and /bin paths; the loader is looked up
# as /lib/ld-linux-aarch64.so.1 or /lib/ld-linux-armhf.so.3 (under -L ROOT).
for d in bin lib sbin; do
    if [ -d "$ROOT/$d" ] && [ ! -L "$ROOT/$d" ]; then
        cp -a "$ROOT/$d/." "$ROOT/usr/$d/" && rm -rf "${ROOT:?}/$d"
    fi
    [ -e "$ROOT/$d" ] || ln -s "usr/$d" "$ROOT/$d"
done
echo "$ARCH root: $n packages unpacked into $ROOT"
touch "$ROOT/$stamp"
