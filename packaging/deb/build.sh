#!/usr/bin/env bash
# Builds target/dockroute_<version>_amd64.deb from the static binary with dpkg-deb.
#
#   packaging/deb/build.sh [--from BINARY] [--out DIR]
#
# Without --from it builds the static musl binary (static glibc where the musl target
# cannot be added). Prints the path of the .deb.
#
# Layout — what installing the package changes:
#   /usr/lib/dockroute/bin/dockroute   the static binary
#   /usr/lib/dockroute/bin/docker      -> dockroute: the shim, in a directory of its own
#   /usr/bin/dockroute                 -> ../lib/dockroute/bin/dockroute (the CLI, on every PATH)
#   /etc/profile.d/dockroute.sh        login shells (root and users): /usr/lib/dockroute/bin first
#   /usr/local/sbin/docker             -> /usr/lib/dockroute/bin/dockroute, made by postinst
#                                       (only if nothing is there; skip with DOCKROUTE_NO_LOCAL_LINK=1)
#   man page, bash/zsh/fish completions, /usr/share/doc/dockroute
#
# Why: the package must leave every real client alone — docker.io's /usr/bin/docker, the
# client Pipelines bind-mounts there, a CLI ≥ 23 in /usr/local/bin — so it ships no
# `docker` on any standard PATH directory. But a directory a package may own (/usr/bin,
# /usr/sbin) comes *after* /usr/local/bin in Debian's and Docker's default PATH
# (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin), so no file of the
# package can win by position alone:
#   - login shells read /etc/profile.d, which puts /usr/lib/dockroute/bin first;
#   - Dockerfile RUN steps read no profile, only the image's PATH, whose one entry ahead
#     of /usr/local/bin is /usr/local/sbin. Hence the one deliberate exception to Debian
#     policy §9.1.2 (packages keep out of /usr/local): postinst adds the single symlink
#     /usr/local/sbin/docker, never replacing anything, and postrm removes it only while it
#     is still that symlink. Without it (DOCKROUTE_NO_LOCAL_LINK=1), a Dockerfile needs
#     `ENV PATH=/usr/lib/dockroute/bin:$PATH`.
# Removing the package removes all of it (the profile snippet, a conffile, is inert
# once the package is removed and goes on purge).
set -euo pipefail

from=""
out=""
while [ $# -gt 0 ]; do
    case "$1" in
    --from) from=$(realpath -e "${2:?--from needs a binary}"); shift 2 ;;
    --out) out=$(realpath -m "${2:?--out needs a directory}"); shift 2 ;;
    -h | --help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
cd "$(dirname "$0")/../.."
out=${out:-$PWD/target}
command -v dpkg-deb >/dev/null || { echo "build.sh: dpkg-deb not found (apt-get install dpkg)" >&2; exit 1; }

if [ -z "$from" ]; then
    target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    target_dir=${target_dir:-$PWD/target}
    musl=x86_64-unknown-linux-musl
    if rustup target list --installed 2>/dev/null | grep -qx "$musl" || rustup target add "$musl" >/dev/null 2>&1; then
        cargo build --release --locked --target "$musl" >&2
        from=$target_dir/$musl/release/dockroute
    else
        RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --target x86_64-unknown-linux-gnu >&2
        from=$target_dir/x86_64-unknown-linux-gnu/release/dockroute
    fi
fi
dr() { DOCKROUTE_FORCE_ARG0=dockroute "$from" "$@"; }
version=$(dr --version | awk '$1 == "dockroute" { print $2 }')
[ -n "$version" ] || { echo "build.sh: $from does not answer like dockroute" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"
umask 022

install -D -m 0755 "$from" "$root/usr/lib/dockroute/bin/dockroute"
ln -s dockroute "$root/usr/lib/dockroute/bin/docker"
install -d "$root/usr/bin"
ln -s ../lib/dockroute/bin/dockroute "$root/usr/bin/dockroute"

install -D -m 0644 /dev/stdin "$root/etc/profile.d/dockroute.sh" <<'PROFILE'
# dockroute: `docker` means dockroute, which hands each call to the right real client.
# Puts the shim's directory first on PATH in login shells (once; inert once the package
# is removed). Dockerfile RUN steps read no profile: see /usr/share/doc/dockroute/README.Debian.
if [ -x /usr/lib/dockroute/bin/docker ]; then
    case ":$PATH:" in
    *:/usr/lib/dockroute/bin:*) ;;
    *) PATH="/usr/lib/dockroute/bin:$PATH"; export PATH ;;
    esac
fi
PROFILE

install -d "$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions" \
    "$root/usr/share/zsh/vendor-completions" "$root/usr/share/fish/vendor_completions.d" \
    "$root/usr/share/doc/dockroute"
dr man | gzip -9n >"$root/usr/share/man/man1/dockroute.1.gz"
dr completions bash >"$root/usr/share/bash-completion/completions/dockroute"
dr completions zsh >"$root/usr/share/zsh/vendor-completions/_dockroute"
dr completions fish >"$root/usr/share/fish/vendor_completions.d/dockroute.fish"
gzip -9n <CHANGELOG.md >"$root/usr/share/doc/dockroute/changelog.gz"
gzip -9n <README.md >"$root/usr/share/doc/dockroute/README.md.gz"
cat >"$root/usr/share/doc/dockroute/README.Debian" <<'README'
dockroute for Debian
====================

`docker` resolves to dockroute
 - in login shells, through /etc/profile.d/dockroute.sh (/usr/lib/dockroute/bin first);
 - in Dockerfile RUN steps and root shells, through the symlink
   /usr/local/sbin/docker -> /usr/lib/dockroute/bin/dockroute that postinst creates
   when nothing is at that path (/usr/local/sbin precedes /usr/local/bin in Debian's and
   Docker's default PATH). Install with DOCKROUTE_NO_LOCAL_LINK=1 to skip it; then add
   `ENV PATH=/usr/lib/dockroute/bin:$PATH` to the Dockerfile.

No real docker client is replaced or moved. Removing the package removes the symlink
(while it still points at dockroute) and leaves the profile snippet inert; purge
deletes the snippet. Check with: dockroute doctor
README
cat >"$root/usr/share/doc/dockroute/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: dockroute
Source: the dockroute repository

Files: *
Copyright: the dockroute authors
License: MIT or Apache-2.0
 dockroute is dual-licensed under the MIT license and the Apache License 2.0; choose
 either. On Debian systems the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT

install -d "$root/DEBIAN"
echo /etc/profile.d/dockroute.sh >"$root/DEBIAN/conffiles"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: dockroute
Version: $version
Architecture: amd64
Maintainer: dockroute maintainers <dockroute@localhost>
Installed-Size: $installed_size
Section: admin
Priority: optional
Enhances: docker.io, docker-ce-cli
Description: drop-in docker that routes each call to the right real client
 dockroute stands in front of the Docker CLI in CI images. It passes most calls
 through with one execve, and sends builds and compose to the client and builder
 the runtime allows: the mounted v20.10 client on Bitbucket Pipelines runtime v2
 (where buildx's privileged builder is denied), buildx on runtime v3.
 .
 It ships no docker on a standard PATH directory; see README.Debian for how
 docker resolves to dockroute in login shells and Dockerfile RUN steps.
CONTROL

cat >"$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
# Adds /usr/local/sbin/docker -> dockroute when nothing is there (README.Debian says why).
set -e
link="${DPKG_ROOT:-}/usr/local/sbin/docker"
target=/usr/lib/dockroute/bin/dockroute
if [ "$1" = configure ]; then
    if [ -n "${DOCKROUTE_NO_LOCAL_LINK:-}" ]; then
        echo "dockroute: DOCKROUTE_NO_LOCAL_LINK set: no /usr/local/sbin/docker link; in a Dockerfile add: ENV PATH=/usr/lib/dockroute/bin:\$PATH"
    elif [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then
        :
    elif [ -e "$link" ] || [ -L "$link" ]; then
        echo "dockroute: /usr/local/sbin/docker exists and is not dockroute: left alone; in a Dockerfile add: ENV PATH=/usr/lib/dockroute/bin:\$PATH" >&2
    else
        mkdir -p "${DPKG_ROOT:-}/usr/local/sbin"
        ln -s "$target" "$link"
        echo "dockroute: linked /usr/local/sbin/docker -> $target (Dockerfile RUN steps and root shells); login shells also get /etc/profile.d/dockroute.sh"
    fi
fi
exit 0
POSTINST
cat >"$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
# Removes the /usr/local/sbin/docker link postinst made, while it is still ours.
set -e
link="${DPKG_ROOT:-}/usr/local/sbin/docker"
target=/usr/lib/dockroute/bin/dockroute
case "$1" in
remove | purge | abort-install)
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then
        rm -f "$link"
    fi
    ;;
esac
exit 0
POSTRM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/dockroute_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
