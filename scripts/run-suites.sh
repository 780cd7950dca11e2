#!/usr/bin/env bash
# Runs each named npm script in turn, every one even after a failure, and exits
# non-zero at the end if any failed, naming them: one failing suite must never
# hide the results of the others (an `a && b && c` chain skipped them).
set -u
failed=()
for suite in "$@"; do
  printf '\n== npm run %s\n' "$suite"
  npm run --silent "$suite" || failed+=("$suite")
done
if ((${#failed[@]})); then
  printf '\nfailed suites: %s\n' "${failed[*]}" >&2
  exit 1
fi
