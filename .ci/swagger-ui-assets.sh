#!/usr/bin/env bash
# Swagger UI's browser assets, vendored under hub/swagger-ui/ so the page at /openapi/ui works with
# no internet: the npm registry's swagger-ui-dist build (bundle, standalone preset, stylesheet)
# with its licence, notice and the licences of what the bundles include. Run it (or
# `make swagger-ui-assets`) after changing the version; `--check` only compares the committed
# files with what the registry has for this version.
set -euo pipefail
cd "$(dirname "$0")/.."

SWAGGER_UI=5.35.0
STATIC=hub/swagger-ui

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$SWAGGER_UI" >/dev/null)
tar -xzf "$work"/swagger-ui-dist-[0-9]*.tgz -C "$work"
dist="$work/package"

out="$work/out"
mkdir "$out"
for name in swagger-ui-bundle.js swagger-ui-standalone-preset.js swagger-ui.css; do
  cp "$dist/$name" "$out/$name"
done
cp "$dist/LICENSE" "$out/LICENSE.swagger-ui"
cp "$dist/NOTICE" "$out/NOTICE.swagger-ui"
cp "$dist/swagger-ui-bundle.js.LICENSE.txt" "$out/LICENSE.swagger-ui-bundle"
cp "$dist/swagger-ui-standalone-preset.js.LICENSE.txt" "$out/LICENSE.swagger-ui-standalone-preset"
printf 'swagger-ui-dist@%s\n' "$SWAGGER_UI" >"$out/VERSIONS"

if [ "${1:-}" = "--check" ]; then
  for file in "$out"/*; do
    cmp -s "$file" "$STATIC/$(basename "$file")" \
      || { echo "swagger-ui-assets: $STATIC/$(basename "$file") differs; run .ci/swagger-ui-assets.sh" >&2; exit 1; }
  done
  echo "swagger-ui-assets: up to date"
else
  mkdir -p "$STATIC"
  cp "$out"/* "$STATIC/"
  echo "swagger-ui-assets: $(tr '\n' ' ' <"$out/VERSIONS")-> $STATIC"
fi
