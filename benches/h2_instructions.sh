#!/bin/sh
# Instructions per HTTP/2 request of `proxylab proxy` under callgrind, as docs/benchmarks.md
# measures them: `listen … ssl http2`, ECDSA P-256, `return 200 "ok\n"`, client
# `proxylab loadgen --protocol h2 -k -c 32`. Two runs after a warm-up (SHORT and LONG
# seconds), each between `callgrind_control -z` and `-d`; per request = (Ir of the long run −
# Ir of the short run) / (requests of the long run − requests of the short run), which
# cancels the 32 TLS handshakes each run starts with. Needs valgrind, openssl, python3 and a
# release build. Figures mean something only on a quiet machine.
#
#   benches/h2_instructions.sh [BINARY [SHORT LONG]]     (default target/release/proxylab 4 12)
set -eu
BIN=$(realpath "${1:-target/release/proxylab}")
SHORT=${2:-4}
LONG=${3:-12}
DIR=$(mktemp -d /tmp/proxylab-h2cg-XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$DIR/nginx.conf" <<CONF
worker_processes 1;
error_log $DIR/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$PORT ssl http2;
    ssl_certificate $DIR/cert.pem;
    ssl_certificate_key $DIR/key.pem;
    location / { return 200 "ok\n"; }
  }
}
CONF
valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.out" \
    "$BIN" proxy -c "$DIR/nginx.conf" -p "$DIR" >"$DIR/proxy.out" 2>"$DIR/proxy.err" &
PID=$!
i=0
until grep -q "proxylab-proxy ready" "$DIR/proxy.out" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -gt 600 ] && { echo "the proxy did not start under valgrind" >&2; exit 1; }
    sleep 0.1
done
load() { # seconds → completed requests
    "$BIN" loadgen --protocol h2 -k -c 32 -t 1 -d "${1}s" \
        --summary-json "$DIR/sum.json" "https://127.0.0.1:$PORT/" >/dev/null
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["overall"]["completed"])' "$DIR/sum.json"
}
dump_ir() { # → Ir since the last zeroing
    rm -f "$DIR"/cg.out.*
    callgrind_control -d "$PID" >/dev/null
    sleep 1
    grep -h '^summary:\|^totals:' "$DIR"/cg.out.* | head -1 | awk '{print $2}'
}
load 1 >/dev/null
callgrind_control -z "$PID" >/dev/null
REQ_SHORT=$(load "$SHORT")
IR_SHORT=$(dump_ir)
callgrind_control -z "$PID" >/dev/null
REQ_LONG=$(load "$LONG")
IR_LONG=$(dump_ir)
python3 - "$IR_SHORT" "$REQ_SHORT" "$IR_LONG" "$REQ_LONG" <<'PY'
import sys
ir_s, req_s, ir_l, req_l = map(int, sys.argv[1:])
print(f"short run: {req_s} requests, {ir_s} Ir; long run: {req_l} requests, {ir_l} Ir")
print(f"instructions per h2 request: {(ir_l - ir_s) / (req_l - req_s):.0f}")
PY
