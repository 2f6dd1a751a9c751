#!/usr/bin/env bash
# Print the path of a Bochs 3.0 binary built for these labs, building it first when needed.
#
#   grader/bochs.sh [debugger|gdbstub]
#
# The build is pinned (Debian source package bochs 3.0+dfsg-1, checked by sha256) and cached
# per user outside the repository, keyed by version and configure flags, so that every clone
# on the machine shares it. BOCHS=/path/to/bochs skips all of this (the probe still checks it).
# BOCHS_TARBALL=/path/to/bochs_3.0+dfsg.orig.tar.xz builds from that file instead of fetching it.
set -euo pipefail

flavour=${1:-debugger}
version=3.0
pkg_version=3.0+dfsg-1
tarball=bochs_3.0+dfsg.orig.tar.xz
sha256=78f6c73d4a6472d5130a87ab9dc306d02c7c71ed8e25b3a8ef642e2a7acd282b

# No --enable-all-optimizations: it batches the clock per trace, so the VMX-preemption timer
# and instruction counts drift (labs 05 and 06 need them exact; docs/setup.md has the figures).
common_flags="--with-nogui --without-x --without-x11 --without-wx --without-sdl2 --without-term
 --without-rfb --without-vncsrv --enable-x86-64 --enable-vmx=2 --enable-cpu-level=6
 --enable-disasm --enable-fpu --enable-a20-pin --enable-avx
 --enable-evex --enable-pci --enable-cdrom --disable-plugins --disable-docbook"
case $flavour in
  debugger) flags="$common_flags --enable-debugger --enable-x86-debugger" ;;
  gdbstub)  flags="$common_flags --enable-gdb-stub" ;;
  *) echo "bochs.sh: unknown flavour '$flavour' (use debugger or gdbstub)" >&2; exit 2 ;;
esac

if [ "$flavour" = debugger ] && [ -n "${BOCHS:-}" ]; then
  command -v "$BOCHS" >/dev/null || { echo "bochs.sh: BOCHS=$BOCHS is not an executable" >&2; exit 1; }
  command -v "$BOCHS"; exit 0
fi
if [ "$flavour" = gdbstub ] && [ -n "${BOCHS_GDB:-}" ]; then
  command -v "$BOCHS_GDB"; exit 0
fi

key=$(printf '%s %s' "$pkg_version" "$(echo $flags)" | sha256sum | cut -c1-12)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vmx-labs
prefix=$cache/bochs-$version-$flavour-$key
if [ -x "$prefix/bin/bochs" ]; then echo "$prefix/bin/bochs"; exit 0; fi

say() { echo "bochs.sh: $*" >&2; }
need() {
  local missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if [ ${#missing[@]} -gt 0 ]; then
    say "cannot build Bochs: missing ${missing[*]}. Run 'make deps' as root (or: apt-get install build-essential xz-utils)."
    exit 1
  fi
}
need apt-get gcc g++ make xz sha256sum

mkdir -p "$cache"
src=$cache/src
mkdir -p "$src"
# BOCHS_TARBALL=<path>: build from that copy of the source tarball (offline, Gradescope's setup.sh).
if [ -n "${BOCHS_TARBALL:-}" ]; then
  echo "$sha256  $BOCHS_TARBALL" | sha256sum -c --status 2>/dev/null ||
    { say "BOCHS_TARBALL=$BOCHS_TARBALL is not $tarball with sha256 $sha256"; exit 1; }
  cp "$BOCHS_TARBALL" "$src/$tarball"
fi
if ! echo "$sha256  $src/$tarball" | sha256sum -c --status 2>/dev/null; then
  say "fetching the Bochs $version source (Debian source package bochs=$pkg_version)"
  mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$mirror" ] || mirror=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$mirror" ] || { say "no Debian mirror found in /etc/apt; put $tarball (sha256 $sha256) into $src by hand"; exit 1; }
  apt=$src/apt; mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  echo "deb-src [trusted=yes] $mirror trixie main" > "$apt/sources.list"
  aptopts=(-o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
           -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o Debug::NoLocking=1
           -o APT::Sandbox::User="$(id -un)")
  apt-get "${aptopts[@]}" update >"$src/apt.log" 2>&1 || true
  # apt-get may fail on the .dsc while the tarballs arrive; the checksum below is the judge.
  (cd "$src" && apt-get "${aptopts[@]}" source --download-only "bochs=$pkg_version" >>"$src/apt.log" 2>&1) || true
  if ! echo "$sha256  $src/$tarball" | sha256sum -c --status 2>/dev/null; then
    say "could not fetch $tarball with sha256 $sha256 (see $src/apt.log)."
    say "Fix: check the network to the Debian mirror, or place the tarball into $src by hand."
    exit 1
  fi
fi

say "building Bochs $version ($flavour), about a minute"
build=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$build"' EXIT
tar -xJf "$src/$tarball" -C "$build"
dir=$(find "$build" -mindepth 1 -maxdepth 1 -type d | head -n1)
(cd "$dir" && ./configure --prefix="$prefix.tmp" $flags >"$build/configure.log" 2>&1) ||
  { cp "$build/configure.log" "$cache/configure-failed.log"; say "configure failed: see $cache/configure-failed.log"; exit 1; }
(cd "$dir" && make -j"$(nproc)" >"$build/make.log" 2>&1 && make install >>"$build/make.log" 2>&1) ||
  { cp "$build/make.log" "$cache/make-failed.log"; say "build failed: see $cache/make-failed.log"; exit 1; }
rm -rf "$prefix"; mv "$prefix.tmp" "$prefix"
say "installed $prefix/bin/bochs"
echo "$prefix/bin/bochs"
