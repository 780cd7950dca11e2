#!/usr/bin/env bash
# A multi-node lab on one machine, in network namespaces on a bridge:
#
#   <p>-cp      control plane (etcd, kube-apiserver, kube-controller-manager) at .2 and ::2
#   <p>-n1..n3  nodes node1..node3 at .11-.13 and ::11-::13, each running the real kube-proxy
#               (iptables mode, dual-stack)
#   <p>-client  a client at .100 and ::100
#   <p>-sw      the switch: a bridge joining them all (no address anywhere in the root namespace,
#               IPv6 off in its namespace; multicast snooping off, so NDP is flooded like ARP)
#
# Dual-stack, on one LAN: 198.51.100.0/24 (TEST-NET-2) and 2001:db8:5133:100::/64 (in the
# documentation prefix 2001:db8::/32); refused if the host has a route overlapping either
# (other than its default route). No default routes in the lab. IPv6 addresses are added
# `nodad` and router advertisements are off (accept_ra=0, so no router solicitations either):
# nothing waits on DAD or sends NDP noise. <p> is blb$BARELB_LAB_ID. VIPs go in .200-.250 and
# ::200-::250 (hex). Each Node has both InternalIPs, IPv4 first; the API server's Service range
# is dual (IPv4 first, see control-plane.sh), so a Service is IPv4-only unless it asks.
#
#   scripts/lab.sh up       build it; prints the path of its env file last
#   scripts/lab.sh down     (BARELB_LAB_ID from that env file) stop and delete it
#   scripts/lab.sh env | status
#
# Everything started is recorded under .lab/lab<ID> and stopped by PID on `down`.
source "$(dirname "$0")/lib.sh"

# `up` without BARELB_LAB_ID takes the first ID whose namespaces are all free, so a
# lab left behind (or another checkout's) never blocks a new one.
if [[ -z ${BARELB_LAB_ID:-} && ${1:-} == up ]]; then
  BARELB_LAB_ID=0
  while ip netns list | grep -q "^blb$BARELB_LAB_ID-" || [[ -d $BARELB_ROOT/.lab/lab$BARELB_LAB_ID ]]; do
    BARELB_LAB_ID=$((BARELB_LAB_ID + 1))
  done
fi
ID="${BARELB_LAB_ID:-0}"
P="blb$ID"
DIR="$BARELB_ROOT/.lab/lab$ID"
SUBNET=198.51.100
CP_IP=$SUBNET.2
CLIENT_IP=$SUBNET.100
# The IPv6 LAN: one /64; host parts spelled like the IPv4 last octets (::11 is node1, 0x11).
SUBNET6=2001:db8:5133:100
CP_IP6=$SUBNET6::2
CLIENT_IP6=$SUBNET6::100
NODES=(node1 node2 node3)
node_ip() { echo "$SUBNET.$((10 + ${1#node}))"; }
node_ip6() { echo "$SUBNET6::$((10 + ${1#node}))"; }
node_ns() { echo "$P-n${1#node}"; }
API_PORT=6443

cp_env() {
  export BARELB_CP_NETNS="$P-cp" BARELB_CP_HOST="$CP_IP" BARELB_CP_PORT=$API_PORT BARELB_ETCD_PORT=2379 BARELB_CP_DIR="$DIR/cp"
}

# The host's default route is not a conflict in either family (`ip` prints 0.0.0.0/0 and ::/0
# as "default", which neither check matches): every address falls under it, the lab's
# namespaces never use the host's routing table, and refusing it would refuse any connected
# machine (this one has both). A more specific route is a conflict: the host really uses
# those addresses.
check_subnet_free() {
  if ip -4 route show | awk '{print $1}' | grep -qE "^($SUBNET\.|198\.51\.100\.0/2[0-4])"; then
    ip -4 route show >&2
    die "the host has a route overlapping $SUBNET.0/24; refusing to build the lab"
  fi
  # `match`: routes containing the /64 (the default route among them); `root`: routes inside it.
  local overlap6
  overlap6="$({ ip -6 route show match "$SUBNET6::/64"; ip -6 route show root "$SUBNET6::/64"; } | awk '$1 != "default"')"
  if [[ -n $overlap6 ]]; then
    echo "$overlap6" >&2
    die "the host has a route overlapping $SUBNET6::/64; refusing to build the lab"
  fi
}

add_host() { # netns, IPv4 address, IPv6 address, name of its port on the switch
  local ns=$1 addr=$2 addr6=$3 port=$4
  ip netns add "$ns"
  echo "$ns" >>"$DIR/netns"
  # Before any link exists, so eth0 (also one a test recreates) inherits `default`: no RAs
  # taken and no router solicitations sent, no DAD (its link-local address included), and
  # IPv6 addresses kept when a test sets eth0 down, as a node's network config would put
  # them back (Linux flushes them on an administrative down otherwise).
  local c
  for c in all default; do
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$c.accept_ra=0" "net.ipv6.conf.$c.accept_dad=0" "net.ipv6.conf.$c.keep_addr_on_down=1"
  done
  ip link add eth0 netns "$ns" type veth peer name "$port" netns "$P-sw"
  ip -n "$P-sw" link set "$port" master br0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" addr add "$addr6/64" dev eth0 nodad
  ip -n "$ns" link set eth0 up
}

up() {
  [[ -d $DIR ]] && die "lab $ID already exists ($DIR); run '$0 down' first"
  bash "$BARELB_ROOT/scripts/install-deps.sh"
  local bin
  bin="$(bash "$BARELB_ROOT/scripts/build-kubernetes.sh")"
  check_subnet_free
  mkdir -p "$DIR"
  # A lab that fails halfway is torn down, not left for the next run to trip over.
  trap '[[ -f $DIR/env ]] || { say "lab setup failed; tearing down what was built"; down; }' EXIT
  : >"$DIR/netns"
  : >"$DIR/pids"

  say "building lab $ID: switch, control plane, ${#NODES[@]} nodes, client on $SUBNET.0/24 and $SUBNET6::/64"
  ip netns add "$P-sw"
  echo "$P-sw" >>"$DIR/netns"
  # The switch is layer 2 only: no IPv6 on its links (no link-local addresses, solicitations
  # or MLD from it), and no multicast snooping, so every host sees every NDP solicitation.
  ip netns exec "$P-sw" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$P-sw" link add br0 type bridge mcast_snooping 0
  ip -n "$P-sw" link set br0 up
  add_host "$P-cp" "$CP_IP" "$CP_IP6" cp
  add_host "$P-client" "$CLIENT_IP" "$CLIENT_IP6" client
  for n in "${NODES[@]}"; do
    add_host "$(node_ns "$n")" "$(node_ip "$n")" "$(node_ip6 "$n")" "n${n#node}"
    # Nodes forward to endpoints on other nodes, as a real node does (all.forwarding also
    # sets default.forwarding, so a recreated eth0 forwards too).
    ip netns exec "$(node_ns "$n")" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  done

  cp_env
  KUBECONFIG="$(bash "$BARELB_ROOT/scripts/control-plane.sh" up | tail -1)"
  export KUBECONFIG
  local k=(ip netns exec "$P-cp" kubectl --kubeconfig "$KUBECONFIG")

  for n in "${NODES[@]}"; do
    "${k[@]}" apply -f - >/dev/null 2>&1 <<NODE
apiVersion: v1
kind: Node
metadata:
  name: $n
  labels: {kubernetes.io/hostname: $n, kubernetes.io/os: linux}
NODE
    "${k[@]}" patch node "$n" --subresource=status --type=merge \
      -p "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"$(node_ip "$n")\"},{\"type\":\"InternalIP\",\"address\":\"$(node_ip6 "$n")\"},{\"type\":\"Hostname\",\"address\":\"$n\"}]}}" >/dev/null 2>&1 \
      || die "could not set the addresses of node $n"
  done

  for n in "${NODES[@]}"; do
    local ns
    ns="$(node_ns "$n")"
    ip netns exec "$ns" "$bin/kube-proxy" --kubeconfig="$KUBECONFIG" --hostname-override="$n" \
      --proxy-mode=iptables --feature-gates=IPv6DualStack=true --cluster-cidr=10.244.0.0/16,fd00:10:244::/56 \
      --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
      --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256 \
      >"$DIR/kube-proxy-$n.log" 2>&1 &
    echo "$! kube-proxy-$n" >>"$DIR/pids"
  done
  for n in "${NODES[@]}"; do
    local ok=0
    for _ in $(seq 1 100); do
      if ip netns exec "$(node_ns "$n")" curl -sf http://127.0.0.1:10256/healthz >/dev/null 2>&1; then ok=1; break; fi
      sleep 0.2
    done
    ((ok)) || die "kube-proxy on $n did not become healthy; see $DIR/kube-proxy-$n.log"
  done

  write_env
  say "lab $ID up; source $DIR/env"
  echo "$DIR/env"
}

write_env() {
  cat >"$DIR/env" <<ENV
export BARELB_LAB_ID=$ID
export BARELB_LAB_DIR=$DIR
export BARELB_LAB_CP_NETNS=$P-cp
export BARELB_LAB_CLIENT_NETNS=$P-client
export BARELB_LAB_SWITCH_NETNS=$P-sw
export BARELB_LAB_CLIENT_IP=$CLIENT_IP
export BARELB_LAB_NODES="${NODES[*]}"
export BARELB_LAB_NODE_NETNS="$(for n in "${NODES[@]}"; do printf '%s ' "$(node_ns "$n")"; done)"
export BARELB_LAB_NODE_IPS="$(for n in "${NODES[@]}"; do printf '%s ' "$(node_ip "$n")"; done)"
export BARELB_LAB_SUBNET=$SUBNET.0/24
export BARELB_LAB_VIP_RANGE=$SUBNET.200-$SUBNET.250
export BARELB_LAB_CP_IP6=$CP_IP6
export BARELB_LAB_CLIENT_IP6=$CLIENT_IP6
export BARELB_LAB_NODE_IPS6="$(for n in "${NODES[@]}"; do printf '%s ' "$(node_ip6 "$n")"; done)"
export BARELB_LAB_SUBNET6=$SUBNET6::/64
export BARELB_LAB_VIP_RANGE6=$SUBNET6::200-$SUBNET6::250
export KUBECONFIG=$DIR/cp/admin.kubeconfig
# For scripts/control-plane.sh stop-apiserver / start-apiserver against the lab's control plane:
export BARELB_CP_NETNS=$P-cp BARELB_CP_HOST=$CP_IP BARELB_CP_PORT=$API_PORT BARELB_ETCD_PORT=2379 BARELB_CP_DIR=$DIR/cp
ENV
}

down() {
  [[ -d $DIR ]] || { say "no lab $ID"; return 0; }
  if [[ -f $DIR/pids ]]; then
    while read -r pid _; do
      kill "$pid" 2>/dev/null || true
    done <"$DIR/pids"
    sleep 0.3
    while read -r pid _; do
      kill -9 "$pid" 2>/dev/null || true
    done <"$DIR/pids"
  fi
  cp_env
  bash "$BARELB_ROOT/scripts/control-plane.sh" down >/dev/null 2>&1 || true
  if [[ -f $DIR/netns ]]; then
    while read -r ns; do
      # Anything still running in the namespace was started for the lab.
      ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
      ip netns del "$ns" 2>/dev/null || true
    done <"$DIR/netns"
  fi
  rm -rf "$DIR"
  say "lab $ID down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) cat "$DIR/env" ;;
  status) [[ -f $DIR/env ]] && { cat "$DIR/env"; ip netns list | grep "^$P-"; } || echo "no lab $ID" ;;
  *) echo "usage: $0 up|down|env|status" >&2; exit 2 ;;
esac
