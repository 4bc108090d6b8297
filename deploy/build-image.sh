#!/usr/bin/env bash
# Builds the proxylab runtime image from a proxylab binary built on this machine, needing no
# registry: a FROM scratch image (deploy/Containerfile) holding the binary (stripped), exactly
# the shared libraries `ldd` lists and the loader at the same paths, the CA bundle
# (/etc/ssl/certs/ca-certificates.crt, the default trust of https targets) and /tmp.
# Same entrypoint, user (65532) and workdir as the Dockerfile. See docs/distributed.md.
#
#   deploy/build-image.sh [BINARY [TAG]]
#     BINARY  default target/release/proxylab (cargo build --release --bin proxylab)
#     TAG     default localhost/proxylab:VERSION
#   ENGINE=docker deploy/build-image.sh ...   (podman by default; buildah also works)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../target/release/proxylab}
engine=${ENGINE:-podman}
ca=/etc/ssl/certs/ca-certificates.crt
die() { echo "build-image: $*" >&2; exit 2; }
[ -x "$bin" ] || die "$bin is not an executable (cargo build --release --bin proxylab)"
[ -f "$ca" ] || die "$ca missing (apt-get install ca-certificates)"
command -v "$engine" >/dev/null 2>&1 || die "$engine not installed (apt-get install podman)"
version=$("$bin" --version | awk '{print $2}')
tag=${2:-localhost/proxylab:$version}

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root/usr/local/bin" "$root/tmp" "$root/etc/ssl/certs"
chmod 1777 "$root/tmp"
cp "$bin" "$root/usr/local/bin/proxylab"
if command -v strip >/dev/null 2>&1; then strip "$root/usr/local/bin/proxylab"; fi
cp -L "$ca" "$root$ca"
# `ldd` lines: "libc.so.6 => /lib/.../libc.so.6 (0x…)", "/lib64/ld-linux-x86-64.so.2 (0x…)",
# "linux-vdso.so.1 (0x…)" (in the kernel, nothing to copy); a static binary has none.
libs=$(ldd "$bin" 2>&1 || true)
if grep -q "not found" <<<"$libs"; then die "ldd cannot resolve every library: $libs"; fi
for lib in $(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$libs"); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp "$here/Containerfile" "$ctx/Containerfile"
"$engine" build -q -t "$tag" -f "$ctx/Containerfile" "$ctx" >/dev/null
echo "$tag"
