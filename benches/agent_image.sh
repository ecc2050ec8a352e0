# Shared by the Docker benchmarks: `agent_image NAME` imports a tiny agent image (static
# busybox, a few tools, a process that sleeps and exits at once on SIGTERM) as NAME.
# Sourced; needs /bin/busybox (busybox-static) and a Docker Engine.
agent_image() {
  local rootfs
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs/bin" "$rootfs/root" "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/"
  for tool in sh sleep cat ls true test mkdir echo; do ln -sf busybox "$rootfs/bin/$tool"; done
  tar -C "$rootfs" -c . | docker import --change 'CMD ["sh","-c","trap \"exit 0\" TERM; sleep 86400 & wait"]' --change 'ENV PATH=/bin' - "$1" >/dev/null
  rm -rf "$rootfs"
}
