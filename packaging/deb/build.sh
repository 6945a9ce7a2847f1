#!/usr/bin/env bash
# Builds target/dockroute_<version>_amd64.deb from the static binary with dpkg-deb.
#
#   packaging/deb/build.sh [--from BINARY] [--out DIR]
#
# Layout (what the package changes):
#   /usr/lib/dockroute/bin/dockroute   the static binary
#   /usr/lib/dockroute/bin/docker      -> dockroute (the shim)
#   /usr/sbin/dockroute                -> ../lib/dockroute/bin/dockroute (the CLI on PATH)
#   /etc/profile.d/dockroute.sh        puts /usr/lib/dockroute/bin first on PATH in login shells
#   /usr/share/man/man1/dockroute.1.gz, bash completion, this package's docs
# Debian policy keeps packages out of /usr/local, and a /usr/bin/docker from docker.io
# (or one bind-mounted by Pipelines) must stay untouched, so the shim lives in a
# directory of its own that PATH names first. Login shells get it from profile.d; a
# Dockerfile needs `ENV PATH=/usr/lib/dockroute/bin:$PATH` (RUN steps read no profile),
# which postinst prints. Removing the package removes all of it.
set -euo pipefail
cd "$(dirname "$0")/../.."
from=""
out="target"
while [ $# -gt 0 ]; do
  case "$1" in
    --from) from="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$from" ]; then
  cargo build --release --locked --target x86_64-unknown-linux-musl
  from=target/x86_64-unknown-linux-musl/release/dockroute
fi
version=$(DOCKROUTE_FORCE_ARG0=dockroute "$from" --version | awk '{print $2}')
root=$(mktemp -d)
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT
install -D -m 0755 "$from" "$root/usr/lib/dockroute/bin/dockroute"
ln -s dockroute "$root/usr/lib/dockroute/bin/docker"
mkdir -p "$root/usr/sbin"
ln -s ../lib/dockroute/bin/dockroute "$root/usr/sbin/dockroute"
install -D -m 0644 /dev/stdin "$root/etc/profile.d/dockroute.sh" <<'PROFILE'
# dockroute: `docker` means dockroute, which hands each call to the right real client.
case ":$PATH:" in *:/usr/lib/dockroute/bin:*) ;; *) PATH="/usr/lib/dockroute/bin:$PATH"; export PATH ;; esac
PROFILE
mkdir -p "$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions" "$root/usr/share/doc/dockroute"
DOCKROUTE_FORCE_ARG0=dockroute "$from" man | gzip -9n >"$root/usr/share/man/man1/dockroute.1.gz"
DOCKROUTE_FORCE_ARG0=dockroute "$from" completions bash >"$root/usr/share/bash-completion/completions/dockroute"
cp README.md CHANGELOG.md "$root/usr/share/doc/dockroute/"
mkdir -p "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<CONTROL
Package: dockroute
Version: $version
Architecture: amd64
Maintainer: dockroute maintainers <dockroute@localhost>
Section: admin
Priority: optional
Description: drop-in docker that routes each call to the right real client
 dockroute stands in front of the Docker CLI in CI images: it passes most calls
 through with one execve, and sends builds to the client and builder the runtime
 allows (Bitbucket Pipelines runtime v2 and v3).
CONTROL
cat >"$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
echo "dockroute: login shells now find docker = dockroute (/etc/profile.d/dockroute.sh)."
echo "dockroute: in a Dockerfile add: ENV PATH=/usr/lib/dockroute/bin:\$PATH"
POSTINST
chmod 0755 "$root/DEBIAN/postinst"
mkdir -p "$out"
deb="$out/dockroute_${version}_amd64.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
