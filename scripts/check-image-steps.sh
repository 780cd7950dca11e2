#!/usr/bin/env bash
# Replays the Dockerfile without a Docker engine, to prove what can be proved here:
# each stage gets a directory standing in for its filesystem; COPY copies from the
# build context (the working tree's tracked and untracked-but-not-ignored files, so
# uncommitted work counts, filtered by .dockerignore: never the local node_modules/,
# dist/ or build/) or from an earlier stage's directory; RUN runs in the WORKDIR with
# the stage's ENV. Then the runtime stage's ENTRYPOINT runs as its USER with only
# the files that stage copied: `--help`, the manifests' `controller` and `speaker`,
# and the packet-socket addon loaded from where barelb looks for it.
#
#   bash scripts/check-image-steps.sh [Dockerfile]
#
# apt-get steps are not replayed (they would change this machine); the tools they
# install are checked instead. Needs network access to the npm registry for `npm ci`
# unless ~/.npm has every package cached.
source "$(dirname "$0")/lib.sh"

dockerfile="${1:-$BARELB_ROOT/Dockerfile}"
[[ -f $dockerfile ]] || die "no Dockerfile at $dockerfile"
work="$(mktemp -d /tmp/barelb-image-XXXXXX)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

# --- the build context -------------------------------------------------------------
ignore_patterns=()
[[ -f $BARELB_ROOT/.dockerignore ]] && mapfile -t ignore_patterns < <(grep -vE '^\s*(#|$)' "$BARELB_ROOT/.dockerignore")

# The subset of .dockerignore this checker understands: "*", "NAME" and "!NAME" for
# top-level entries (globs allowed in NAME). The last matching pattern decides.
ignored() { # path relative to the context
  local top=${1%%/*} verdict=1 p name
  for p in "${ignore_patterns[@]}"; do
    name=${p#!}; name=${name%/}
    [[ $name == */* || $name == *'**'* ]] && die ".dockerignore pattern '$p' is not supported by $0"
    # shellcheck disable=SC2053
    if [[ $top == $name ]]; then
      if [[ $p == '!'* ]]; then verdict=1; else verdict=0; fi
    fi
  done
  return "$verdict"
}

context="$work/context"
mkdir -p "$context"
n=0
while IFS= read -r -d '' f; do
  [[ -e $BARELB_ROOT/$f ]] || continue # deleted in the working tree
  ignored "$f" && continue
  mkdir -p "$context/$(dirname "$f")"
  cp -a "$BARELB_ROOT/$f" "$context/$f"
  n=$((n + 1))
done < <(git -C "$BARELB_ROOT" ls-files -z --cached --others --exclude-standard)
say "build context: $n files ($(cd "$context" && find . -mindepth 1 -maxdepth 1 -printf '%P ' | sort))"

# --- the Dockerfile, instruction by instruction -------------------------------------
instructions=()
line_acc=""
while IFS= read -r line || [[ -n $line ]]; do
  [[ -z $line_acc && ( $line =~ ^[[:space:]]*# || $line =~ ^[[:space:]]*$ ) ]] && continue
  if [[ $line == *\\ ]]; then line_acc+="${line%\\} "; continue; fi
  instructions+=("$line_acc$line")
  line_acc=""
done <"$dockerfile"

stage="" root="" cwd="/" user="" entrypoint="" cmd=""
declare -A stage_root=()
stage_env=()
n_stage=0

in_root() { # absolute image path -> its directory here
  echo "$root${1}"
}

for ins in "${instructions[@]}"; do
  read -r op rest <<<"$ins"
  case "${op^^}" in
    FROM)
      read -r image _as name <<<"$rest"
      stage="${name:-$n_stage}"
      root="$work/stage-$stage"
      stage_root[$stage]="$root"
      mkdir -p "$root"
      cwd="/" user="" entrypoint="" cmd=""
      stage_env=()
      n_stage=$((n_stage + 1))
      say "stage $stage (FROM $image)"
      ;;
    WORKDIR)
      [[ $rest == /* ]] || rest="$cwd/$rest"
      cwd="$rest"
      mkdir -p "$(in_root "$cwd")"
      ;;
    ENV) stage_env+=("$rest") ;;
    USER) user="$rest" ;;
    ARG | LABEL | EXPOSE) ;;
    ENTRYPOINT) entrypoint="$rest" ;;
    CMD) cmd="$rest" ;;
    COPY)
      read -r -a words <<<"$rest"
      from=""
      if [[ ${words[0]} == --from=* ]]; then from="${words[0]#--from=}"; words=("${words[@]:1}"); fi
      [[ ${words[0]} == --* ]] && die "COPY option ${words[0]} is not supported by $0"
      dest="${words[-1]}"
      srcs=("${words[@]:0:${#words[@]}-1}")
      [[ $dest == /* ]] || dest="${cwd%/}/${dest#./}"
      for s in "${srcs[@]}"; do
        if [[ -n $from ]]; then
          [[ -n ${stage_root[$from]:-} ]] || die "COPY --from=$from: no such stage"
          src="${stage_root[$from]}/${s#/}"
        else
          src="$context/$s"
        fi
        [[ -e $src ]] || die "COPY ${from:+--from=$from }$s: the source does not exist${from:+ after the $from stage}${from:- in the build context (check .dockerignore)}"
        if [[ -d $src ]]; then
          mkdir -p "$(in_root "$dest")"
          cp -a "$src/." "$(in_root "$dest")/"
        elif [[ $dest == */ || ${#srcs[@]} -gt 1 ]]; then
          mkdir -p "$(in_root "$dest")"
          cp -a "$src" "$(in_root "$dest")/"
        else
          mkdir -p "$(dirname "$(in_root "$dest")")"
          cp -a "$src" "$(in_root "$dest")"
        fi
      done
      say "  COPY ${from:+--from=$from }${srcs[*]} -> $dest"
      ;;
    RUN)
      if [[ $rest == apt-get* ]]; then
        # Not replayed: check that what it installs is here.
        for tool in python3 make g++; do
          [[ $rest == *" $tool"* ]] || continue
          command -v "$tool" >/dev/null || die "RUN apt-get: $tool (installed by that step in the image) is missing here"
        done
        say "  RUN apt-get ... (not replayed; python3, make and g++ are present)"
        continue
      fi
      say "  RUN $rest"
      (
        cd "$(in_root "$cwd")"
        for e in "${stage_env[@]}"; do export "${e?}"; done
        bash -euo pipefail -c "$rest"
      ) || die "RUN $rest failed in stage $stage"
      ;;
    *) die "instruction $op is not supported by $0" ;;
  esac
done

# --- the runtime stage, as its user, with only what it copied ---------------------
[[ -n $entrypoint ]] || die "the last stage has no ENTRYPOINT"
mapfile -t argv < <(node -e 'for (const a of JSON.parse(process.argv[1])) console.log(a)' "$entrypoint") \
  || die "ENTRYPOINT must be in JSON exec form"
[[ ${argv[0]} == node ]] || die "ENTRYPOINT must start with node, not ${argv[0]}"
script="$(in_root "${argv[1]}")"
[[ -f $script ]] || die "ENTRYPOINT script ${argv[1]} is not in the runtime stage"
for dev in typescript tap eslint; do
  [[ ! -e $root/app/node_modules/$dev ]] || die "dev dependency $dev was copied into the runtime stage"
done

as_user=()
if [[ -n $user && $user != 0* && $user != root* ]]; then
  uid=${user%%:*} gid=${user#*:}
  as_user=(setpriv --reuid="$uid" --regid="$gid" --clear-groups)
fi
run_image() { # args...: runs the ENTRYPOINT like `docker run IMAGE args...`
  (
    cd "$(in_root "$cwd")"
    for e in "${stage_env[@]}"; do export "${e?}"; done
    "${as_user[@]}" node "$script" "${argv[@]:2}" "$@"
  )
}

out="$(run_image --help)" || die "barelb --help failed in the runtime stage"
grep -q '^Usage: barelb' <<<"$out" || die "barelb --help printed no usage: $out"
say "barelb --help (as user ${user:-root}) works"
for cmd in controller speaker; do
  run_image "$cmd" --help | grep -q "^Usage: barelb $cmd" || die "barelb $cmd --help failed in the runtime stage"
  say "barelb $cmd --help works"
done
(
  cd "$(in_root "$cwd")"
  "${as_user[@]}" node --input-type=module -e "
    const { interfaceInfo } = await import('$root/app/dist/src/net/packet-socket.js');
    console.log(JSON.stringify(interfaceInfo('lo')));"
) >"$work/addon.out" || die "the packet-socket addon does not load from the runtime stage"
say "packet-socket addon loads: interfaceInfo('lo') = $(cat "$work/addon.out")"
say "runtime stage: $(du -sh "$root" | cut -f1) (node_modules $(du -sh "$root/app/node_modules" | cut -f1)) besides the base image"
say "image steps OK"
