#!/usr/bin/env bash
# Run the public HTTP caching test suite (github.com/http-tests/cache-tests) against
# tiercache (both policies) and, when installed, nginx and Varnish, then print the
# per-group pass counts of the suite's required tests.
#
#   benchmarks/http-standards/run.sh                        # every target available
#   TARGETS="tiercache-rfc9111" benchmarks/http-standards/run.sh
#   benchmarks/http-standards/run.sh -i freshness-none tiercache-rfc9111   # one test, verbose
#
# The suite is fetched at run time (never committed) into $CACHE_TESTS_DIR, pinned to $CACHE_TESTS_COMMIT.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SUITE="${CACHE_TESTS_DIR:-/tmp/cache-tests}"
COMMIT="${CACHE_TESTS_COMMIT:-b55b8bda3dbb8c927c04e85bd8d496a8caa3e4ba}"
OUT="${OUT_DIR:-$(mktemp -d /tmp/http-standards.XXXXXX)}"
mkdir -p "$OUT"
ORIGIN_PORT="${ORIGIN_PORT:-8600}"
PROXY_PORT="${PROXY_PORT:-8601}"
ONLY=""
if [[ "${1:-}" == "-i" ]]; then ONLY="$2"; shift 2; fi
TARGETS="${*:-${TARGETS:-tiercache-default tiercache-rfc9111 nginx varnish}}"

# 1. The suite, at the pinned commit, with the one dependency its CLI needs (undici, for interim responses)
if [[ ! -d "$SUITE/tests" ]]; then
  git clone --quiet https://github.com/http-tests/cache-tests.git "$SUITE" ||
    { echo "cannot fetch the suite: clone it yourself and set CACHE_TESTS_DIR" >&2; exit 1; }
  git -C "$SUITE" checkout --quiet "$COMMIT"
fi
if [[ ! -d "$SUITE/node_modules/undici" ]]; then
  (cd "$SUITE" && npm install --no-save --no-package-lock --omit=dev --ignore-scripts --no-audit --no-fund undici@7 >/dev/null)
fi
echo "suite: $(git -C "$SUITE" rev-parse HEAD)  results: $OUT" >&2

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_port() { for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

# 2. The suite's origin server
(cd "$SUITE" && npm_config_protocol=http npm_config_port="$ORIGIN_PORT" npm_config_pidfile="$OUT/origin.pid" \
  exec node test-engine/server/server.mjs) >"$OUT/origin.log" 2>&1 &
PIDS+=($!)
wait_port "$ORIGIN_PORT"

# 3. Each target in front of it, one at a time, started and stopped by pid
start_target() {
  case "$1" in
    tiercache-*)
      (cd "$ROOT" && exec node --import tsx "$HERE/proxy.ts" --port "$PROXY_PORT" --origin "http://127.0.0.1:$ORIGIN_PORT" \
        --policy "${1#tiercache-}") >"$OUT/$1.log" 2>&1 &
      echo $! ;;
    nginx)
      command -v nginx >/dev/null || return 1
      mkdir -p "$OUT/nginx"
      sed -e "s#@DIR@#$OUT/nginx#g" -e "s#@PORT@#$PROXY_PORT#g" -e "s#@ORIGIN@#$ORIGIN_PORT#g" \
        "$HERE/nginx.conf" >"$OUT/nginx/nginx.conf"
      nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" >"$OUT/nginx.log" 2>&1 &
      echo $! ;;
    varnish)
      command -v varnishd >/dev/null || return 1
      mkdir -p "$OUT/varnish"
      sed -e "s#@ORIGIN@#$ORIGIN_PORT#g" "$HERE/default.vcl" >"$OUT/varnish/default.vcl"
      varnishd -F -n "$OUT/varnish/work" -a "127.0.0.1:$PROXY_PORT" -f "$OUT/varnish/default.vcl" \
        -p default_ttl=0 -p default_grace=0 -p default_keep=3600 -s malloc,64m >"$OUT/varnish.log" 2>&1 &
      echo $! ;;
    *) echo "unknown target $1" >&2; return 1 ;;
  esac
}

RAN=()
for target in $TARGETS; do
  pid="$(start_target "$target")" || { echo "skipping $target (not installed)" >&2; continue; }
  PIDS+=("$pid")
  wait_port "$PROXY_PORT"
  if [[ -n "$ONLY" ]]; then
    (cd "$SUITE" && npm_config_base="http://127.0.0.1:$PROXY_PORT" npm_config_id="$ONLY" \
      node --no-warnings test-engine/cli.mjs)
  else
    (cd "$SUITE" && npm_config_base="http://127.0.0.1:$PROXY_PORT" npm_config_id="" npm_package_config_id="" \
      node --no-warnings test-engine/cli.mjs) >"$OUT/$target.json"
    RAN+=("$target=$OUT/$target.json")
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  sleep 0.5
done

# 4. Per-group pass counts of the required tests
if [[ ${#RAN[@]} -gt 0 ]]; then node "$HERE/summarize.mjs" "$SUITE" "${RAN[@]}" ${FAILURES:+--failures}; fi
