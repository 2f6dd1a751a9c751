#!/bin/sh
# Make sure the Debian packages the labs need are installed: install them when run as root,
# otherwise print the exact apt-get line and fail. Quiet and fast when nothing is missing.
#   grader/deps.sh          check, install if root
#   grader/deps.sh bench    the same, with the chart tool, sim_c, Graphviz and MkDocs too
#                           (make deps, make test)
#   grader/deps.sh docs     the same, with Graphviz, its font and MkDocs (make docs)
#   grader/deps.sh --list   print the package list (--list bench, --list docs: with those)
PACKAGES="build-essential binutils make python3 python3-pytest gdb bochsbios vgabios xz-utils bubblewrap"
BENCH_PACKAGES="gnuplot-nox similarity-tester"
DOCS_PACKAGES="graphviz fonts-liberation2 mkdocs"

[ "${1:-}" = "bench" ] || [ "${2:-}" = "bench" ] && PACKAGES="$PACKAGES $BENCH_PACKAGES $DOCS_PACKAGES"
[ "${1:-}" = "docs" ] || [ "${2:-}" = "docs" ] && PACKAGES="$PACKAGES $DOCS_PACKAGES"
if [ "${1:-}" = "--list" ]; then echo "$PACKAGES"; exit 0; fi

missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
  [ "$status" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "deps: missing Debian packages:$missing" >&2
  echo "deps: install them with: sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "deps: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || echo "deps: apt-get update failed; trying the install anyway" >&2
# shellcheck disable=SC2086
if ! apt-get install -y -qq $missing >/tmp/vmx-labs-deps.log 2>&1; then
  echo "deps: apt-get install failed (see /tmp/vmx-labs-deps.log)" >&2
  exit 1
fi
