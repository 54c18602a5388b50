#!/usr/bin/env bash
# Proves the appliance on arm64, the architecture it is for, on an x86 machine under emulation: makes Debian
# Bookworm (Python 3.11) and Trixie (Python 3.13) arm64 roots once (cached), runs the installer's own steps
# staged in each, runs the bundled sample through the installed appliance there, and compares its events with
# a run of the same on this machine. Speed under emulation says nothing about a Pi; only the results count.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/.." && pwd)"
# shellcheck source=deploy/common.sh
. "$HERE/common.sh"

SUITES="bookworm trixie"
CACHE="${PI_EMOTION_ARM64_CACHE:-$SRC/.cache/arm64}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
X86_PYTHON="${PYTHON:-$SRC/.venv/bin/python}"
FRAMES=60
IF_POSSIBLE=0
# Packages the appliance and its installer need beyond a minimal Debian: Python with venv, the libraries
# OpenCV loads (GLib is libglib2.0-0t64 from Trixie on, after Debian's 64-bit time transition), and openssl
# for the browser view's certificate.
include_for() {
  case "$1" in
    bookworm) echo "python3,python3-venv,libgl1,libglib2.0-0,openssl" ;;
    *) echo "python3,python3-venv,libgl1,libglib2.0-0t64,openssl" ;;
  esac
}

usage() {
  cat <<USAGE
Usage: sudo deploy/check-arm64.sh [--only bookworm|trixie] [--x86-python PY] [--frames N] [--if-possible]

  --only SUITE      check one Debian release only (default: bookworm and trixie)
  --x86-python PY   Python with pi-emotion's dependencies for the run on this machine
                    (default: \$PYTHON or .venv/bin/python)
  --frames N        frames of the bundled sample to run on both (default: $FRAMES)
  --if-possible     where this machine cannot run arm64 programs (no root, binfmt_misc not mountable),
                    say so in one line and exit 0 instead of failing

Roots are kept in $CACHE (or \$PI_EMOTION_ARM64_CACHE); delete it to make them again.
Debian mirror: \$DEBIAN_MIRROR (default $MIRROR).
USAGE
}

usage_error() { usage >&2; printf 'error: %s\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --only) [ $# -ge 2 ] || usage_error "--only needs bookworm or trixie"
            case "$2" in bookworm|trixie) SUITES="$2" ;; *) usage_error "--only: '$2' is not bookworm or trixie" ;; esac
            shift ;;
    --x86-python) [ $# -ge 2 ] || usage_error "--x86-python needs a path"; X86_PYTHON="$2"; shift ;;
    --frames) case "${2:-}" in ''|*[!0-9]*|0) usage_error "--frames needs a positive number" ;; esac; FRAMES="$2"; shift ;;
    --if-possible) IF_POSSIBLE=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
  shift
done

# This machine cannot run the check at all: fail, or with --if-possible say why and succeed.
unavailable() {
  if [ "$IF_POSSIBLE" -eq 1 ]; then
    printf 'arm64 check not run: %s\n' "$*"
    exit 0
  fi
  die "arm64 check cannot run here: $*"
}

# Lets the kernel hand arm64 programs to qemu, which is what makes a foreign root usable with chroot.
enable_emulation() {
  [ "$(id -u)" -eq 0 ] || unavailable "it needs root (debootstrap, chroot, binfmt_misc); run it with sudo"
  if [ ! -e /proc/sys/fs/binfmt_misc/register ] &&
     ! mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null; then
    unavailable "binfmt_misc cannot be mounted (an unprivileged container?), so arm64 programs cannot run"
  fi
  if ! command -v debootstrap >/dev/null || ! command -v update-binfmts >/dev/null ||
     [ ! -e /usr/bin/qemu-aarch64-static ]; then
    command -v apt-get >/dev/null || unavailable "debootstrap, qemu-user-static and binfmt-support are missing, and there is no apt-get"
    say "installing debootstrap, qemu-user-static, binfmt-support"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      debootstrap qemu-user-static binfmt-support >/dev/null
  fi
  update-binfmts --enable qemu-aarch64 2>/dev/null || true
  grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null ||
    unavailable "the kernel did not accept qemu-aarch64 in binfmt_misc"
}

# Everything mounted at or under $1, deepest first.
unmount_under() {
  local target
  awk -v root="$1" '$2 == root || index($2, root "/") == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r target; do umount -l "$target"; done
}

# A minimal Debian arm64 root for suite $1 in $2, made once. A failed download is tried once more, from scratch.
make_root() {
  local suite="$1" root="$2" attempt
  if [ -e "$root/.complete" ]; then
    say "$suite: arm64 root cached in $root"
    return
  fi
  for attempt in 1 2; do
    unmount_under "$root"
    rm -rf "$root"
    say "$suite: making an arm64 root in $root (debootstrap, several minutes)"
    if debootstrap --arch=arm64 --variant=minbase --include="$(include_for "$suite")" "$suite" "$root" "$MIRROR" \
         >"$CACHE/$suite.debootstrap.log" 2>&1; then
      touch "$root/.complete"
      return
    fi
    tail -n 5 "$CACHE/$suite.debootstrap.log" >&2
    [ "$attempt" -eq 1 ] && warn "$suite: debootstrap failed (log: $CACHE/$suite.debootstrap.log); trying once more"
  done
  # A mirror out of reach says nothing about the appliance: with --if-possible that is "not run", not a failure.
  unavailable "$suite: debootstrap failed twice; see $CACHE/$suite.debootstrap.log (network? mirror $MIRROR?)"
}

# Runs a command inside the root with a clean environment; the network settings pip needs pass through.
in_root() {
  local root="$1" name
  shift
  local env_args=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
                  PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1)
  for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_DEFAULT_TIMEOUT HTTP_PROXY HTTPS_PROXY NO_PROXY \
              http_proxy https_proxy no_proxy; do
    if [ -n "${!name:-}" ]; then env_args+=("$name=${!name}"); fi
  done
  chroot "$root" /usr/bin/env -i "${env_args[@]}" "$@"
}

# The appliance on the bundled sample, defaults only (an empty config), writing events to $1.
APPLIANCE_ARGS=(--config /dev/null --source tests/data/sample.mp4 --max-frames "$FRAMES" --log-level warning)

check_suite() {
  local suite="$1" root="$CACHE/$1" t0
  t0=$SECONDS
  make_root "$suite" "$root"
  local t_root=$((SECONDS - t0))
  # A root cached before a package joined the list gets it now.
  local packages
  packages="$(include_for "$suite" | tr ',' ' ')"
  mount -t proc proc "$root/proc"
  mount --bind /dev "$root/dev"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # shellcheck disable=SC2086  # a list of package names
  if ! in_root "$root" dpkg -s $packages >/dev/null 2>&1; then
    say "$suite: adding $packages to the cached root"
    in_root "$root" apt-get update -qq
    # shellcheck disable=SC2086
    in_root "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null
  fi

  say "$suite: the checkout into /src, the installer staged into /stage"
  rm -rf "$root/src" "$root/stage" "$root/out"
  mkdir -p "$root/src" "$root/stage" "$root/out" "$root/etc/ssl/certs"
  (cd "$SRC" && git ls-files -z --cached --others --exclude-standard | tar --null --no-recursion -T - -cf -) |
    tar -xf - -C "$root/src"
  # This machine's certificate authorities, which pip inside needs to reach the registry. Not /sys: with this
  # machine's processor list there, the model runtime crashed under emulation on Trixie.
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"

  t0=$SECONDS
  # The installer's own steps: architecture and release checks, venv, pinned packages, config, password.
  # --no-apt: python3-picamera2 and python3-systemd are Raspberry Pi OS packages, not all in Debian.
  in_root "$root" bash /src/deploy/install.sh --root /stage --no-apt --no-start
  local t_install=$((SECONDS - t0))
  in_root "$root" /stage/opt/pi-emotion/venv/bin/python -c \
    'import sys, numpy, cv2; from ai_edge_litert import interpreter; print("    python", sys.version.split()[0], "numpy", numpy.__version__, "opencv", cv2.__version__)'

  t0=$SECONDS
  say "$suite: $FRAMES frames of the sample through the appliance under emulation"
  in_root "$root" sh -c 'cd /src && exec "$@"' sh /stage/opt/pi-emotion/venv/bin/pi-emotion \
    "${APPLIANCE_ARGS[@]}" --events /out/events.jsonl
  local t_run=$((SECONDS - t0))
  unmount_under "$root"

  say "$suite: compared with this machine's run"
  "$X86_PYTHON" -m pi_emotion.bench.compare_events "$CACHE/x86.jsonl" "$root/out/events.jsonl"
  say "$suite: passed (root ${t_root} s, install ${t_install} s, run ${t_run} s)"
}

enable_emulation
[ -x "$X86_PYTHON" ] || die "no Python for the run on this machine at $X86_PYTHON: make install, or pass --x86-python"
mkdir -p "$CACHE"
unmount_all() {
  local suite
  for suite in $SUITES; do unmount_under "$CACHE/$suite"; done
}
trap unmount_all EXIT

say "x86: $FRAMES frames of the sample through the appliance"
(cd "$SRC" && "$X86_PYTHON" -m pi_emotion "${APPLIANCE_ARGS[@]}" --events "$CACHE/x86.jsonl")
for suite in $SUITES; do
  check_suite "$suite"
done
say "arm64 check passed: $SUITES"
