# shellcheck shell=bash
# check_platform NAME PYTHON: can this machine run the appliance? One clear message on stderr
# (prefixed "NAME: error:") and status 1 when it cannot, before any package is installed, so a
# 32-bit Raspberry Pi OS or an old Python does not end as a pip failure deep in a log.
# Sourced by scripts/setup.sh and scripts/install.sh.
#
# The targets are Raspberry Pi OS Bookworm 64-bit (Python 3.11) and JetPack 6 (Ubuntu 22.04,
# Python 3.10); Debian/Ubuntu on x86-64 works the same. ai-edge-litert, opencv-python-headless
# and sqlcipher3 publish wheels for aarch64 and x86-64 only, and the package needs Python 3.10.
PLATFORM_TARGETS="Raspberry Pi OS Bookworm (64-bit) or JetPack 6"

check_platform() {
    local name=$1 python=$2 facts machine bits version major minor
    # Works on any Python from 2.7 on, so that an old one gets the message, not a SyntaxError.
    if ! facts=$("$python" -c 'import platform, struct, sys
print("%s %d %d.%d.%d" % ((platform.machine(), struct.calcsize("P") * 8) + tuple(sys.version_info[:3])))' 2>/dev/null); then
        printf '%s: error: cannot run %s: Affectra Edge needs Python 3.10 or newer (apt install python3 python3-venv)\n' \
            "$name" "$python" >&2
        return 1
    fi
    read -r machine bits version <<<"$facts"
    IFS=. read -r major minor _ <<<"$version"
    if [ "$bits" != 64 ]; then
        # A 32-bit userland may run on a 64-bit kernel (uname says aarch64): the pointer size
        # of Python is what decides which wheels pip looks for.
        printf '%s: error: this is a 32-bit system (%s, %s-bit Python %s); Affectra Edge needs a 64-bit one: %s (its libraries publish no 32-bit ARM builds)\n' \
            "$name" "$machine" "$bits" "$version" "$PLATFORM_TARGETS" >&2
        return 1
    fi
    case "$machine" in
        x86_64 | amd64 | aarch64 | arm64) ;;
        *)
            printf '%s: error: unsupported processor %s; Affectra Edge runs on aarch64 (%s) and x86-64\n' \
                "$name" "$machine" "$PLATFORM_TARGETS" >&2
            return 1
            ;;
    esac
    if [ "$major" -lt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -lt 10 ]; }; then
        printf '%s: error: %s is Python %s; Affectra Edge needs Python 3.10 or newer, as on %s\n' \
            "$name" "$python" "$version" "$PLATFORM_TARGETS" >&2
        return 1
    fi
}
