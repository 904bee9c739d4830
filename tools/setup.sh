#!/usr/bin/env bash
# Installs everything kiln's build, demo and tests need on a fresh Debian 12 machine with Node 20.
# Idempotent and quick when nothing changed: safe to run before every demo and test run.
set -euo pipefail
cd "$(dirname "$0")/.."

node_major=$(node -p 'process.versions.node.split(".").map(Number).slice(0,2).join(".")')
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || { echo "kiln needs Node >= 20.19 (found $node_major): it loads ESM-only packages with require()" >&2; exit 1; }

# The tools kiln drives to build Debian images (and the tests use), from Debian's own packages;
# gpgv and gnupg verify (and the fixture builder signs) Gentoo stage3s and binary packages,
# bzip2 unpacks XPAK packages, systemd-sysusers stands in for pkg_postinst in native installs;
# uidmap's newuidmap/newgidmap map a user's subordinate ids for rootless builds (kiln as a user);
# qemu-system-x86 and ovmf (UEFI firmware: /usr/share/OVMF/OVMF_CODE_4M.fd) run `kiln vm` and the boot tests;
# openssh-client's ssh-keygen signs and checks build manifests (KILN_SIGNING_KEY, KILN_ALLOWED_SIGNERS);
# dnf, rpm, zypper and pacman install the RPM family and Arch (Debian packages them), and the test
# repositories are built with rpmbuild, createrepo_c, makepkg and repo-add, with a static busybox
# as the fixture packages' shell.
debs=(mmdebstrap bubblewrap zstd cpio xz-utils openssl util-linux gpgv gnupg bzip2 systemd uidmap qemu-system-x86 ovmf openssh-client
  dnf rpm createrepo-c zypper pacman-package-manager makepkg libarchive-tools busybox-static)
missing=()
for d in "${debs[@]}"; do dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q 'install ok installed' || missing+=("$d"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  [ "$(id -u)" = 0 ] || { echo "kiln's set-up needs root to apt-get install ${missing[*]}" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# node_modules is reinstalled when package-lock.json changed since the last install.
stamp=node_modules/.kiln-lock-stamp
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  # `npm install`, not `npm ci`: npm 11 leaves other platforms' optional binaries (@swc/core-*,
  # @nx/nx-*) out of lockfiles written with omit-lockfile-registry-resolved, and `npm ci` then
  # refuses the lockfile. install still follows the lockfile's versions.
  npm install --no-audit --no-fund --loglevel=error
  lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
  echo "$lock_sum" > "$stamp"
fi

npx tsc -b tsconfig.build.json
# npm links a workspace package's commands only when their files exist, and dist/ is built after
# the install: link the CLI's (kiln, kiln-digest; what installing @kiln/cli gives a user, and what
# the packages `kiln turbo` writes run) once it is built.
[ -e node_modules/.bin/kiln ] || npm rebuild @kiln/cli --ignore-scripts --loglevel=error >/dev/null
# Likewise @kiln/nx's kiln-ci-plan (the plan job of the CI files `nx g @kiln/nx:ci` writes).
[ -e node_modules/.bin/kiln-ci-plan ] || npm rebuild @kiln/nx --ignore-scripts --loglevel=error >/dev/null
