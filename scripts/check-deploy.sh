#!/usr/bin/env bash
# The pool's deployment files: every Kubernetes manifest against the bundled Kubernetes schemas
# (offline, strict: an unknown field fails) for the newest and the oldest version we support,
# and the Dockerfile through hadolint. Both tools come from PyPI into the clients' venv
# (scripts/setup.sh). How the files agree with each other and with maskgate is
# tests/integration/deploy.rs. The image itself cannot be built here: no registry is reachable.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/tests/clients/.venv/bin"
for version in 1.37.0 1.30.0; do
  "$BIN/kubernetes-validate" --strict --quiet --kubernetes-version "$version" "$ROOT"/deploy/kubernetes/*.yaml
done
"$BIN/hadolint" --failure-threshold info "$ROOT/deploy/container/Dockerfile"
echo "deploy: manifests valid for Kubernetes 1.30 and 1.37, Dockerfile lint clean"
