#!/usr/bin/env bash
# Installs the Debian packages the control plane build, the lab and the tests need.
# Idempotent: does nothing when everything is already there.
source "$(dirname "$0")/lib.sh"

PACKAGES=(golang-go golang-github-modern-go-reflect2-dev etcd-server rsync jq dpkg-dev iproute2 iptables nftables arping ndisc6 conntrack iperf3 curl openssl stress-ng faketime shellcheck)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SRC_LIST=/etc/apt/sources.list.d/barelb-deb-src.sources
need_update=0
if [[ ! -f $SRC_LIST ]]; then
  # Debian's kubernetes *source* package is where kube-apiserver comes from.
  say "enabling deb-src for Debian's archive ($SRC_LIST)"
  cat >"$SRC_LIST" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  need_update=1
fi
[[ -z "$(kubernetes_source_version)" ]] && need_update=1

if ((${#missing[@]})) || ((need_update)); then
  say "apt-get update"
  apt-get update -qq >/dev/null
fi
if ((${#missing[@]})); then
  say "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
say "Debian packages ready"
