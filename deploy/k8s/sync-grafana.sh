#!/usr/bin/env bash
# Copies the Grafana provisioning and dashboards JSON into the kustomize base, which may read no
# file outside its own folder. Run after `npm run dashboards:gen`; test/unit/deploy-k8s.test.ts
# fails while the copies differ from their sources (the JSON is compared parsed: the copies are
# formatted like the rest of the repository, the generated originals are not).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="$root/deploy/k8s/base/grafana/files"
mkdir -p "$dest"
rm -f "$dest"/*.json "$dest"/*.yaml
cp "$root/deploy/grafana/provisioning/datasources/phasesweep.yaml" "$dest/datasources.yaml"
cp "$root/deploy/grafana/provisioning/dashboards/phasesweep.yaml" "$dest/dashboards.yaml"
cp "$root"/dashboards/json/*.json "$dest/"
(cd "$root" && npx --no-install prettier --log-level warn --write "${dest#"$root"/}")
echo "synced $(ls "$dest" | wc -l) files into ${dest#"$root"/}"
