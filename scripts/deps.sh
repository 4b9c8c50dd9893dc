#!/usr/bin/env bash
# Installs (as root, with apt) whatever skyfs needs to build and test that is
# missing. Shared by demo.sh and test.sh; safe to run again.
set -euo pipefail

packages=(build-essential pkg-config meson ninja-build libfuse3-dev fuse3
          libjansson-dev zlib1g-dev libcmocka-dev python3 tar gzip procps
          libssh2-1-dev libssl-dev openssh-client openssh-server
          libcurl4-openssl-dev libxml2-dev
          clang libclang-rt-14-dev    # scripts/fuzz.sh: clang 14 and its libFuzzer
          slurmctld slurmd slurm-client slurmrestd munge    # the slurm provider's tests
          # the container provider and its tests: podman, and runc by name (podman
          # depends on crun | runc and apt picks crun, which fails on hybrid
          # cgroups); slirp4netns (each node's network) and uidmap are only
          # podman's Recommends
          podman runc slirp4netns uidmap
          make parallel)     # the workflow examples' tests (examples/)
# without their Recommends: Debian's snakemake recommends ~200 more packages
# (GDAL, ImageMagick, TeX fonts) that would add minutes to every fresh CI run
lean=(snakemake      # examples/snakemake and its test
      chromium       # timeline.svg is checked in a real browser (headless)
      systemd)       # systemd-analyze verifies scripts/skyfs.service

updated=
# install_missing [apt-get options...] -- packages...
install_missing() {
	local opts=() missing=() p
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "skyfs: missing packages: ${missing[*]} (run as root or install them)" >&2
		exit 1
	fi
	echo "skyfs: installing ${missing[*]}" >&2
	[ -n "$updated" ] || { apt-get update -qq; updated=1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${opts[@]}" "${missing[@]}" >/dev/null
}
install_missing -- "${packages[@]}"
install_missing --no-install-recommends -- "${lean[@]}"
# FUSE needs its device node; a fresh container may lack it
[ -e /dev/fuse ] || { echo "skyfs: /dev/fuse is missing (load the fuse module)" >&2; exit 1; }
