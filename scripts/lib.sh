# Shared by the scripts that mount skyfs on a scratch directory (demo,
# benchmarks). Source it, then: skyfs_start NAME; ...; skyfs_stop.
# Sets $work (scratch dir, removed at exit), $mnt (the mount) and $pid.

skyfs_start() {
	work=$(mktemp -d "/tmp/skyfs-$1.XXXXXX")
	mnt=$work/mnt
	mkdir -p "$mnt"
	pid=
	trap skyfs_cleanup EXIT
	${SKYFS_WRAP:-} ./build/skyfs -f -o state="$work/state" "$mnt" 2>"$work/skyfs.log" &
	pid=$!
	for _ in $(seq 50); do mountpoint -q "$mnt" && break; sleep 0.1; done
	mountpoint -q "$mnt" || { cat "$work/skyfs.log" >&2; return 1; }
}

# Unmounts and waits for the daemon; fails if it did not exit cleanly.
skyfs_stop() {
	fusermount3 -u "$mnt"
	local rc=0
	wait "$pid" || rc=$?
	pid=
	return $rc
}

skyfs_cleanup() {
	if mountpoint -q "$mnt" 2>/dev/null; then fusermount3 -u "$mnt" || true; fi
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
	[ -n "${SKYFS_KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}

# Polls until the pool's status says ready (10 s at most).
skyfs_wait_ready() {
	for _ in $(seq 200); do
		[ "$(head -1 "$1/status")" = ready ] && return 0
		sleep 0.05
	done
	echo "pool $1 is not ready: $(head -3 "$1/status")" >&2
	return 1
}
