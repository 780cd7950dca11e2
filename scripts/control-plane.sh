#!/usr/bin/env bash
# A real Kubernetes control plane for tests and local use: etcd, kube-apiserver and
# kube-controller-manager (built from Debian's source by build-kubernetes.sh), on
# loopback ports this project owns.
#
#   scripts/control-plane.sh up     install deps, build (cached), start; prints the kubeconfig path
#   scripts/control-plane.sh down   stop what `up` started (by PID) and delete its state
#   scripts/control-plane.sh env    print `export KUBECONFIG=...`
#   scripts/control-plane.sh stop-apiserver | start-apiserver   outage drills (etcd keeps the data)
#
# State lives in $BARELB_CP_DIR (default: .lab/control-plane in the repo).
# Ports: $BARELB_CP_PORT (apiserver, default 16443), $BARELB_ETCD_PORT (default 12379; peer +1).
# $BARELB_CP_NODE_PORT_RANGE widens the NodePort range (default 30000-32767, room for 2,768
# Services; `npm run bench` needs more for its 5,000 LoadBalancer Services).
# In a lab: $BARELB_CP_NETNS runs everything inside that network namespace and
# $BARELB_CP_HOST is the apiserver's address there (default 127.0.0.1).
# Dual-stack (the v1.20 IPv6DualStack gate on kube-apiserver and kube-controller-manager):
# the Service range is 10.96.0.0/16,fd00:10:96::/112, IPv4 first, so a Service that does not
# ask for IPv6 (ipFamilyPolicy/ipFamilies) stays IPv4-only as before; one asking for
# RequireDualStack gets a ClusterIP of each family.
source "$(dirname "$0")/lib.sh"

DIR="${BARELB_CP_DIR:-$BARELB_ROOT/.lab/control-plane}"
HOST="${BARELB_CP_HOST:-127.0.0.1}"
NETNS="${BARELB_CP_NETNS:-}"
API_PORT="${BARELB_CP_PORT:-16443}"
ETCD_PORT="${BARELB_ETCD_PORT:-12379}"
KUBECONFIG_OUT="$DIR/admin.kubeconfig"

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Runs a command in the control plane's network namespace (or here, without one).
in_ns() { if [[ -n $NETNS ]]; then ip netns exec "$NETNS" "$@"; else "$@"; fi; }

start_bg() { # name, command...
  local name=$1; shift
  # Backgrounding the command itself (not a function) makes $! its PID: `down` kills it.
  if [[ -n $NETNS ]]; then
    ip netns exec "$NETNS" "$@" >"$DIR/$name.log" 2>&1 &
  else
    "$@" >"$DIR/$name.log" 2>&1 &
  fi
  echo $! >"$DIR/$name.pid"
}

wait_for() { # description, seconds, command...
  local what=$1 secs=$2; shift 2
  for ((i = 0; i < secs * 5; i++)); do
    in_ns "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "$what did not come up in ${secs}s; see $DIR/*.log"
}

start_apiserver() { # bin dir
  say "starting kube-apiserver on $HOST:$API_PORT${NETNS:+ in netns $NETNS}"
  echo "$1" >"$DIR/bin-dir"
  # Kept for start-apiserver, so an outage drill brings back the same range.
  local node_ports="${BARELB_CP_NODE_PORT_RANGE:-$(cat "$DIR/node-port-range" 2>/dev/null || echo 30000-32767)}"
  echo "$node_ports" >"$DIR/node-port-range"
  start_bg kube-apiserver "$1/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --secure-port="$API_PORT" --bind-address="$HOST" --advertise-address="$HOST" \
    --cert-dir="$DIR/certs" --token-auth-file="$DIR/tokens.csv" --authorization-mode=RBAC \
    --service-account-key-file="$DIR/sa.pub" --service-account-signing-key-file="$DIR/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc \
    --feature-gates=IPv6DualStack=true \
    --service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112 --service-node-port-range="$node_ports" \
    --enable-priority-and-fairness=false
  wait_for kube-apiserver 60 kubectl --kubeconfig "$KUBECONFIG_OUT" get --raw /readyz
}

up() {
  if pid_alive "$DIR/kube-apiserver.pid"; then
    say "control plane already running"
    echo "$KUBECONFIG_OUT"
    return
  fi
  bash "$BARELB_ROOT/scripts/install-deps.sh"
  local bin
  bin="$(bash "$BARELB_ROOT/scripts/build-kubernetes.sh")"
  down_quiet
  mkdir -p "$DIR/etcd" "$DIR/certs"
  chmod 700 "$DIR/etcd"

  openssl genrsa -out "$DIR/sa.key" 2048 2>/dev/null
  openssl rsa -in "$DIR/sa.key" -pubout -out "$DIR/sa.pub" 2>/dev/null
  local token
  token="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  echo "$token,barelb-admin,barelb-admin,system:masters" >"$DIR/tokens.csv"
  cat >"$KUBECONFIG_OUT" <<KC
apiVersion: v1
kind: Config
clusters:
- name: barelb-lab
  cluster:
    server: https://$HOST:$API_PORT
    insecure-skip-tls-verify: true
users:
- name: barelb-admin
  user:
    token: $token
contexts:
- name: barelb-lab
  context: {cluster: barelb-lab, user: barelb-admin}
current-context: barelb-lab
KC
  chmod 600 "$KUBECONFIG_OUT"

  # etcd is only ever reached by the apiserver beside it: loopback (of the namespace, in a lab).
  local etcd_url="http://127.0.0.1:$ETCD_PORT" peer_url="http://127.0.0.1:$((ETCD_PORT + 1))"
  say "starting etcd on 127.0.0.1:$ETCD_PORT${NETNS:+ in netns $NETNS}"
  start_bg etcd etcd --name barelb --data-dir "$DIR/etcd" \
    --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "$peer_url" --initial-advertise-peer-urls "$peer_url" \
    --initial-cluster "barelb=$peer_url" \
    --unsafe-no-fsync
  wait_for etcd 30 curl -sf "$etcd_url/health"

  start_apiserver "$bin"
  say "starting kube-controller-manager"
  start_bg kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig="$KUBECONFIG_OUT" --leader-elect=false --feature-gates=IPv6DualStack=true \
    --controllers=endpoint,endpointslice,endpointslicemirroring,namespace,serviceaccount-token,garbagecollector \
    --service-account-private-key-file="$DIR/sa.key" --root-ca-file="$DIR/certs/apiserver.crt" \
    --port=0 --secure-port=0 --use-service-account-credentials=false
  sleep 0.5
  pid_alive "$DIR/kube-controller-manager.pid" || die "kube-controller-manager exited; see $DIR/kube-controller-manager.log"
  wait_for "default namespace" 30 kubectl --kubeconfig "$KUBECONFIG_OUT" get namespace default
  say "control plane up; export KUBECONFIG=$KUBECONFIG_OUT"
  echo "$KUBECONFIG_OUT"
}

stop_pid() { # pidfile
  local f=$1
  [[ -f $f ]] || return 0
  local pid
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

down_quiet() {
  for p in kube-controller-manager kube-apiserver etcd; do stop_pid "$DIR/$p.pid"; done
  rm -rf "$DIR"
}

case "${1:-}" in
  up) up ;;
  # Outage drills: stop the API server (etcd keeps its data) and bring it back.
  stop-apiserver) stop_pid "$DIR/kube-apiserver.pid"; say "kube-apiserver stopped" ;;
  start-apiserver)
    pid_alive "$DIR/kube-apiserver.pid" && die "kube-apiserver is already running"
    start_apiserver "$(cat "$DIR/bin-dir")" ;;
  down) down_quiet; say "control plane stopped" ;;
  env) echo "export KUBECONFIG=$KUBECONFIG_OUT" ;;
  *) echo "usage: $0 up|down|env|stop-apiserver|start-apiserver" >&2; exit 2 ;;
esac
