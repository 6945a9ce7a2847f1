#!/usr/bin/env bash
# Prints the path of a Docker Engine 26.1.5 `dockerd`, fetching it once into the cache.
#
#   scripts/fetch-dockerd26.sh        # as root (apt-get); prints the binary's path
#
# The binary is Debian 13 (trixie)'s docker.io 26.1.5 `usr/sbin/dockerd`; it runs on
# Debian 12 with bookworm's containerd (1.6) and runc (1.1), which satisfy the package's
# `containerd (>= 1.4~)` and `runc (>= 1.0.0~rc8~)`. Pipelines' docker service is Engine
# 25.0.x today; 26.1 is the nearest packaged engine, and the test bed's second strict
# daemon runs on it (scripts/testbed.sh, daemon `v2-26`).
#
# The system's apt state is never touched: a temporary sources list with the one trixie
# line (the machine's own Debian mirror, the machine's Debian archive keyring, which
# signs trixie too), and apt-get's lists and cache in a temporary directory. The cache
# is ${XDG_CACHE_HOME:-~/.cache}/dockroute-tests/dockerd-26.1.5 (DOCKROUTE_DOCKERD26_CACHE
# overrides it); a second run only checks the cached binary's version.

set -euo pipefail

readonly VERSION=26.1.5
readonly KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
readonly DEFAULT_MIRROR=http://deb.debian.org/debian

say() { printf 'fetch-dockerd26: %s\n' "$*" >&2; }
die() {
    printf 'fetch-dockerd26: error: %s\n' "$*" >&2
    exit 1
}

# Does the binary report Engine $VERSION? ("Docker version 26.1.5+dfsg1, build …")
is_version() {
    [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q "^Docker version $VERSION[+,]"
}

# The machine's Debian mirror: the first URI whose suites are Debian's own (not the
# security archive), from the deb822 .sources files or the one-line .list files.
machine_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # Stanzas are separated by blank lines; take a stanza with a Debian suite.
        awk 'BEGIN { RS = ""; FS = "\n" }
            {
                uri = ""; deb = 0
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
                    if ($i ~ /^Suites:/ && $i ~ /(bookworm|trixie|bullseye|sid)/ && $i !~ /-security/) deb = 1
                }
                if (uri != "" && deb && uri !~ /security/) { print uri; exit }
            }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" {
                for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/ && $i !~ /=/) break
                uri = $i; suite = $(i + 1)
                if (suite ~ /(bookworm|trixie|bullseye|sid)/ && suite !~ /-security/ && uri !~ /security/) { print uri; exit }
            }' "$f"
    done
}

cache=${DOCKROUTE_DOCKERD26_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/dockroute-tests/dockerd-$VERSION}
bin=$cache/dockerd
if is_version "$bin"; then
    echo "$bin"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root to fetch (apt-get download); or put a dockerd $VERSION at $bin"
[ -r "$KEYRING" ] || die "no Debian archive keyring at $KEYRING (apt-get install debian-archive-keyring)"
mirror=$(machine_mirror | head -n 1)
if [ -z "$mirror" ]; then
    say "no Debian mirror found in /etc/apt/sources.list(.d); using $DEFAULT_MIRROR"
    mirror=$DEFAULT_MIRROR
fi
say "fetching Debian 13's docker.io (dockerd $VERSION) from $mirror"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
printf 'deb [signed-by=%s] %s trixie main\n' "$KEYRING" "$mirror" >"$tmp/sources.list"
apt=(apt-get -q
    -o "Dir::Etc::sourcelist=$tmp/sources.list"
    -o Dir::Etc::sourceparts=/nonexistent
    -o "Dir::State::Lists=$tmp/lists"
    -o "Dir::Cache=$tmp/cache"
    # The temporary directory is root's own: let root, not _apt, do the downloads.
    -o APT::Sandbox::User=root)
"${apt[@]}" update >"$tmp/update.log" 2>&1 ||
    die "apt-get update (trixie, temporary lists) failed: $(tail -n 5 "$tmp/update.log")"
(cd "$tmp/deb" && "${apt[@]}" download docker.io) >"$tmp/download.log" 2>&1 ||
    die "apt-get download docker.io (trixie) failed: $(tail -n 5 "$tmp/download.log")"
deb=$(echo "$tmp"/deb/docker.io_*.deb)
[ -f "$deb" ] || die "apt-get download left no docker.io .deb"
dpkg-deb -x "$deb" "$tmp/x" || die "dpkg-deb -x $deb failed"
is_version "$tmp/x/usr/sbin/dockerd" ||
    die "trixie's docker.io is not dockerd $VERSION: $("$tmp/x/usr/sbin/dockerd" --version 2>&1 || true)"
mkdir -p "$cache"
cp "$tmp/x/usr/sbin/dockerd" "$bin.part.$$"
chmod 755 "$bin.part.$$"
mv "$bin.part.$$" "$bin"
say "cached $bin ($(basename "$deb"))"
echo "$bin"
