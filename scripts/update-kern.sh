#!/usr/bin/env bash
# Vendors the KERN UX design system (npm package @kern-ux/native, EUPL-1.2)
# into internal/web/static/kern/ — only what the pages need:
#
#   kern.min.css                       the compiled styles
#   fonts/fira-sans.css                the @font-face rules for Fira Sans
#   fonts/fira-sans/*.woff2            exactly the font files fira-sans.css references
#   LICENSE.md                         the package's licence text (EUPL-1.2)
#   SOURCE.md                          package, version, integrity, date, files (written here)
#
# Usage: scripts/update-kern.sh VERSION      e.g. scripts/update-kern.sh 2.7.2
#
# The tarball is fetched with `npm pack` into a temporary directory (no
# node_modules, no package.json in the repo), and its SHA-512 and SHA-1 are
# checked against the integrity the registry publishes for that version. The
# script refuses a package whose licence is not EUPL-1.2 and a kern.min.css
# that references files by url() (other than data: URIs), because those would
# have to be vendored too and checked against the CSP. After running it:
#
#   go test ./internal/web/     (asset hashing, CSS url() resolution, pages)
#
# and look at a page, then commit the whole static/kern directory.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: $0 VERSION   (see: npm view @kern-ux/native versions)" >&2
  exit 2
fi
version=$1
pkg="@kern-ux/native"

for tool in npm node tar sha512sum sha1sum base64 xxd; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$0: $tool is required" >&2; exit 1; }
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$repo/internal/web/static/kern"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# What the registry says about this version (the integrity to check against).
npm view "$pkg@$version" --json dist license version >"$tmp/view.json"
read_json() { node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); const v=process.argv[2].split(".").reduce((a,k)=>a==null?a:a[k],o); if(v==null){process.exit(3)} process.stdout.write(String(v))' "$@"; }
want_version=$(read_json "$tmp/view.json" version)
want_integrity=$(read_json "$tmp/view.json" dist.integrity)
want_shasum=$(read_json "$tmp/view.json" dist.shasum)
license=$(read_json "$tmp/view.json" license)
if [[ "$want_version" != "$version" ]]; then
  echo "$0: registry answered version $want_version for $version" >&2
  exit 1
fi
if [[ "$license" != "EUPL-1.2" ]]; then
  echo "$0: $pkg@$version is licensed $license, not EUPL-1.2; refusing to vendor" >&2
  exit 1
fi

(cd "$tmp" && npm pack "$pkg@$version" --silent >/dev/null)
tgz=$(ls "$tmp"/*.tgz)

# Verify the tarball ourselves, independent of npm's own check.
got_integrity="sha512-$(sha512sum "$tgz" | cut -d' ' -f1 | xxd -r -p | base64 -w0)"
got_shasum=$(sha1sum "$tgz" | cut -d' ' -f1)
if [[ "$got_integrity" != "$want_integrity" || "$got_shasum" != "$want_shasum" ]]; then
  echo "$0: integrity mismatch for $pkg@$version" >&2
  echo "  registry: $want_integrity $want_shasum" >&2
  echo "  tarball:  $got_integrity $got_shasum" >&2
  exit 1
fi

tar -xzf "$tgz" -C "$tmp"
src="$tmp/package"
for f in dist/kern.min.css dist/fonts/fira-sans.css LICENSE.md; do
  [[ -f "$src/$f" ]] || { echo "$0: $pkg@$version has no $f" >&2; exit 1; }
done

# kern.min.css must not pull in files by url(): all its icons are data: URIs.
# A new version that changes this needs a look (vendoring, CSP img-src/font-src).
if grep -oE 'url\([^)]*\)' "$src/dist/kern.min.css" | grep -vE "^url\([\"']?data:" >"$tmp/urls"; then
  echo "$0: kern.min.css references files that would not be vendored:" >&2
  sort -u "$tmp/urls" >&2
  exit 1
fi

# The font files fira-sans.css references, relative to its directory.
mapfile -t fonts < <(grep -oE 'url\([^)]*\)' "$src/dist/fonts/fira-sans.css" |
  sed -E "s/^url\([\"']?//; s/[\"']?\)$//; s/[?#].*$//; s#^\./##" | sort -u)
if [[ ${#fonts[@]} -eq 0 ]]; then
  echo "$0: fira-sans.css references no font files" >&2
  exit 1
fi
for f in "${fonts[@]}"; do
  case "$f" in
    *..*|/*|*:*) echo "$0: unexpected font reference $f" >&2; exit 1 ;;
  esac
  [[ -f "$src/dist/fonts/$f" ]] || { echo "$0: fira-sans.css references missing $f" >&2; exit 1; }
done

rm -rf "$dest"
mkdir -p "$dest/fonts"
cp "$src/dist/kern.min.css" "$dest/kern.min.css"
cp "$src/dist/fonts/fira-sans.css" "$dest/fonts/fira-sans.css"
for f in "${fonts[@]}"; do
  mkdir -p "$dest/fonts/$(dirname "$f")"
  cp "$src/dist/fonts/$f" "$dest/fonts/$f"
done
cp "$src/LICENSE.md" "$dest/LICENSE.md"
chmod 0644 $(find "$dest" -type f)

files=$(cd "$dest" && find . -type f ! -name SOURCE.md | sed 's#^\./##' | LC_ALL=C sort)
size=$(du -sk "$dest" | cut -f1)

{
  echo "# KERN UX design system (vendored)"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| package | \`$pkg\` (npm registry) |"
  echo "| version | $version |"
  echo "| integrity | \`$want_integrity\` |"
  echo "| shasum (SHA-1) | \`$want_shasum\` |"
  echo "| licence | EUPL-1.2 (LICENSE.md in this directory, copied from the package) |"
  echo "| upstream | https://gitlab.opencode.de/kern-ux/kern-ux-plain, https://www.kern-ux.de |"
  echo "| vendored on | $(date -u +%Y-%m-%d) by scripts/update-kern.sh |"
  echo "| size on disk | about ${size} KiB |"
  echo
  echo "## Files"
  echo
  echo "Copied unchanged from the package (path in the package → path here):"
  echo
  echo "- \`dist/kern.min.css\` → \`kern.min.css\`"
  echo "- \`dist/fonts/fira-sans.css\` → \`fonts/fira-sans.css\`"
  echo "- \`dist/fonts/<file>\` → \`fonts/<file>\` for each font file that fira-sans.css references"
  echo "- \`LICENSE.md\` → \`LICENSE.md\`"
  echo
  echo '```'
  echo "$files"
  echo '```'
  echo
  echo "## Not vendored, on purpose"
  echo
  echo "- \`dist/js/kern-kopfzeile.js\`: pages work without JavaScript; the layout uses the"
  echo "  plain-CSS markup of the Kopfzeile instead of the web component."
  echo "- Noto Sans, the unused Fira Sans weights, the grid/utility builds (kern.min.css"
  echo "  already contains the grid and utilities), the SCSS sources and the changelog."
  echo
  echo "## How it is served"
  echo
  echo "internal/web embeds this directory and serves every file at a content-hashed URL"
  echo "(\`/static/kern/kern.min.<hash>.css\`). url() references in CSS files are rewritten to the"
  echo "hashed URLs of their targets when the server starts; a reference that does not resolve"
  echo "is an error at start-up (and in \`go test ./internal/web/\`)."
  echo
  echo "To update: \`scripts/update-kern.sh VERSION\`, then \`go test ./internal/web/\`."
} >"$dest/SOURCE.md"

echo "vendored $pkg@$version into ${dest#"$repo"/} (${size} KiB):"
echo "$files" | sed 's/^/  /'
