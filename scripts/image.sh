#!/usr/bin/env bash
# The container image, built and run with podman where no image registry is reachable.
#
#   scripts/image.sh base     stand-in base images under the names the Dockerfile's FROM lines
#                             use (node:20-bookworm, node:20-bookworm-slim), made only when
#                             `podman image exists` says they are missing: podman's storage is
#                             the cache. Debian bookworm (debootstrap --variant=minbase, the
#                             Debian slim images' dpkg excludes) plus this machine's node, npm
#                             and, in the build image only, Node's headers (npm_config_nodedir,
#                             for node-gyp) and the CAs in $NODE_EXTRA_CA_CERTS (for npm ci).
#   scripts/image.sh build    base, then `podman build` of the unmodified Dockerfile (layers cached)
#   scripts/image.sh size     the image's size in bytes, and what it adds to its base
#   scripts/image.sh mount    `podman image mount`: prints the image's root directory
#   scripts/image.sh umount   `podman image unmount`
#   scripts/image.sh run [--root DIR] [--user UID[:GID]] [--cap-add CAP]... [--volume SRC:DST[:ro]]...
#                        [--env NAME=VALUE]... [--] [ARGS...]
#                             runs the image's ENTRYPOINT (with ARGS, else its CMD) from its
#                             mounted root DIR (default: `podman image mount`, left mounted) as
#                             `docker run --read-only --cap-drop ALL --cap-add CAP
#                             --security-opt no-new-privileges --user UID:GID` would, in the
#                             caller's network namespace (`ip netns exec NS scripts/image.sh run`).
#                             Container runtimes cannot start containers here (setrlimit is
#                             refused), so: a private mount namespace, the root bind-mounted
#                             read-only with /proc, /sys and a minimal /dev, chroot, then setpriv
#                             for the user, capabilities and no_new_privs, then the image's ENV and
#                             WORKDIR. Every step execs the next: the caller's PID is the program's.
#
# $BARELB_IMAGE (default barelb:<package.json version>, what manifests/ run) names the image.
# Installs podman (and debootstrap, for `base`) through apt when missing. Needs root.
source "$(dirname "$0")/lib.sh"

IMAGE="${BARELB_IMAGE:-barelb:$(node -p 'require(process.argv[1]).version' "$BARELB_ROOT/package.json")}"
BUILD_BASE=node:20-bookworm
RUNTIME_BASE=node:20-bookworm-slim
MIRROR="${BARELB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

need_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  say "installing: ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    say "apt-get update"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# What the Debian slim images leave out (debuerreotype's --slimify): docs, man pages, locales.
slimify() { # rootfs
  local r=$1
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EXCLUDES'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EXCLUDES
  # ... and their apt settings: no package caches left in a layer, no translations.
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'CLEAN'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CLEAN
  echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' >"$r/etc/apt/apt.conf.d/docker-gzip-indexes"
  find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -depth -type d -empty -delete
  local d
  for d in groff info linda lintian/overrides locale man; do
    [[ -d $r/usr/share/$d ]] && find "$r/usr/share/$d" -mindepth 1 -delete
  done
  # Image builds bring their own apt lists (`apt-get update`), and their own resolv.conf.
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb
  : >"$r/etc/resolv.conf"
  echo localhost >"$r/etc/hostname"
}

node_headers() { # the directory holding this node's headers (include/node with common.gypi)
  local v d
  v="$(node -v)"
  v="${v#v}"
  for d in "$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node" /usr/include/node /usr/local/include/node \
    "$HOME/.cache/node-gyp/$v/include/node"; do
    [[ -f $d/common.gypi && -f $d/node_version.h ]] || continue
    # Same version as the binary, or node-gyp builds an addon for another ABI.
    [[ "$(awk '/define NODE_(MAJOR|MINOR|PATCH)_VERSION /{printf "%s%s", sep, $3; sep="."}' "$d/node_version.h")" == "$v" ]] || continue
    echo "$d"
    return 0
  done
  die "no headers of node $v found (looked for include/node next to node, in /usr/include, /usr/local/include, ~/.cache/node-gyp/$v)"
}

import_rootfs() { # rootfs name changes...
  local r=$1 name=$2
  shift 2
  local changes=() c
  for c in "$@"; do changes+=(--change "$c"); done
  tar -C "$r" --numeric-owner -cf - . | podman import --quiet "${changes[@]}" - "$name" >/dev/null
  say "imported $name ($(podman image inspect --format '{{.Size}}' "$name" | numfmt --to=iec))"
}

base() {
  need_packages podman
  local missing=() img
  # A real image of that name (pulled where a registry is reachable) serves as well.
  for img in "$BUILD_BASE" "$RUNTIME_BASE"; do
    podman image exists "$img" 2>/dev/null || missing+=("$img")
  done
  if ! ((${#missing[@]})); then
    say "base images present: $BUILD_BASE, $RUNTIME_BASE"
    return 0
  fi
  need_packages debootstrap
  local v major headers npm_dir
  v="$(node -v)"
  major="${v#v}"
  major="${major%%.*}"
  [[ $major == 20 ]] || die "the Dockerfile's base images are Node 20; this machine's node is $v"
  headers="$(node_headers)"
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  [[ -f $npm_dir/package.json ]] || die "cannot find npm's directory (from $(command -v npm))"

  local work start=$SECONDS
  work="$(mktemp -d /var/tmp/barelb-base-XXXXXX)"
  # shellcheck disable=SC2064
  trap "rm -rf --one-file-system '$work'" EXIT
  say "stand-in base images missing (${missing[*]}): debootstrap --variant=minbase bookworm from $MIRROR"
  local r=$work/rootfs
  debootstrap --variant=minbase bookworm "$r" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  say "debootstrap done in $((SECONDS - start)) s"
  slimify "$r"

  # Where the official node images have them: /usr/local.
  install -D -m 755 "$(readlink -f "$(command -v node)")" "$r/usr/local/bin/node"
  mkdir -p "$r/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$r/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$r/usr/local/bin/npx"
  local env_common=("ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "ENV NODE_VERSION=${v#v}" 'CMD ["node"]')

  podman image exists "$RUNTIME_BASE" || import_rootfs "$r" "docker.io/library/$RUNTIME_BASE" "${env_common[@]}"

  if ! podman image exists "$BUILD_BASE"; then
    mkdir -p "$r/usr/local/include"
    cp -a "$headers" "$r/usr/local/include/node"
    local env_build=("ENV npm_config_nodedir=/usr/local")
    if [[ -n ${NODE_EXTRA_CA_CERTS:-} && -f $NODE_EXTRA_CA_CERTS ]]; then
      # This machine reaches the npm registry through CAs it trusts on top of Node's own.
      install -D -m 644 "$NODE_EXTRA_CA_CERTS" "$r/usr/local/share/barelb-build/extra-ca.pem"
      env_build+=("ENV NODE_EXTRA_CA_CERTS=/usr/local/share/barelb-build/extra-ca.pem")
    fi
    import_rootfs "$r" "docker.io/library/$BUILD_BASE" "${env_common[@]}" "${env_build[@]}"
  fi
  rm -rf --one-file-system "$work"
  trap - EXIT
  say "stand-in base images made in $((SECONDS - start)) s"
}

build() {
  base
  local start=$SECONDS
  say "podman build -t $IMAGE (the Dockerfile as it is)"
  podman build --pull=never --isolation=chroot -t "$IMAGE" -f "$BARELB_ROOT/Dockerfile" "$BARELB_ROOT" >&2
  say "built $IMAGE in $((SECONDS - start)) s: $(size | head -1)"
}

size() {
  local total base_size
  total="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
  base_size="$(podman image inspect --format '{{.Size}}' "$RUNTIME_BASE")"
  echo "$IMAGE: $total bytes ($(numfmt --to=iec "$total"))"
  echo "$RUNTIME_BASE: $base_size bytes ($(numfmt --to=iec "$base_size")); $IMAGE adds $((total - base_size)) bytes ($(numfmt --to=iec $((total - base_size))))"
}

run() {
  local root="" user="" caps=() vols=() envs=()
  while (($#)); do
    case $1 in
      --root) root=$2; shift 2 ;;
      --user) user=$2; shift 2 ;;
      --cap-add) caps+=("$2"); shift 2 ;;
      --volume) vols+=("$2"); shift 2 ;;
      --env) envs+=("$2"); shift 2 ;;
      --) shift; break ;;
      -*) die "run: unknown option $1" ;;
      *) break ;;
    esac
  done
  [[ -n $root ]] || root="$(podman image mount "$IMAGE")"
  [[ -x $root/usr/local/bin/node || -x $root/usr/bin/node ]] || die "run: $root is not the image's root"

  # The image's config: ENV, WORKDIR, USER, ENTRYPOINT and CMD, NUL-separated.
  local cfg=()
  mapfile -d '' -t cfg < <(podman image inspect --format '{{json .Config}}' "$IMAGE" | node -e '
    const c = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const out = [c.WorkingDir || "/", c.User || "0", (c.Env || []).length, ...(c.Env || []), (c.Entrypoint || []).length, ...(c.Entrypoint || []), (c.Cmd || []).length, ...(c.Cmd || [])];
    process.stdout.write(out.map((x) => String(x) + "\0").join(""));')
  local workdir=${cfg[0]} image_user=${cfg[1]} i=2 n
  n=${cfg[i]}; local image_env=("${cfg[@]:i+1:n}"); i=$((i + 1 + n))
  n=${cfg[i]}; local entrypoint=("${cfg[@]:i+1:n}"); i=$((i + 1 + n))
  n=${cfg[i]}; local cmd=("${cfg[@]:i+1:n}")
  (($#)) && cmd=("$@")

  user=${user:-$image_user}
  local uid=${user%%:*} gid=0
  [[ $user == *:* ]] && gid=${user#*:}
  [[ $uid =~ ^[0-9]+$ && $gid =~ ^[0-9]+$ ]] || die "run: only numeric users (--user $user)"
  local home=/
  ((uid == 0)) && home=/root
  local capset="-all" c
  for c in "${caps[@]}"; do
    c=${c,,}
    capset+=",+${c#cap_}"
  done

  exec unshare --mount --propagation private -- bash "$0" _inside "$root" "$uid" "$gid" "$capset" "$workdir" \
    "${#vols[@]}" "${vols[@]}" \
    "$((${#image_env[@]} + ${#envs[@]} + 1))" "HOME=$home" "${image_env[@]}" "${envs[@]}" \
    "${entrypoint[@]}" "${cmd[@]}"
}

# In the private mount namespace `run` made: the container's mounts, then chroot and setpriv.
inside() {
  local root=$1 uid=$2 gid=$3 capset=$4 workdir=$5 n
  shift 5
  n=$1; local vols=("${@:2:n}"); shift $((n + 1))
  n=$1; local env=("${@:2:n}"); shift $((n + 1))
  mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
  mount -t tmpfs -o nosuid,noexec,mode=755,size=64k tmpfs "$root/dev"
  local d
  for d in null zero full random urandom tty; do
    : >"$root/dev/$d"
    mount --bind "/dev/$d" "$root/dev/$d"
  done
  ln -s /proc/self/fd "$root/dev/fd"
  ln -s /proc/self/fd/0 "$root/dev/stdin"
  ln -s /proc/self/fd/1 "$root/dev/stdout"
  ln -s /proc/self/fd/2 "$root/dev/stderr"
  mkdir "$root/dev/shm"
  mount -t tmpfs -o nosuid,nodev,noexec,size=64m tmpfs "$root/dev/shm"
  local v src dst opt
  for v in "${vols[@]}"; do
    IFS=: read -r src dst opt <<<"$v"
    [[ -e $root$dst ]] || die "run: --volume $v: $dst does not exist in the image (its root is read-only)"
    mount --bind "$src" "$root$dst"
    [[ $opt == ro ]] && mount -o remount,bind,ro "$root$dst"
  done
  # readOnlyRootFilesystem: the image's root, read-only for this namespace only.
  mount -o remount,bind,ro "$root"
  # chroot first (setpriv would drop the capability chroot needs); the image's setpriv and env.
  exec chroot "$root" /usr/bin/setpriv --reuid="$uid" --regid="$gid" --clear-groups \
    --bounding-set="$capset" --inh-caps="$capset" --no-new-privs \
    /usr/bin/env -i --chdir="$workdir" "${env[@]}" "$@"
}

case "${1:-}" in
  base) base ;;
  build) build ;;
  size) size ;;
  mount) podman image mount "$IMAGE" ;;
  umount) podman image unmount "$IMAGE" >/dev/null ;;
  run) shift; run "$@" ;;
  _inside) shift; inside "$@" ;;
  *) echo "usage: $0 base|build|size|mount|umount|run [...]" >&2; exit 2 ;;
esac
