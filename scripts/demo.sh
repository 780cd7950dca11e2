#!/usr/bin/env bash
# One command from a fresh machine to a working barelb controller:
# installs what is needed, builds, starts a real control plane, runs the
# controller, writes a pool, creates a LoadBalancer Service and shows its
# EXTERNAL-IP. Stays up until Ctrl-C, then cleans up everything it started.
#
#   bash scripts/demo.sh            interactive
#   bash scripts/demo.sh --once     exit (and clean up) as soon as the Service has its address
source "$(dirname "$0")/lib.sh"

once=0
[[ ${1:-} == --once ]] && once=1

cd "$BARELB_ROOT"
LOG_DIR="$BARELB_ROOT/.lab"
mkdir -p "$LOG_DIR"
controller_pid=""

cleanup() {
  if [[ -n $controller_pid ]] && kill -0 "$controller_pid" 2>/dev/null; then
    kill "$controller_pid" 2>/dev/null || true
    wait "$controller_pid" 2>/dev/null || true
  fi
  bash scripts/control-plane.sh down >/dev/null 2>&1 || true
  say "cleaned up"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ ! -d node_modules ]]; then say "npm ci"; npm ci --no-audit --no-fund >/dev/null; fi
say "building barelb"
npm run --silent build
KUBECONFIG="$(bash scripts/control-plane.sh up | tail -1)"
export KUBECONFIG
k() { kubectl "$@" 2> >(grep -v '^Warning: ' >&2); }

say "creating namespace barelb-system and the pool ConfigMap (examples/pool.yaml)"
k create namespace barelb-system >/dev/null
k apply -f examples/pool.yaml >/dev/null

say "starting the controller (log: $LOG_DIR/controller.log)"
node dist/src/cli/main.js controller --metrics-addr 127.0.0.1:17472 >"$LOG_DIR/controller.log" 2>&1 &
controller_pid=$!

say "creating Service demo (type LoadBalancer)"
k create service loadbalancer demo --tcp=80:8080 >/dev/null
for _ in $(seq 1 100); do
  ip="$(k get service demo -o jsonpath='{.status.loadBalancer.ingress[0].ip}')"
  [[ -n $ip ]] && break
  sleep 0.2
done
[[ -n ${ip:-} ]] || die "the Service got no address; see $LOG_DIR/controller.log"

echo
k get service demo
echo
k describe service demo | sed -n '/^Events:/,$p'
echo
if ((once)); then
  echo "EXTERNAL-IP $ip"
  exit 0
fi
cat <<INFO
barelb is running. In another shell:
  export KUBECONFIG=$KUBECONFIG
  kubectl create service loadbalancer web --tcp=80:80       # gets the next address
  kubectl -n barelb-system edit configmap barelb-config     # change pools (a typo is rejected, see Events)
  curl -s 127.0.0.1:17472/metrics | grep ^barelb_           # metrics
  tail -f $LOG_DIR/controller.log                           # logs

Ctrl-C stops the controller and the control plane.
INFO
wait "$controller_pid"
