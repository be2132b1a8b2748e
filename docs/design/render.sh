#!/usr/bin/env bash
# Renders every diagram source in docs/design/src/*.mmd to
# docs/design/svg/*.svg with mermaid-cli, installed from the npm registry
# (once, into a cache directory) and driven through the system's Chromium.
#
#   bash docs/design/render.sh            # render all
#   bash docs/design/render.sh --check    # render into a temporary directory
#                                         # and fail if a committed SVG is missing
#
# Needs node and npm, and chromium (Debian: apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")"

VERSION=12.2.0
TOOLS="${SWIM_MERMAID_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/swim-mermaid-$VERSION}"
MMDC="$TOOLS/node_modules/.bin/mmdc"
if [ ! -x "$MMDC" ]; then
    echo "installing @mermaid-js/mermaid-cli@$VERSION into $TOOLS"
    mkdir -p "$TOOLS"
    # The system Chromium is used: puppeteer need not download its own.
    PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix "$TOOLS" --no-audit --no-fund --silent \
        "@mermaid-js/mermaid-cli@$VERSION"
fi
CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [ -z "$CHROMIUM" ]; then
    echo "render.sh: no chromium found (set CHROMIUM=/path/to/chromium)" >&2
    exit 1
fi
CONFIG="$(mktemp)"
trap 'rm -f "$CONFIG"' EXIT
printf '{"executablePath": "%s", "args": ["--no-sandbox", "--disable-gpu"]}\n' "$CHROMIUM" > "$CONFIG"

OUT=svg
if [ "${1:-}" = "--check" ]; then
    OUT="$(mktemp -d)"
fi
mkdir -p "$OUT"
for source in src/*.mmd; do
    name="$(basename "$source" .mmd)"
    "$MMDC" --quiet -p "$CONFIG" -i "$source" -o "$OUT/$name.svg" -b white
    if [ "${1:-}" = "--check" ] && [ ! -s "svg/$name.svg" ]; then
        echo "render.sh: svg/$name.svg is missing: run bash docs/design/render.sh" >&2
        exit 1
    fi
done
echo "rendered $(ls src/*.mmd | wc -l) diagrams into $OUT"
