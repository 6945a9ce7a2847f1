#!/usr/bin/env bash
# The end-to-end test bed: six throwaway dockerds, two authorization plugins, a
# registry and two BuildKit daemons, everything under one directory, nothing on the
# host's default sockets.
#
#   scripts/testbed.sh start DIR   # as root; writes DIR/env (`export KEY=VALUE` lines)
#   scripts/testbed.sh stop DIR    # kills all it started; safe twice or after a failed start
#
# Daemons:
#   plain     no authorization plugin (a runtime v3 / ordinary daemon stand-in);
#   v2        --authorization-plugin=pipelines, policy privileged-grpc (Bitbucket-like:
#             denies privileged containers and buildx's hijacked POST /grpc);
#   v2-26     the same as v2 on Docker Engine 26.1.5 (Debian 13's dockerd, fetched and
#             cached by scripts/fetch-dockerd26.sh; bookworm's containerd and runc):
#             nearer the Engine 25 that Pipelines' docker service runs today;
#   privonly  --authorization-plugin=pipelines, policy privileged;
#   v2-warm, v2-26-warm
#             the same as v2 and v2-26, for tests/e2e/warm.rs alone: those tests play
#             Bitbucket's docker cache between two steps, which prunes the daemon's whole
#             build cache (`docker builder prune -af`); on a daemon other tests build on at
#             the same time that prune made Engine 20.10 drop its connections (EOF).
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
# BuildKit: two buildkitd (OCI worker, runc, each with its own --root and an empty config
# file, so nothing in /etc/buildkit or /var/lib/buildkit is used), each in its own private
# mount namespace so the mounts of its builds never reach the host's table:
#   bk        on unix://DIR/bk/buildkitd.sock;
#   bk-tcp    on tcp://127.0.0.1:PORT with mutual TLS: a throwaway CA signs the server
#             certificate (SAN IP:127.0.0.1) and a client certificate; the client's
#             ca.pem, cert.pem and key.pem are in DIR/bk-tls (the DOCKER_CERT_PATH layout,
#             also what `buildctl --tlsdir` reads).
# The strict daemons `v2` and `v2-26` also get an image named moby/buildkit:buildx-stable-1 (the
# busybox rootfs under that name; no buildkitd in it): the real buildx plugin then
# reaches its privileged container create, and the daemon's denial, instead of failing
# to pull it offline.
#
# Environment:
#   DOCKROUTE_AUTHZ_PLUGIN   the plugin binary (default: the cargo target dir's
#                            debug/examples/authz_plugin, built if missing);
#   DOCKROUTE_BUILDKIT_BIN   the directory with buildctl, buildkitd, buildctl-daemonless.sh
#                            and docker-buildx (default: ../shared/buildkit/bin from the
#                            repository root);
#   DOCKROUTE_DOCKERD26      the Engine 26 dockerd for `v2-26` (default: what
#                            scripts/fetch-dockerd26.sh prints, fetched once and cached).

set -euo pipefail

readonly DAEMONS=(plain v2 v2-26 privonly v2-warm v2-26-warm)
# The strict (Bitbucket-like) daemons: one per engine version.
readonly STRICT=(v2 v2-26)
readonly DOCKER28=/usr/local/bin/docker
readonly DOCKER20=/usr/bin/docker
readonly BUILDKITDS=(bk bk-tcp)
readonly BUILDKIT_TOOLS=(buildctl buildkitd buildctl-daemonless.sh docker-buildx)
readonly BUILDX_IMAGE=moby/buildkit:buildx-stable-1
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
    v2 | v2-26 | v2-warm | v2-26-warm) echo privileged-grpc ;;
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
    local name pid f pids=()
    # 1. dockerds and buildkitds, gracefully: on SIGTERM dockerd stops its containers and
    #    its managed containerd, buildkitd cancels its builds.
    local pidfiles=()
    for name in "${DAEMONS[@]}"; do
        pidfiles+=("$DIR/$name/dockerd.pid" "$DIR/$name/launch.pid")
    done
    for name in "${BUILDKITDS[@]}"; do
        pidfiles+=("$DIR/$name/buildkitd.pid")
    done
    for f in "${pidfiles[@]}"; do
        pid=$(cat "$f" 2>/dev/null || true)
        if ours "$pid" && [[ " ${pids[*]} " != *" $pid "* ]]; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    if [ "${#pids[@]}" -gt 0 ]; then
        say "stopping daemons ${pids[*]}"
        if ! wait_gone 30 "${pids[@]}"; then
            say "daemons did not stop in 30 s: SIGKILL"
            kill -KILL "${pids[@]}" 2>/dev/null || true
            wait_gone 5 "${pids[@]}" || true
        fi
    fi
    # 2. Everything else of ours: containerd and shims left by a killed dockerd,
    #    containers, runc processes left by a killed buildkitd, the plugins, the registry.
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
    rm -f "$DIR"/*/dockerd.pid "$DIR"/*/launch.pid "$DIR"/*/plugin.pid \
        "$DIR"/registry/registry.pid "$DIR"/*/buildkitd.pid
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

# The dockerd binary of a daemon: Engine 26 for `v2-26`, the system's 20.10 otherwise.
dockerd_of() {
    case "$1" in
    v2-26 | v2-26-warm) echo "$DOCKERD26" ;;
    *) command -v dockerd ;;
    esac
}

# The Engine 26 dockerd: DOCKROUTE_DOCKERD26, else fetched once and cached.
dockerd26_bin() {
    local bin=${DOCKROUTE_DOCKERD26:-}
    if [ -z "$bin" ]; then
        bin=$("$(dirname "$0")/fetch-dockerd26.sh") || die "cannot fetch the Engine 26 dockerd (scripts/fetch-dockerd26.sh)"
    fi
    [ -x "$bin" ] || die "no Engine 26 dockerd at $bin"
    "$bin" --version 2>/dev/null | grep -q '^Docker version 26\.' ||
        die "$bin is not dockerd 26.x: $("$bin" --version 2>&1 || true)"
    echo "$bin"
}

start_dockerd() {
    local name=$1 d=$DIR/$1 policy
    policy=$(policy_of "$name")
    mkdir -p "$d"/{data,exec,plugins,run-containerd,empty}
    echo '{}' >"$d/daemon.json"
    local args=(
        "$(dockerd_of "$name")"
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

# The BuildKit binaries directory, checked: absolute, with every tool executable.
buildkit_bin() {
    local dir=${DOCKROUTE_BUILDKIT_BIN:-} root tool
    if [ -z "$dir" ]; then
        root=$(cd "$(dirname "$0")/.." && pwd)
        dir=$root/../shared/buildkit/bin
    fi
    [ -d "$dir" ] || die "no BuildKit binaries directory at $dir (set DOCKROUTE_BUILDKIT_BIN to the directory with ${BUILDKIT_TOOLS[*]})"
    dir=$(cd "$dir" && pwd)
    for tool in "${BUILDKIT_TOOLS[@]}"; do
        [ -x "$dir/$tool" ] || die "missing $dir/$tool (DOCKROUTE_BUILDKIT_BIN must hold ${BUILDKIT_TOOLS[*]})"
    done
    echo "$dir"
}

# A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, all signed
# by it. Server side in DIR/bk-tcp/tls, client side in DIR/bk-tls. EC keys: fast to make.
make_buildkit_tls() {
    local srv=$DIR/bk-tcp/tls cli=$DIR/bk-tls
    mkdir -p "$srv" "$cli"
    chmod 700 "$srv" "$cli"
    local key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    {
        openssl req -x509 "${key[@]}" -days 7 -subj /CN=dockroute-testbed-ca \
            -keyout "$srv/ca-key.pem" -out "$srv/ca.pem" &&
            openssl req "${key[@]}" -subj /CN=127.0.0.1 \
                -keyout "$srv/key.pem" -out "$srv/server.csr" &&
            printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$srv/server.ext" &&
            openssl x509 -req -days 7 -in "$srv/server.csr" -CA "$srv/ca.pem" \
                -CAkey "$srv/ca-key.pem" -CAcreateserial -extfile "$srv/server.ext" \
                -out "$srv/cert.pem" &&
            openssl req "${key[@]}" -subj /CN=dockroute-testbed-client \
                -keyout "$cli/key.pem" -out "$srv/client.csr" &&
            printf 'extendedKeyUsage=clientAuth\n' >"$srv/client.ext" &&
            openssl x509 -req -days 7 -in "$srv/client.csr" -CA "$srv/ca.pem" \
                -CAkey "$srv/ca-key.pem" -CAserial "$srv/ca.srl" -extfile "$srv/client.ext" \
                -out "$cli/cert.pem" &&
            cp "$srv/ca.pem" "$cli/ca.pem"
    } >"$srv/openssl.log" 2>&1 || die "openssl failed: $(tail -n 20 "$srv/openssl.log")"
}

# Does buildkitd at ADDR (buildctl's global flags after it) answer?
buildkitd_answers() {
    timeout 10 "$BUILDKIT_BIN/buildctl" --addr "$@" debug workers >/dev/null 2>&1
}

# Launches buildkitd NAME detached, in a private mount namespace, listening on ADDR, with
# any further buildkitd flags. `unshare` execs, so the pid file holds buildkitd's pid.
# The binaries directory leads its PATH, so any helper it looks up comes from there too;
# runc comes from the system.
launch_buildkitd() {
    local name=$1 addr=$2 d=$DIR/$1
    shift 2
    mkdir -p "$d/root"
    : >"$d/buildkitd.toml"
    PATH=$BUILDKIT_BIN:$PATH setsid unshare -m --propagation private \
        "$BUILDKIT_BIN/buildkitd" --config "$d/buildkitd.toml" --root "$d/root" \
        --addr "$addr" --oci-worker=true --containerd-worker=false "$@" \
        </dev/null >"$d/buildkitd.log" 2>&1 &
    echo $! >"$d/buildkitd.pid"
}

# Waits until buildkitd NAME answers at ADDR (buildctl's global flags after it).
# Returns 1 if it exited first; dies on timeout.
wait_buildkitd() {
    local name=$1 d=$DIR/$1 deadline=$((SECONDS + START_TIMEOUT))
    shift
    until buildkitd_answers "$@"; do
        alive "$(cat "$d/buildkitd.pid")" || return 1
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 30 "$d/buildkitd.log" >&2 || true
            die "buildkitd '$name' did not answer within ${START_TIMEOUT}s (log: $d/buildkitd.log)"
        fi
        sleep 0.1
    done
    say "buildkitd '$name' is up at $1"
}

# The unix-socket buildkitd.
start_buildkitd_unix() {
    local addr=unix://$DIR/bk/buildkitd.sock
    launch_buildkitd bk "$addr"
    wait_buildkitd bk "$addr" || {
        tail -n 30 "$DIR/bk/buildkitd.log" >&2 || true
        die "buildkitd 'bk' exited during start-up (log: $DIR/bk/buildkitd.log)"
    }
}

# The TCP + mutual TLS buildkitd, on a free port (retried if another process takes the
# port first). Sets BUILDKIT_TCP.
start_buildkitd_tcp() {
    local d=$DIR/bk-tcp attempt port addr
    make_buildkit_tls
    for attempt in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 40000))
        port_listening "$port" && continue
        addr=tcp://127.0.0.1:$port
        launch_buildkitd bk-tcp "$addr" \
            --tlscacert "$d/tls/ca.pem" --tlscert "$d/tls/cert.pem" --tlskey "$d/tls/key.pem"
        if wait_buildkitd bk-tcp "$addr" --tlsdir "$DIR/bk-tls"; then
            BUILDKIT_TCP=$addr
            return 0
        fi
        say "buildkitd on port $port failed (attempt $attempt): $(tail -n 5 "$d/buildkitd.log")"
    done
    die "buildkitd 'bk-tcp' did not start (log: $d/buildkitd.log)"
}

# Both buildkitds, one after the other (run in the background while the dockerds start).
# Writes the TCP one's address to DIR/bk-tcp/addr.
start_buildkitds() {
    start_buildkitd_unix
    start_buildkitd_tcp
    echo "$BUILDKIT_TCP" >"$DIR/bk-tcp/addr"
}

cmd_start() {
    [ "$(id -u)" = 0 ] || die "start must run as root (dockerd, mount namespaces)"
    local tool
    for tool in dockerd containerd runc unshare setsid docker-registry busybox openssl \
        "$DOCKER28" "$DOCKER20"; do
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
    BUILDKIT_BIN=$(buildkit_bin)
    DOCKERD26=$(dockerd26_bin)

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
    start_buildkitds &
    local buildkit_job=$!
    make_busybox_tar
    for name in "${DAEMONS[@]}"; do
        wait_dockerd "$name"
    done
    # The imports run at the same time, one per daemon (and one more on each strict one).
    local imports=()
    for name in "${DAEMONS[@]}"; do
        "$DOCKER28" -H "unix://$DIR/$name/docker.sock" import -c 'CMD ["sh"]' \
            "$DIR/busybox.tar" busybox:latest >/dev/null &
        imports+=("$!:busybox:latest into '$name'")
    done
    # Its own import, not a tag of busybox: an image id of its own lets tests find
    # buildx's containers with `ps --filter ancestor=`.
    for name in "${STRICT[@]}"; do
        "$DOCKER28" -H "unix://$DIR/$name/docker.sock" import -c 'ENTRYPOINT ["buildkitd"]' \
            "$DIR/busybox.tar" "$BUILDX_IMAGE" >/dev/null &
        imports+=("$!:$BUILDX_IMAGE into '$name'")
    done
    local job
    for job in "${imports[@]}"; do
        wait "${job%%:*}" || die "cannot import ${job#*:}"
    done
    wait "$registry_job" || die "the registry did not start (log: $DIR/registry/registry.log)"
    wait "$buildkit_job" || die "a buildkitd did not start (logs: $DIR/bk/buildkitd.log, $DIR/bk-tcp/buildkitd.log)"
    local port
    port=$(sed -n 's/^  addr: 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$DIR/registry/config.yml")
    BUILDKIT_TCP=$(cat "$DIR/bk-tcp/addr")

    {
        printf 'export %s=%q\n' \
            DOCKROUTE_TEST_PLAIN_HOST "unix://$DIR/plain/docker.sock" \
            DOCKROUTE_TEST_V2_HOST "unix://$DIR/v2/docker.sock" \
            DOCKROUTE_TEST_V2_26_HOST "unix://$DIR/v2-26/docker.sock" \
            DOCKROUTE_TEST_PRIVONLY_HOST "unix://$DIR/privonly/docker.sock" \
            DOCKROUTE_TEST_V2_AUTHZ_LOG "$DIR/v2/authz.log" \
            DOCKROUTE_TEST_V2_26_AUTHZ_LOG "$DIR/v2-26/authz.log" \
            DOCKROUTE_TEST_DOCKERD26 "$DOCKERD26" \
            DOCKROUTE_TEST_PRIVONLY_AUTHZ_LOG "$DIR/privonly/authz.log" \
            DOCKROUTE_TEST_V2_WARM_HOST "unix://$DIR/v2-warm/docker.sock" \
            DOCKROUTE_TEST_V2_WARM_AUTHZ_LOG "$DIR/v2-warm/authz.log" \
            DOCKROUTE_TEST_V2_26_WARM_HOST "unix://$DIR/v2-26-warm/docker.sock" \
            DOCKROUTE_TEST_V2_26_WARM_AUTHZ_LOG "$DIR/v2-26-warm/authz.log" \
            DOCKROUTE_TEST_REGISTRY "127.0.0.1:$port" \
            DOCKROUTE_TEST_IMAGE busybox:latest \
            DOCKROUTE_TEST_DOCKER20 "$DOCKER20" \
            DOCKROUTE_TEST_DOCKER28 "$DOCKER28" \
            DOCKROUTE_TEST_BUILDKIT_BIN "$BUILDKIT_BIN" \
            DOCKROUTE_TEST_BUILDKIT_UNIX "unix://$DIR/bk/buildkitd.sock" \
            DOCKROUTE_TEST_BUILDKIT_TCP "$BUILDKIT_TCP" \
            DOCKROUTE_TEST_BUILDKIT_TLS_DIR "$DIR/bk-tls" \
            DOCKROUTE_TEST_BUILDX_IMAGE "$BUILDX_IMAGE"
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
