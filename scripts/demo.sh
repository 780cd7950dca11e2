#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to barelb answering for a LoadBalancer
# Service: installs what is needed, builds barelb (and, on the first run, Kubernetes),
# builds the lab (scripts/lab.sh: control plane, three nodes with kube-proxy, a client,
# in network namespaces), then runs testkit/demo.ts in it: the controller and a speaker
# per node under their own ServiceAccounts, the example pool, a Service, a request
# through its EXTERNAL-IP. Stays up until Ctrl-C; then stops everything and removes the lab.
#
#   bash scripts/demo.sh            interactive
#   bash scripts/demo.sh --once     exit after the first successful request (0), or fail (1); cleans up either way
source "$(dirname "$0")/lib.sh"

usage="usage: $0 [--once]"
once=()
for arg in "$@"; do
  case "$arg" in
    --once) once=(--once) ;;
    -h | --help) echo "$usage"; exit 0 ;;
    *) die "unknown argument '$arg'; $usage" ;;
  esac
done
((EUID == 0)) || die "the demo builds network namespaces and installs Debian packages: run it as root"
cd "$BARELB_ROOT" || exit 1

bash scripts/install-deps.sh
command -v node >/dev/null || die "Node.js 20 is needed (https://nodejs.org, or Debian's nodejs from bookworm-backports)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || die "Node.js $(node --version) is too old: barelb needs 20 or newer"
if [[ ! -d node_modules ]]; then
  say "npm ci (installs the dependencies and compiles the packet-socket addon)"
  npm ci --no-audit --no-fund
elif [[ ! -f build/Release/barelb_packet.node ]]; then
  say "compiling the packet-socket addon"
  npm run --silent build:native
fi
say "building barelb (tsc)"
npm run --silent build

# The first run builds Kubernetes from Debian's source: say so while it runs.
say "checking for the Kubernetes binaries (the first run builds them: 13-25 minutes on 2 cores, then cached)"
(s=0; while sleep 1; do ((++s % 30)) || say "still building Kubernetes (${s}s so far)"; done) &
ticker=$!
trap 'kill "$ticker" 2>/dev/null || true' EXIT
bash scripts/build-kubernetes.sh >/dev/null
kill "$ticker" 2>/dev/null || true
trap - EXIT

env_file="$(bash scripts/lab.sh up | tail -1)"
[[ -f $env_file ]] || die "the lab did not come up"
# shellcheck disable=SC1090
source "$env_file"
trap 'bash scripts/lab.sh down || true' EXIT
trap 'exit 130' INT TERM
ip netns exec "$BARELB_LAB_CP_NETNS" node dist/testkit/demo.js "${once[@]}"
