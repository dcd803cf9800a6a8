#!/usr/bin/env bash
# berth's main job end to end on a fresh Debian 12 machine, with no registry: install what berth
# needs, build it, build a small base image locally, import it, and show that file capabilities,
# setuid bits, owners and xattrs survive import -> save -> load -> unpack; then ask `berth explain`
# what a process would get.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
pkgs=(runc uidmap busybox-static attr libcap2-bin util-linux)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run -s build

work=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
export BERTH_ROOT="$work/store"
berth() { node dist/src/cli/main.js "$@"; }

echo "== build a busybox rootfs with a file-capability ping, a setuid file and a user xattr"
$SUDO node scripts/fixtures.mjs busybox "$work/rootfs" >/dev/null
getcap "$work/rootfs/usr/bin/ping"

echo "== berth import DIR demo:1"
$SUDO env BERTH_ROOT="$BERTH_ROOT" node dist/src/cli/main.js import "$work/rootfs" demo:1 --change 'USER foo' --change 'CMD ["/bin/sh"]'
$SUDO env BERTH_ROOT="$BERTH_ROOT" node dist/src/cli/main.js images

echo "== berth save -> berth load (a second store) -> berth unpack"
$SUDO env BERTH_ROOT="$BERTH_ROOT" node dist/src/cli/main.js save demo:1 -o "$work/demo.tar"
$SUDO env BERTH_ROOT="$work/store2" node dist/src/cli/main.js load -i "$work/demo.tar"
$SUDO env BERTH_ROOT="$work/store2" node dist/src/cli/main.js unpack demo:1 "$work/out"

echo "== after the round trip"
getcap "$work/out/usr/bin/ping"
stat -c '%A %u:%g %n' "$work/out/usr/bin/su-test" "$work/out/home/foo"
getfattr --absolute-names -n user.berth-test -e hex "$work/out/etc/passwd"

echo "== metadata of every path, before and after (must be identical)"
snap() { (cd "$1" && find . -printf '%p %y %m %U %G %s %l\n' | LC_ALL=C sort && getfattr -R -P -d -m - -e hex . 2>/dev/null | grep -v '^$' | LC_ALL=C sort); }
if diff <(snap "$work/rootfs") <(snap "$work/out") >/dev/null; then echo "identical"; else echo "DIFFERENT"; diff <(snap "$work/rootfs") <(snap "$work/out") | head; exit 1; fi

echo "== berth explain demo:1 (-u foo), and with --cap-drop NET_RAW running ping"
$SUDO env BERTH_ROOT="$work/store2" node dist/src/cli/main.js explain demo:1 id || true
$SUDO env BERTH_ROOT="$work/store2" node dist/src/cli/main.js explain --cap-drop NET_RAW demo:1 /usr/bin/ping -c1 127.0.0.1 || true

echo "== berth build: after USER foo, RUN id keeps foo's supplementary group (bar)"
printf 'FROM demo:1\nUSER foo\nRUN id\nUSER root\nRUN cp /usr/bin/ping /usr/bin/ping2 && chown 10000:10000 /usr/bin/ping2 && ls -ln /usr/bin/ping2\n' > "$work/Dockerfile"
$SUDO env BERTH_ROOT="$BERTH_ROOT" node dist/src/cli/main.js build --progress plain -t built:1 "$work"
echo "== berth run -u foo built:1 id"
$SUDO env BERTH_ROOT="$BERTH_ROOT" node dist/src/cli/main.js run --rm -u foo built:1 id
