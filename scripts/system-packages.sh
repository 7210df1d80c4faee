#!/usr/bin/env bash
# The Debian packages stimulans needs beside its Python packages: WeasyPrint draws the decision
# documents with Pango (text layout), subsets the embedded fonts with HarfBuzz's subset library
# (without it every PDF carries whole fonts and takes far longer), and falls back on DejaVu
# where the vendored fonts lack a glyph.
#   scripts/system-packages.sh          install what is missing (as root), else name it and fail
#   scripts/system-packages.sh --list   print the package names
# `make run`, `make test`, `make bench` and the Dockerfile (deploy/) call it.
set -euo pipefail

PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)

if [ "${1:-}" = --list ]; then
    printf '%s\n' "${PACKAGES[@]}"
    exit 0
fi

if ! command -v dpkg-query >/dev/null; then
    echo "system-packages.sh: not a Debian system: install Pango (1.44 or later), HarfBuzz's" \
        "subset library and the DejaVu fonts with your system's packages" >&2
    exit 0
fi

missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "system-packages.sh: missing Debian packages: ${missing[*]}" >&2
    echo "Install them as root:  apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
echo "system-packages.sh: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
