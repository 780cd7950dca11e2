# shellcheck shell=bash
# Shared helpers for barelb's scripts. Sourced, never run.
set -euo pipefail

# shellcheck disable=SC2034 # for the scripts that source this file
BARELB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BARELB_CACHE="${BARELB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/barelb}"

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Debian's kubernetes source package version: the build cache key.
kubernetes_source_version() {
  apt-cache showsrc kubernetes 2>/dev/null | awk '/^Version:/ {print $2; exit}'
}
