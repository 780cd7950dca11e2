#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kube-proxy from Debian's
# `kubernetes` source package and caches the binaries under
#   $BARELB_CACHE/kubernetes-<debian version>+reflect2-<its debian version>/bin
# keyed by both source versions, so only the first run pays for the ~10-25 minute build.
#
# The source vendors json-iterator's reflect2 1.0.1, which reads Go's runtime
# internals and is broken on Go >= 1.18: kube-apiserver faults on the first
# custom resource it writes. Debian's golang-github-modern-go-reflect2-dev (1.0.2,
# the fix) replaces it.
# Prints the bin directory on stdout.
source "$(dirname "$0")/lib.sh"

BINARIES=(kube-apiserver kube-controller-manager kube-proxy)

version="$(kubernetes_source_version)"
[[ -n $version ]] || die "no 'kubernetes' source package known to apt: run scripts/install-deps.sh first"
REFLECT2_SRC=/usr/share/gocode/src/github.com/modern-go/reflect2
reflect2="$(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev 2>/dev/null)"
[[ -n $reflect2 && -d $REFLECT2_SRC ]] || die "golang-github-modern-go-reflect2-dev is not installed: run scripts/install-deps.sh first"
out="$BARELB_CACHE/kubernetes-$version+reflect2-$reflect2/bin"

have_all() { for b in "${BINARIES[@]}"; do [[ -x $out/$b ]] || return 1; done; }
if have_all; then
  echo "$out"
  exit 0
fi

work="$BARELB_CACHE/build-$$"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/gopath/src/k8s.io" "$work/home"
say "building Kubernetes $version from Debian's source package (first run only, 13-25 minutes on 2 cores)"
(cd "$work/src" && apt-get source --download-only kubernetes >/dev/null 2>&1) \
  || die "apt-get source kubernetes failed"
tar -C "$work/src" -xzf "$work"/src/kubernetes_*.orig.tar.gz
tree="$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -1)"
ln -s "$tree" "$work/gopath/src/k8s.io/kubernetes"
rm -rf "$tree/vendor/github.com/modern-go/reflect2"
cp -rL "$REFLECT2_SRC" "$tree/vendor/github.com/modern-go/reflect2"

# GOPATH mode, as Debian's debian/rules builds it: `make` runs the code generators
# a plain `go build` would miss.
# With Debian's Go (golang-go, 1.19), which this release's build and vendored code were
# made for: a machine may carry a newer Go first on PATH (/usr/local/go: 1.26 on the
# polyglot kind), which GOPATH mode and 1.20's vendored golang.org/x/sys do not survive.
# GOTOOLCHAIN=local keeps any Go from fetching another toolchain.
DEBIAN_GO=/usr/lib/go/bin
[[ -x $DEBIAN_GO/go ]] || die "Debian's Go ($DEBIAN_GO/go) is missing: run scripts/install-deps.sh first"
targets="${BINARIES[*]/#/cmd/}"
(
  cd "$work/gopath/src/k8s.io/kubernetes"
  env PATH="$DEBIAN_GO:$PATH" GOTOOLCHAIN=local GOPATH="$work/gopath" HOME="$work/home" CGO_ENABLED=0 \
    make WHAT="$targets"
) > "$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; die "Kubernetes build failed"; }

mkdir -p "$out.tmp"
for b in "${BINARIES[@]}"; do cp "$tree/_output/bin/$b" "$out.tmp/"; done
rm -rf "$out" && mv "$out.tmp" "$out"
say "cached in $out"
echo "$out"
