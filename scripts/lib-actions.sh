# shellcheck shell=bash
# Shared by install.sh and uninstall.sh (sourced, not run). Expects ROOT and DRY to be set.

# R PATH: PATH under the scratch root given with --root (or the real one).
R() { printf '%s%s' "$ROOT" "$1"; }
say() { printf '==> %s\n' "$*"; }

# run CMD...: do it, or print it with --dry-run.
run() {
    if [ "$DRY" -eq 1 ]; then
        printf '+ %s\n' "$(printf '%q ' "$@")"
    else
        "$@"
    fi
}
# system CMD...: an action on the running system (packages, users, services): skipped with
# --root because a scratch root has none of them.
system() {
    if [ -n "$ROOT" ]; then
        printf '+ (skipped with --root) %s\n' "$(printf '%q ' "$@")"
    else
        run "$@"
    fi
}
