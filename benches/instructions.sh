#!/bin/sh
# Instructions per request, our proxy and nginx side by side, counted by callgrind: a count
# that does not depend on what else the machine is doing, where req/s and CPU seconds do.
# Both servers read the same nginx.conf (`worker_processes 1`, `access_log off`,
# `master_process off`) with four servers, one per case of `bench proxy` / `bench edge`:
#
#   proxy          HTTP/1.1 keep-alive proxying to the fake upstream (`upstream u { server
#                  FAKE; keepalive 32; }`, `proxy_http_version 1.1`), client -c 32: with more
#                  clients than cached upstream connections (`bench proxy` runs wrk -c 50) both
#                  proxies open 0.1-0.2 new upstream connections per request, a share that
#                  varies from run to run with timing and moves the count by ~2 %
#   https          HTTPS keep-alive HTTP/1.1, `listen … ssl http2`, ECDSA P-256, `return 200 "ok\n"`
#   h2             the same server over HTTP/2 (ALPN h2), -c 32 as `bench edge`
#   static         GET /4k.bin from `root`, nginx without open_file_cache
#   static-cached  the same from a server with `open_file_cache max=16 inactive=10s` (ours
#                  keeps recent files open on its own; this is the pair the target is judged on)
#
# Each server runs under `valgrind --tool=callgrind` (nginx as one process); the client is
# `proxylab loadgen -k` with a fixed request budget. Per case: a warm-up, then two runs
# between `callgrind_control -z` and `-d`, SHORT and LONG requests; per request = (Ir of the
# long run − Ir of the short one) / (requests of the long run − requests of the short one),
# which cancels the connection set-up (TCP accept, TLS handshakes) each run starts with.
# Prints a table of both figures and the ratio ours / nginx. Needs valgrind, nginx, openssl,
# python3 and a release build (run from the repository root).
#
#   benches/instructions.sh [BINARY [CASES [SHORT LONG]]]
#   (defaults: target/release/proxylab proxy,https,h2,static,static-cached 1000 4000)
#
# BINARY runs the client and the fake upstream, and `BINARY proxy` is measured unless OURS
# names another proxy binary (`OURS=target/release/proxylab-proxy`, the stand-alone build of
# the same proxy: `cargo build --release -p proxylab-proxy` rebuilds only the proxy crate).
# SERVERS=ours (or nginx) measures one of the two; KEEP=DIR keeps each long run's callgrind
# profile there as SERVER-CASE.out for `callgrind_annotate --inclusive=yes`.
set -eu
BIN=$(realpath "${1:-target/release/proxylab}")
CASES=${2:-proxy,https,h2,static,static-cached}
SHORT=${3:-1000}
LONG=${4:-4000}
NGINX=${NGINX:-nginx}
OURS=${OURS:-}
SERVERS=${SERVERS:-nginx,ours}
KEEP=${KEEP:-}
[ -n "$OURS" ] && OURS=$(realpath "$OURS")
for p in valgrind callgrind_control openssl python3 "$NGINX"; do
    command -v "$p" >/dev/null || { echo "$p not installed (apt-get install -y valgrind nginx openssl python3)" >&2; exit 2; }
done
for c in $(echo "$CASES" | tr ',' ' '); do
    case $c in
    proxy | https | h2 | static | static-cached) ;;
    *) echo "unknown case $c (proxy, https, h2, static, static-cached)" >&2; exit 2 ;;
    esac
done
DIR=$(mktemp -d /tmp/proxylab-instr-XXXXXX)
PID=
FAKE=
stop_server() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null || true
        i=0
        while kill -0 "$PID" 2>/dev/null && [ "$i" -lt 100 ]; do
            i=$((i + 1))
            sleep 0.1
        done
        kill -9 "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
        PID=
    fi
}
cleanup() {
    stop_server
    [ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null && wait "$FAKE" 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() { # port → 0 when it accepts within 60 s (valgrind starts slowly)
    python3 - "$1" <<'PY'
import socket, sys, time
end = time.time() + 60
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}

# The fake upstream (not measured), as `bench proxy` starts it.
"$BIN" upstream --host 127.0.0.1 --port 0 --quiet >"$DIR/fake.out" 2>&1 &
FAKE=$!
i=0
until grep -q "listening on" "$DIR/fake.out" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -gt 600 ] && { echo "the fake upstream did not start" >&2; exit 1; }
    sleep 0.05
done
UPSTREAM=$(grep -o 'http://[0-9.:]*' "$DIR/fake.out" | head -1 | sed 's|http://||')

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
mkdir -p "$DIR/www"
python3 -c 'import sys; open(sys.argv[1], "wb").write(bytes(range(256)) * 16)' "$DIR/www/4k.bin"

PROXY_PORT=$(free_port)
TLS_PORT=$(free_port)
STATIC_PORT=$(free_port)
CACHED_PORT=$(free_port)
conf() { # prefix directory → nginx.conf
    cat <<CONF
worker_processes 1;
master_process off;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1/cb;
  proxy_temp_path $1/px;
  upstream u { server $UPSTREAM; keepalive 32; }
  server {
    listen 127.0.0.1:$PROXY_PORT;
    location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server {
    listen 127.0.0.1:$TLS_PORT ssl http2;
    ssl_certificate $DIR/cert.pem;
    ssl_certificate_key $DIR/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { return 200 "ok\n"; }
  }
  server {
    listen 127.0.0.1:$STATIC_PORT;
    location / { root $DIR/www; }
  }
  server {
    listen 127.0.0.1:$CACHED_PORT;
    open_file_cache max=16 inactive=10s;
    location / { root $DIR/www; }
  }
}
CONF
}

load() { # url conns protocol requests → completed requests
    url=$1 conns=$2 proto=$3 n=$4
    rm -f "$DIR/sum.json"
    "$BIN" loadgen -k -q -t 1 -c "$conns" --protocol "$proto" --requests "$n" -d 600s \
        --connect-timeout 60s --timeout 120s \
        --summary-json "$DIR/sum.json" "$url" >/dev/null 2>&1 || true
    python3 - "$DIR/sum.json" "$n" "$url" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))["overall"]
done, want = o["completed"], int(sys.argv[2])
ok = sum(v for k, v in o["status"].items() if k.startswith("2"))
if ok != done or done < want * 0.99:
    sys.exit(f"{sys.argv[3]}: {done} of {want} completed, {ok} with 2xx, errors {o['errors']}")
print(done)
PY
}
dump_ir() { # → Ir since the last zeroing
    rm -f "$DIR"/cg.out.*
    callgrind_control -d "$PID" >/dev/null 2>&1
    i=0
    until ls "$DIR"/cg.out.* >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -gt 300 ] && { echo "callgrind wrote no dump" >&2; exit 1; }
        sleep 0.1
    done
    sleep 0.5
    grep -h '^summary:\|^totals:' "$DIR"/cg.out.* | head -1 | awk '{print $2}'
}
case_args() { # case → url conns protocol
    case $1 in
    proxy) echo "http://127.0.0.1:$PROXY_PORT/ 32 h1" ;;
    https) echo "https://127.0.0.1:$TLS_PORT/ 32 h1" ;;
    h2) echo "https://127.0.0.1:$TLS_PORT/ 32 h2" ;;
    static) echo "http://127.0.0.1:$STATIC_PORT/4k.bin 32 h1" ;;
    static-cached) echo "http://127.0.0.1:$CACHED_PORT/4k.bin 32 h1" ;;
    esac
}
measure() { # server name → lines "name case Ir/request" on stdout
    name=$1
    pre="$DIR/$name"
    mkdir -p "$pre"
    conf "$pre" >"$pre/nginx.conf"
    if [ "$name" = nginx ]; then
        valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.out" \
            "$NGINX" -c "$pre/nginx.conf" -p "$pre" >"$pre/out" 2>"$pre/err" &
    elif [ -n "$OURS" ]; then
        valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.out" \
            "$OURS" -c "$pre/nginx.conf" -p "$pre" >"$pre/out" 2>"$pre/err" &
    else
        valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.out" \
            "$BIN" proxy -c "$pre/nginx.conf" -p "$pre" >"$pre/out" 2>"$pre/err" &
    fi
    PID=$!
    for p in $PROXY_PORT $TLS_PORT $STATIC_PORT $CACHED_PORT; do
        wait_port "$p" || { echo "$name did not start under valgrind:" >&2; cat "$pre/err" "$pre/error.log" >&2; exit 1; }
    done
    for c in $(echo "$CASES" | tr ',' ' '); do
        # shellcheck disable=SC2046
        set -- $(case_args "$c")
        load "$@" 200 >/dev/null || true # warm-up: TLS handshakes under valgrind are slow
        callgrind_control -z "$PID" >/dev/null 2>&1
        req_s=$(load "$@" "$SHORT")
        ir_s=$(dump_ir)
        callgrind_control -z "$PID" >/dev/null 2>&1
        req_l=$(load "$@" "$LONG")
        ir_l=$(dump_ir)
        [ -n "$KEEP" ] && mkdir -p "$KEEP" && cat "$DIR"/cg.out.* >"$KEEP/$name-$c.out"
        echo "$name $c $ir_s $req_s $ir_l $req_l"
    done
    stop_server
}
echo "instructions per request (callgrind), $SHORT and $LONG requests per run, $(git rev-parse --short HEAD 2>/dev/null || echo '?')" >&2
for s in $(echo "$SERVERS" | tr ',' ' '); do
    measure "$s"
done >"$DIR/results"
python3 - "$DIR/results" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, case, ir_s, req_s, ir_l, req_l = line.split()
    ir_s, req_s, ir_l, req_l = map(int, (ir_s, req_s, ir_l, req_l))
    rows.setdefault(case, {})[name] = (ir_l - ir_s) / (req_l - req_s)
print(f"{'case':<14} {'ours':>9} {'nginx':>9} {'ours/nginx':>10}")
for case, r in rows.items():
    o, n = r.get("ours"), r.get("nginx")
    f = lambda v: f"{v:>9.0f}" if v else f"{'-':>9}"
    ratio = f"{o / n:>10.2f}" if o and n else f"{'-':>10}"
    print(f"{case:<14} {f(o)} {f(n)} {ratio}")
PY
