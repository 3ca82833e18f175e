#!/usr/bin/env bash
# demo — what `make run` shows until the agent exists: heed waits for a
# TCP listener that opens 1.5 s late on a free loopback port, then runs a
# command in its place.
set -euo pipefail
heed=${1:-build/heed}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$port" <<'PY' &
import socket, sys, time
time.sleep(1.5)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
time.sleep(3)
PY
listener=$!
trap 'kill $listener 2>/dev/null || true' EXIT
echo "demo: a listener opens on 127.0.0.1:$port in 1.5 s; heed waits for it:"
echo "+ $heed wait tcp://127.0.0.1:$port -- echo 'the app starts now'"
"$heed" wait --timeout 10s "tcp://127.0.0.1:$port" -- echo "the app starts now"
