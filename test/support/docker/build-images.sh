#!/usr/bin/env bash
# Builds the docker executor tests' images offline (no registry is reachable in CI): root file
# systems made from Debian's busybox-static and the host's bash, loaded with `docker import`.
#
#   runner-test/sh:1      busybox only: sh, no bash (GitLab's shell detection falls back to sh)
#   runner-test/bash:1    busybox + bash and the libraries it links
#   runner-test/kv:1      a database-like service: a line-protocol key-value store on port 6379
#                         (SET k v / GET k / PING), EXPOSE 6379, started by its CMD
#   runner-test/mute:1    a service that never opens its port: EXPOSE 5432, CMD sleeps
#
# Usage: DOCKER_HOST=unix:///path/docker.sock bash test/support/docker/build-images.sh
set -euo pipefail

work=$(mktemp -d)
chmod 755 "$work" # apt-get download runs as _apt where it can
trap 'rm -rf "$work"' EXIT

busybox=$(command -v busybox-static-for-tests 2>/dev/null || true)
if [ -z "$busybox" ]; then
  (cd "$work" && apt-get download busybox-static >/dev/null 2>&1)
  dpkg-deb -x "$work"/busybox-static_*.deb "$work/deb"
  busybox="$work/deb/bin/busybox"
fi

# A root file system with busybox and its applets as links, /tmp, /etc/passwd with root and nobody.
base_root() {
  local root=$1
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,tmp,etc,root,proc,sys,dev}
  chmod 1777 "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  "$root/bin/busybox" --list-full | while read -r applet; do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
}

import() {
  local root=$1 tag=$2
  shift 2
  tar -C "$root" -c . | docker import "$@" - "$tag" >/dev/null
  echo "built $tag"
}

base_root "$work/sh"
import "$work/sh" runner-test/sh:1 --change 'CMD ["sh"]'

base_root "$work/bash"
rm -f "$work/bash/bin/bash"
cp /bin/bash "$work/bash/bin/bash"
for lib in $(ldd /bin/bash | grep -o '/[^ ]*'); do
  mkdir -p "$work/bash$(dirname "$lib")"
  cp -L "$lib" "$work/bash$lib"
done
import "$work/bash" runner-test/bash:1 --change 'CMD ["bash"]'

base_root "$work/kv"
cat > "$work/kv/bin/kv-session" <<'SH'
#!/bin/sh
# One client connection: line commands against files in /data.
while IFS=' ' read -r command key value; do
  case "$command" in
    PING) echo PONG ;;
    SET) printf '%s' "$value" > "/data/$key" && echo OK ;;
    GET) if [ -f "/data/$key" ]; then cat "/data/$key"; echo; else echo NIL; fi ;;
    QUIT) exit 0 ;;
    *) echo "ERR unknown command $command" ;;
  esac
done
SH
chmod +x "$work/kv/bin/kv-session"
mkdir -p "$work/kv/data"
import "$work/kv" runner-test/kv:1 --change 'EXPOSE 6379' --change 'CMD ["nc", "-ll", "-p", "6379", "-e", "/bin/kv-session"]'

base_root "$work/mute"
import "$work/mute" runner-test/mute:1 --change 'EXPOSE 5432' --change 'CMD ["sleep", "3600"]'
