#!/usr/bin/env bash
# Runs a command inside the lab's control-plane namespace (where the API server
# is reachable) with the lab's variables set, after building the lab, and tears
# the lab down afterwards, also when the command fails.
source "$(dirname "$0")/lib.sh"
[[ $# -gt 0 ]] || die "usage: $0 COMMAND [ARGS...]"
lab="$BARELB_ROOT/scripts/lab.sh"
env_file="$(bash "$lab" up | tail -1)"
[[ -f $env_file ]] || die "the lab did not come up"
# shellcheck disable=SC1090
source "$env_file"
trap 'bash "$lab" down >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM
ip netns exec "$BARELB_LAB_CP_NETNS" "$@"
