#!/usr/bin/env bash
# Runs a command inside the lab's control-plane namespace (where the API server
# is reachable) with the lab's variables set, after building the lab, and tears
# the lab down afterwards, also when the command fails.
source "$(dirname "$0")/lib.sh"
[[ $# -gt 0 ]] || die "usage: $0 COMMAND [ARGS...]"
lab="$BARELB_ROOT/scripts/lab.sh"
trap 'bash "$lab" down >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM
bash "$lab" up
# shellcheck disable=SC1090
source "$BARELB_ROOT/.lab/lab${BARELB_LAB_ID:-0}/env"
ip netns exec "$BARELB_LAB_CP_NETNS" "$@"
