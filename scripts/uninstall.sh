#!/usr/bin/env bash
# Remove the Affectra Edge service and software. Keeps the configuration, the database key and
# the data (so a reinstall picks up where it left off) unless --purge is given.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: sudo scripts/uninstall.sh [--purge] [--dry-run] [--root DIR]

  --purge      also delete /etc/affectra-edge (config, DB key, TLS pair), /var/lib/affectra-edge
               (the encrypted database and web users) and the affectra user
  --dry-run    print every action instead of doing it
  --root DIR   act on a scratch root made by install.sh --root (systemctl/userdel skipped)
EOF
}

PURGE=0
DRY=0
ROOT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --purge) PURGE=1; shift ;;
        --dry-run) DRY=1; shift ;;
        --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
        --root=*) ROOT=${1#*=}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "uninstall.sh: unknown option: $1 (see --help)" >&2; exit 64 ;;
    esac
done
if [ -n "$ROOT" ]; then
    [ -d "$ROOT" ] || { echo "uninstall.sh: $ROOT: no such directory" >&2; exit 1; }
    ROOT=$(cd "$ROOT" && pwd)
    [ "$ROOT" = / ] && ROOT=""
fi
if [ -z "$ROOT" ] && [ "$DRY" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    echo "uninstall.sh: run as root (or try --dry-run)" >&2
    exit 1
fi

# shellcheck source=lib-actions.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib-actions.sh"

UNIT=/etc/systemd/system/affectra-edge.service
say "stopping and disabling the service"
if [ -n "$ROOT" ] || systemctl cat affectra-edge.service >/dev/null 2>&1; then
    system systemctl disable --now affectra-edge.service
fi
run rm -f "$(R $UNIT)"
system systemctl daemon-reload
system systemctl reset-failed affectra-edge.service

say "removing the software (/opt/affectra-edge, /usr/local/bin/affectra-edge)"
run rm -rf "$(R /opt/affectra-edge)"
# only the installer's link, never an affectra-edge that something else put there
if [ -L "$(R /usr/local/bin/affectra-edge)" ] &&
    [ "$(readlink "$(R /usr/local/bin/affectra-edge)")" = ../../../opt/affectra-edge/venv/bin/affectra-edge ]; then
    run rm -f "$(R /usr/local/bin/affectra-edge)"
fi

if [ "$PURGE" -eq 1 ]; then
    say "purging configuration, keys and data"
    run rm -rf "$(R /etc/affectra-edge)" "$(R /var/lib/affectra-edge)"
    if [ -n "$ROOT" ] || id -u affectra >/dev/null 2>&1; then
        system userdel affectra
    fi
else
    say "kept: /etc/affectra-edge (config, DB key) and /var/lib/affectra-edge (data);"
    say "      --purge deletes them (the database is unreadable without its key)"
fi
say "done"
