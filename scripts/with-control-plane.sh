#!/usr/bin/env bash
# Runs a command with KUBECONFIG pointing at a fresh real control plane, and
# tears the control plane down afterwards, also when the command fails.
source "$(dirname "$0")/lib.sh"
[[ $# -gt 0 ]] || die "usage: $0 COMMAND [ARGS...]"
cp="$BARELB_ROOT/scripts/control-plane.sh"
trap 'bash "$cp" down >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM
KUBECONFIG="$(bash "$cp" up | tail -1)"
export KUBECONFIG
"$@"
