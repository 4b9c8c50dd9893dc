# Shared by the scripts that mount skyfs on a scratch directory (demo,
# benchmarks). Source it, then: skyfs_start NAME; ...; skyfs_stop.
# Sets $work (scratch dir, removed at exit), $mnt (the mount) and $pid.
# Runs $SKYFS_BUILD/skyfs (default build/skyfs: the directory scripts/build.sh
# built; a script that builds elsewhere passes the same directory to both).

skyfs_start() {
	work=$(mktemp -d "/tmp/skyfs-$1.XXXXXX")
	mnt=$work/mnt
	mkdir -p "$mnt"
	pid=
	trap skyfs_cleanup EXIT
	${SKYFS_WRAP:-} "${SKYFS_BUILD:-build}/skyfs" -f -o state="$work/state" "$mnt" 2>"$work/skyfs.log" &
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

# ---- container pools (bench-container.sh, bench-resize.sh) ----
# podman_conf NAME: unless $CONTAINERS_CONF is set, writes the configuration
# the tests use (runc, ulimits the machine allows, no default network
# namespace) into a scratch $podman_conf_dir and exports CONTAINERS_CONF;
# then checks that podman runs a container. Returns 1 with the reason on
# stderr (and nothing left behind) when it cannot.
podman_conf() {
	podman_conf_dir=
	if [ -z "${CONTAINERS_CONF:-}" ]; then
		podman_conf_dir=$(mktemp -d "/tmp/skyfs-$1-conf.XXXXXX")
		cat >"$podman_conf_dir/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
runtime = "runc"
EOF
		export CONTAINERS_CONF=$podman_conf_dir/containers.conf
	fi
	local out
	if ! out=$(timeout 60 podman run --rm --rootfs /:O true 2>&1); then
		echo "podman cannot run a container here (CONTAINERS_CONF=$CONTAINERS_CONF): $out" >&2
		podman_conf_done
		return 1
	fi
}

podman_conf_done() {
	if [ -n "${podman_conf_dir:-}" ]; then rm -rf "$podman_conf_dir"; fi
	podman_conf_dir=
}

# skyfs_mount_id: sky_mount_id() of the mount skyfs_start made, the
# skyfs.mount label of every container it makes.
skyfs_mount_id() {
	python3 - "$work/state" <<'PY'
import socket, sys
def fnv1a(h, s):
    for c in s.encode():
        h = ((h ^ c) * 16777619) & 0xffffffff
    return h
print("%08x" % fnv1a(fnv1a(fnv1a(2166136261, socket.gethostname()), ":"), sys.argv[1]))
PY
}

# skyfs_cleanup_containers MOUNT_ID: unmounts (the daemon tears every pool
# still alive down: it is given 30 s), then removes whatever container of
# that mount is left, and the podman configuration.
skyfs_cleanup_containers() {
	if mountpoint -q "$mnt" 2>/dev/null; then fusermount3 -u "$mnt" || true; fi
	if [ -n "$pid" ]; then
		for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	skyfs_cleanup
	if [ -n "$1" ] && command -v podman >/dev/null; then
		local left
		left=$(timeout 30 podman ps -aq --filter "label=skyfs.mount=$1" 2>/dev/null || true)
		if [ -n "$left" ]; then
			echo "removing containers left behind: $left" >&2
			# shellcheck disable=SC2086
			timeout 60 podman rm -f -t 0 $left >/dev/null 2>&1 || true
		fi
	fi
	podman_conf_done
}
