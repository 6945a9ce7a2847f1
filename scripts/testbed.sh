#!/usr/bin/env bash
# The end-to-end test bed: three throwaway dockerds, two authorization plugins and a
# registry, everything under one directory, nothing on the host's default sockets.
#
#   scripts/testbed.sh start DIR   # as root; writes DIR/env (`export KEY=VALUE` lines)
#   scripts/testbed.sh stop DIR    # kills all it started; safe twice or after a failed start
#
# Daemons (SPEC §4):
#   plain     no authorization plugin (a runtime v3 / ordinary daemon stand-in);
#   v2        --authorization-plugin=pipelines, policy privileged-grpc (Bitbucket-like:
#             denies privileged containers and buildx's hijacked POST /grpc);
#   privonly  --authorization-plugin=pipelines, policy privileged.
#
# Two daemons need a plugin of the same name `pipelines` with different policies, and
# dockerd only looks for plugins at fixed host paths (/run/docker/plugins/NAME.sock, then
# spec files in /etc/docker/plugins and /usr/lib/docker/plugins). So every dockerd runs in
# its own private mount namespace (`unshare -m --propagation private`) where
# /run/docker/plugins is a bind mount of its own DIR/NAME/plugins. The same namespace masks
# /run/containerd with DIR/NAME/run-containerd, so dockerd never finds a system containerd
# socket and always starts its own managed containerd under its exec-root; and it masks
# the plugin spec directories, so nothing on the host can answer for `pipelines`. Those
# mounts live and die with the namespace: the host's mount table is never touched.
#
# Environment: DOCKROUTE_AUTHZ_PLUGIN overrides the plugin binary (default: the cargo
# target dir's debug/examples/authz_plugin, built if missing).

set -euo pipefail

readonly DAEMONS=(plain v2 privonly)
readonly DOCKER28=/usr/local/bin/docker
readonly DOCKER20=/usr/bin/docker
readonly START_TIMEOUT=60

say() { printf 'testbed: %s\n' "$*" >&2; }
die() {
    printf 'testbed: error: %s\n' "$*" >&2
    exit 1
}

usage() {
    echo "usage: $0 start DIR | stop DIR" >&2
    exit 2
}

# The plugin policy of a daemon ("" = no plugin).
policy_of() {
    case "$1" in
    v2) echo privileged-grpc ;;
    privonly) echo privileged ;;
    *) echo "" ;;
    esac
}

# Does PID's command line name DIR? (Builtins only: this runs for every process.)
names_dir() {
    local -a argv=()
    mapfile -d '' argv 2>/dev/null <"/proc/$1/cmdline" || return 1
    [[ " ${argv[*]} " == *"$DIR/"* ]]
}

# Is PID alive and one of ours? Guards against pid reuse.
ours() { [ -n "$1" ] && alive "$1" && names_dir "$1"; }

# Is PID alive? A zombie is not (nothing may reap our orphans promptly).
alive() {
    local stat
    [ -n "$1" ] && read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# Every process whose command line names DIR, plus all their descendants (container
# processes started by our containerd shims do not name DIR). Reads /proc directly:
# procps may not be installed.
our_processes() {
    local entry pid stat state ppid changed
    local -A mine=() parent=()
    for entry in /proc/[0-9]*; do
        pid=${entry#/proc/}
        read -r stat 2>/dev/null <"$entry/stat" || continue
        read -r state ppid _ <<<"${stat##*) }"
        [ "$state" != Z ] || continue
        parent[$pid]=$ppid
        names_dir "$pid" && mine[$pid]=1
    done
    # Never ourselves or the shells above us.
    unset "mine[$$]" "mine[$BASHPID]" "mine[$PPID]"
    changed=1
    while [ "$changed" = 1 ]; do
        changed=0
        for pid in "${!parent[@]}"; do
            if [ -z "${mine[$pid]:-}" ] && [ -n "${mine[${parent[$pid]}]:-}" ]; then
                mine[$pid]=1
                changed=1
            fi
        done
    done
    echo "${!mine[@]}"
}

# Waits until none of the pids is alive, at most $1 seconds. Returns 1 on timeout.
wait_gone() {
    local limit=$1
    shift
    local deadline=$((SECONDS + limit)) pid any
    while :; do
        any=0
        for pid in "$@"; do alive "$pid" && any=1; done
        [ "$any" = 0 ] && return 0
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

cmd_stop() {
    [ -d "$DIR" ] || {
        say "nothing to stop: $DIR does not exist"
        return 0
    }
    local name pid pids=()
    # 1. dockerds, gracefully: on SIGTERM dockerd stops its containers and its
    #    managed containerd.
    for name in "${DAEMONS[@]}"; do
        for f in "$DIR/$name/dockerd.pid" "$DIR/$name/launch.pid"; do
            pid=$(cat "$f" 2>/dev/null || true)
            if ours "$pid" && [[ " ${pids[*]} " != *" $pid "* ]]; then
                kill -TERM "$pid" 2>/dev/null || true
                pids+=("$pid")
            fi
        done
    done
    if [ "${#pids[@]}" -gt 0 ]; then
        say "stopping dockerd ${pids[*]}"
        if ! wait_gone 30 "${pids[@]}"; then
            say "dockerd did not stop in 30 s: SIGKILL"
            kill -KILL "${pids[@]}" 2>/dev/null || true
            wait_gone 5 "${pids[@]}" || true
        fi
    fi
    # 2. Everything else of ours: containerd and shims left by a killed dockerd,
    #    containers, the plugins, the registry.
    local rest
    read -r -a rest <<<"$(our_processes)"
    if [ "${#rest[@]}" -gt 0 ]; then
        say "stopping ${rest[*]}"
        kill -TERM "${rest[@]}" 2>/dev/null || true
        if ! wait_gone 5 "${rest[@]}"; then
            kill -KILL "${rest[@]}" 2>/dev/null || true
            wait_gone 5 "${rest[@]}" || say "warning: still alive: ${rest[*]}"
        fi
    fi
    read -r -a rest <<<"$(our_processes)"
    if [ "${#rest[@]}" -gt 0 ]; then
        kill -KILL "${rest[@]}" 2>/dev/null || true
        wait_gone 5 "${rest[@]}" || die "could not kill: ${rest[*]}"
    fi
    # 3. Mounts. The daemons' mounts lived in their private namespaces, which are gone
    #    with their processes; sweep the host table anyway (deepest first).
    local mp
    while read -r mp; do
        [ -n "$mp" ] || continue
        say "unmounting $mp"
        umount "$mp" 2>/dev/null || umount -l "$mp" || say "warning: cannot unmount $mp"
    done < <(awk -v d="$DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    rm -f "$DIR"/*/dockerd.pid "$DIR"/*/launch.pid "$DIR"/*/plugin.pid "$DIR"/registry/registry.pid
    say "stopped"
}

# The authorization plugin binary.
plugin_bin() {
    if [ -n "${DOCKROUTE_AUTHZ_PLUGIN:-}" ]; then
        echo "$DOCKROUTE_AUTHZ_PLUGIN"
        return
    fi
    local root target
    root=$(cd "$(dirname "$0")/.." && pwd)
    target=$(cd "$root" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    [ -n "$target" ] || target="$root/target"
    if [ ! -x "$target/debug/examples/authz_plugin" ]; then
        say "building the authz plugin"
        (cd "$root" && cargo build --quiet --example authz_plugin) >&2
    fi
    echo "$target/debug/examples/authz_plugin"
}

# A busybox root filesystem from Debian's busybox-static, as a tarball.
make_busybox_tar() {
    local rootfs=$DIR/busybox-rootfs bb applet
    bb=$(command -v busybox || true)
    [ -n "$bb" ] || die "busybox not found (apt-get install busybox-static)"
    file -L "$bb" 2>/dev/null | grep -q 'statically linked' ||
        ldd "$bb" 2>&1 | grep -q 'not a dynamic executable' ||
        die "$bb is not static (apt-get install busybox-static)"
    rm -rf "$rootfs"
    mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev,run,var/tmp,home}
    chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
    cp "$bb" "$rootfs/bin/busybox"
    for applet in $("$bb" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' \
        >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
    tar -C "$rootfs" --numeric-owner -cf "$DIR/busybox.tar" .
}

start_plugin() {
    local name=$1 policy=$2 bin=$3 d=$DIR/$1
    setsid "$bin" --socket "$d/plugins/pipelines.sock" --name pipelines \
        --policy "$policy" --log "$d/authz.log" </dev/null >"$d/plugin.log" 2>&1 &
    echo $! >"$d/plugin.pid"
    local deadline=$((SECONDS + 10))
    until [ -S "$d/plugins/pipelines.sock" ]; do
        alive "$(cat "$d/plugin.pid")" || die "plugin for $name died: $(tail -n 20 "$d/plugin.log")"
        [ "$SECONDS" -lt "$deadline" ] || die "plugin for $name did not listen in 10 s"
        sleep 0.1
    done
}

start_dockerd() {
    local name=$1 d=$DIR/$1 policy
    policy=$(policy_of "$name")
    mkdir -p "$d"/{data,exec,plugins,run-containerd,empty}
    echo '{}' >"$d/daemon.json"
    local args=(
        dockerd
        --config-file "$d/daemon.json"
        --data-root "$d/data"
        --exec-root "$d/exec"
        --pidfile "$d/dockerd.pid"
        -H "unix://$d/docker.sock"
        --iptables=false --ip-masq=false --bridge=none
        --storage-driver=vfs
    )
    [ -n "$policy" ] && args+=(--authorization-plugin=pipelines)
    # In the new namespace: our plugin directory, our containerd state directory, and no
    # host plugin spec files. `exec` keeps the launched pid = dockerd's pid.
    # shellcheck disable=SC2016
    setsid unshare -m --propagation private sh -c '
        set -e
        mount --bind "$1/plugins" /run/docker/plugins
        mount --bind "$1/run-containerd" /run/containerd
        for spec in /etc/docker/plugins /usr/lib/docker/plugins; do
            if [ -d "$spec" ]; then mount --bind "$1/empty" "$spec"; fi
        done
        shift
        exec "$@"
    ' sh "$d" "${args[@]}" </dev/null >"$d/dockerd.log" 2>&1 &
    echo $! >"$d/launch.pid"
}

wait_dockerd() {
    local name=$1 d=$DIR/$1 deadline=$((SECONDS + START_TIMEOUT))
    until timeout 10 "$DOCKER28" -H "unix://$d/docker.sock" version >/dev/null 2>&1; do
        if ! alive "$(cat "$d/launch.pid")"; then
            tail -n 30 "$d/dockerd.log" >&2 || true
            die "dockerd '$name' exited during start-up (log: $d/dockerd.log)"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 30 "$d/dockerd.log" >&2 || true
            die "dockerd '$name' did not answer within ${START_TIMEOUT}s (log: $d/dockerd.log)"
        fi
        sleep 0.5
    done
    say "dockerd '$name' is up at unix://$d/docker.sock"
}

port_listening() {
    local hex
    hex=$(printf ':%04X' "$1")
    awk -v p="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
        END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

registry_answers() {
    # shellcheck disable=SC2016
    timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" &&
        printf "GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 && head -n 1 <&3' "$1" \
        2>/dev/null | grep -q ' 200 '
}

start_registry() {
    local d=$DIR/registry port attempt deadline pid
    mkdir -p "$d/storage"
    for attempt in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 40000))
        port_listening "$port" && continue
        cat >"$d/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $d/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  headers:
    X-Content-Type-Options: [nosniff]
EOF
        setsid docker-registry serve "$d/config.yml" </dev/null >"$d/registry.log" 2>&1 &
        pid=$!
        echo "$pid" >"$d/registry.pid"
        deadline=$((SECONDS + 20))
        while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do
            if registry_answers "$port"; then
                REGISTRY=127.0.0.1:$port
                say "registry is up at $REGISTRY"
                return 0
            fi
            sleep 0.2
        done
        say "registry on port $port failed (attempt $attempt): $(tail -n 5 "$d/registry.log")"
        kill -KILL "$pid" 2>/dev/null || true
    done
    die "the registry did not start (log: $d/registry.log)"
}

cmd_start() {
    [ "$(id -u)" = 0 ] || die "start must run as root (dockerd, mount namespaces)"
    local tool
    for tool in dockerd containerd runc unshare setsid docker-registry busybox "$DOCKER28" "$DOCKER20"; do
        command -v "$tool" >/dev/null || die "missing $tool (scripts/test.sh installs it)"
    done
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    # Unix socket paths are limited to 108 bytes; containerd's shim sockets go deepest.
    [ "${#DIR}" -le 60 ] || die "DIR is too long for unix sockets (${#DIR} > 60 bytes): $DIR"
    # The mount points the namespaces bind over must exist on the host. They are
    # standard directories and are left in place: removing one would lazily detach the
    # bind mounts of any other test bed running at the same time.
    mkdir -p /run/docker/plugins /run/containerd

    local bin started=$SECONDS name
    bin=$(plugin_bin)
    [ -x "$bin" ] || die "authz plugin not found at $bin"

    for name in "${DAEMONS[@]}"; do
        mkdir -p "$DIR/$name/plugins"
        if [ -n "$(policy_of "$name")" ]; then
            : >"$DIR/$name/authz.log"
            start_plugin "$name" "$(policy_of "$name")" "$bin"
        fi
        start_dockerd "$name"
    done
    start_registry &
    local registry_job=$!
    make_busybox_tar
    for name in "${DAEMONS[@]}"; do
        wait_dockerd "$name"
    done
    for name in "${DAEMONS[@]}"; do
        "$DOCKER28" -H "unix://$DIR/$name/docker.sock" import -c 'CMD ["sh"]' \
            "$DIR/busybox.tar" busybox:latest >/dev/null ||
            die "cannot import busybox into '$name'"
    done
    wait "$registry_job" || die "the registry did not start (log: $DIR/registry/registry.log)"
    local port
    port=$(sed -n 's/^  addr: 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$DIR/registry/config.yml")

    {
        printf 'export %s=%q\n' \
            DOCKROUTE_TEST_PLAIN_HOST "unix://$DIR/plain/docker.sock" \
            DOCKROUTE_TEST_V2_HOST "unix://$DIR/v2/docker.sock" \
            DOCKROUTE_TEST_PRIVONLY_HOST "unix://$DIR/privonly/docker.sock" \
            DOCKROUTE_TEST_V2_AUTHZ_LOG "$DIR/v2/authz.log" \
            DOCKROUTE_TEST_PRIVONLY_AUTHZ_LOG "$DIR/privonly/authz.log" \
            DOCKROUTE_TEST_REGISTRY "127.0.0.1:$port" \
            DOCKROUTE_TEST_IMAGE busybox:latest \
            DOCKROUTE_TEST_DOCKER20 "$DOCKER20" \
            DOCKROUTE_TEST_DOCKER28 "$DOCKER28"
    } >"$DIR/env.part"
    mv "$DIR/env.part" "$DIR/env"
    say "ready in $((SECONDS - started)) s; environment in $DIR/env"
}

[ $# -eq 2 ] || usage
DIR=$2
case "$DIR" in
/*) ;;
*) DIR=$PWD/$DIR ;;
esac
DIR=${DIR%/}
[ "$DIR" != "" ] && [ "$DIR" != "/" ] || die "refusing DIR=/"
case "$1" in
start) cmd_start ;;
stop) cmd_stop ;;
*) usage ;;
esac
