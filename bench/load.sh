#!/usr/bin/env bash
# bench/load.sh: hey against bench/load on 127.0.0.1, bounded in time: a read
# page and a write page, on a memory store and on a redis-server of its own,
# with plain scs as the baseline. Prints requests/s, p50 and p99 per variant,
# and how many requests failed (a status other than 200, or a connection
# error): on Redis, scsession's compare-and-set gives up on a save that keeps
# losing to the other writers (ErrConflict, a 500), which 16 workers on one
# session can make happen; the other variants should show 0.
#
#	bench/load.sh                    # 5 s per variant, 16 workers: about 1 minute
#	DURATION=10s WORKERS=32 bench/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-5s}
workers=${WORKERS:-16}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

for tool in hey redis-server curl; do
	command -v "$tool" >/dev/null || { echo "load.sh: $tool is missing (apt-get install -y $tool)" >&2; exit 1; }
done

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

waitfor() { # url
	for _ in $(seq 100); do
		curl -fs -o /dev/null "$1" && return 0
		sleep 0.05
	done
	echo "load.sh: $1 did not answer" >&2
	exit 1
}

go build -o "$tmp/load" ./bench/load

redis_port=$(freeport)
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
	sleep 0.05
done

echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); hey -z $duration -c $workers, one session"
printf '| %-5s | %-5s | %-9s | %10s | %8s | %8s | %6s |\n' store page impl 'req/s' p50 p99 failed
printf '|-------|-------|-----------|------------|----------|----------|--------|\n'
for store in mem redis; do
	for impl in scs scsession; do
		port=$(freeport)
		"$tmp/load" -impl "$impl" -store "$store" -redis "127.0.0.1:$redis_port" -addr "127.0.0.1:$port" 2>"$tmp/app.log" &
		app=$!
		pids+=($app)
		base="http://127.0.0.1:$port"
		waitfor "$base/read"
		cookie=$(curl -fs -c - -o /dev/null "$base/login" | awk '$6 == "session" { print $7 }')
		[[ -n $cookie ]] || { echo "load.sh: $impl/$store: /login set no cookie" >&2; exit 1; }
		for page in read write; do
			method=GET
			[[ $page == write ]] && method=POST
			hey -z "$duration" -c "$workers" -m "$method" -H "Cookie: session=$cookie" "$base/$page" >"$tmp/hey.txt"
			if ! grep -q '\[200\]' "$tmp/hey.txt"; then
				echo "load.sh: $impl/$store/$page: no response was a 200:" >&2
				cat "$tmp/hey.txt" >&2
				exit 1
			fi
			# hey lists "[status] count responses" and then "[count] error".
			failed=$(awk '/^Status code distribution:/ { s = 1; next } /^Error distribution:/ { s = 2; next }
				s == 1 && $1 ~ /^\[[0-9]+\]$/ && $1 != "[200]" { n += $2 }
				s == 2 && $1 ~ /^\[[0-9]+\]$/ { n += substr($1, 2, length($1) - 2) }
				END { print n + 0 }' "$tmp/hey.txt")
			rps=$(awk '/Requests\/sec:/ { printf "%.0f", $2 }' "$tmp/hey.txt")
			p50=$(awk '$1 == "50%" { printf "%.2f ms", $3 * 1000 }' "$tmp/hey.txt")
			p99=$(awk '$1 == "99%" { printf "%.2f ms", $3 * 1000 }' "$tmp/hey.txt")
			printf '| %-5s | %-5s | %-9s | %10s | %8s | %8s | %6s |\n' "$store" "$page" "$impl" "$rps" "$p50" "$p99" "$failed"
		done
		kill "$app"
		wait "$app" 2>/dev/null || true
	done
done
