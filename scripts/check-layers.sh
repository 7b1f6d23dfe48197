#!/usr/bin/env bash
# The layering docs/ARCHITECTURE.md promises, checked: each top-level module of src-tauri/ may
# name (with `crate::…`) only the modules listed for it. `mask` uses nothing else of ours,
# `restore` only `mask`, `proxy` nothing of the control layer or the shells, and so on up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../src-tauri"
declare -A allowed=(
  [mask]=""
  [restore]="mask"
  [journal]="mask restore"
  [settings]="mask"
  [proxy]="mask restore journal settings"
  [local]="proxy settings"
  [doctor]="local proxy settings"
  [control]="mask restore journal settings proxy local doctor"
  [dashboard]="control journal proxy"
  [headless]="control dashboard settings proxy"
  [launch]="headless settings proxy local"
  [desktop]="control journal settings proxy mask doctor"
)
status=0
for module in "${!allowed[@]}"; do
  sources=("$module.rs")
  [ -d "$module" ] && sources=("$module")
  used=$(grep -rhoE 'crate::[a-z_]+' "${sources[@]}" 2>/dev/null | sed 's/crate:://' | sort -u || true)
  for name in $used; do
    if [ "$name" != "$module" ] && [[ " ${allowed[$module]} " != *" $name "* ]]; then
      echo "layering: $module uses crate::$name, which it may not (allowed: ${allowed[$module]:-nothing})" >&2
      grep -rnE "crate::$name\b" "${sources[@]}" >&2 || true
      status=1
    fi
  done
done
[ "$status" -eq 0 ] && echo "layering: every module uses only the layers below it"
exit "$status"
