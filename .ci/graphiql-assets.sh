#!/usr/bin/env bash
# GraphiQL's browser assets, vendored under hub/graphql/static/ so the page at /graphql works with
# no internet: the minified production builds of graphiql, react and react-dom from the npm
# registry, with their licences. Run it (or `make graphiql-assets`) after changing a version;
# `--check` only compares the committed files with what the registry has for these versions.
# graphiql 4.1 is the last major with a self-contained UMD build (5.x needs a bundler and Monaco's
# workers); react 18.3 is the last with UMD builds.
set -euo pipefail
cd "$(dirname "$0")/.."

GRAPHIQL=4.1.2
REACT=18.3.1
STATIC=hub/graphql/static

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for package in graphiql react react-dom; do
  mkdir "$work/$package" && tar -xzf "$work"/"$package"-[0-9]*.tgz -C "$work/$package"
done

out="$work/out"
mkdir "$out"
cp "$work/graphiql/package/dist/index.umd.js" "$out/graphiql.min.js"
cp "$work/graphiql/package/graphiql.min.css" "$out/graphiql.min.css"
cp "$work/graphiql/package/LICENSE" "$out/LICENSE.graphiql"
cp "$work/react/package/umd/react.production.min.js" "$out/react.production.min.js"
cp "$work/react/package/LICENSE" "$out/LICENSE.react"
cp "$work/react-dom/package/umd/react-dom.production.min.js" "$out/react-dom.production.min.js"
cp "$work/react-dom/package/LICENSE" "$out/LICENSE.react-dom"
printf 'graphiql@%s\nreact@%s\nreact-dom@%s\n' "$GRAPHIQL" "$REACT" "$REACT" >"$out/VERSIONS"

if [ "${1:-}" = "--check" ]; then
  for file in "$out"/*; do
    cmp -s "$file" "$STATIC/$(basename "$file")" \
      || { echo "graphiql-assets: $STATIC/$(basename "$file") differs; run .ci/graphiql-assets.sh" >&2; exit 1; }
  done
  echo "graphiql-assets: up to date"
else
  cp "$out"/* "$STATIC/"
  echo "graphiql-assets: $(tr '\n' ' ' <"$out/VERSIONS")-> $STATIC"
fi
