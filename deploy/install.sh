#!/usr/bin/env bash
# Installs pi-emotion as a boot-time service on Raspberry Pi OS Bookworm or Trixie (64-bit).
# Safe to run again: it upgrades the package and keeps an existing configuration.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/.." && pwd)"
# shellcheck source=deploy/common.sh
. "$HERE/common.sh"

APT=1
START=1
VENV=1

usage() {
  cat <<USAGE
Usage: sudo deploy/install.sh [--dry-run] [--root DIR] [--no-apt] [--no-venv] [--no-start]

  --dry-run   print every action, change nothing
  --root DIR  lay the files down under DIR (or set DESTDIR); skips apt, users and systemctl
  --no-apt    do not install Debian packages (python3-picamera2, python3-systemd: Raspberry Pi OS
              packages, not all in Debian); says so when it skips them
  --no-venv   do not create the virtual environment (files only)
  --no-start  install and enable the service, but do not start it now
USAGE
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT="$2"; shift ;;
    --no-apt) APT=0 ;;
    --no-venv) VENV=0 ;;
    --no-start) START=0 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done
need_root "$@"

# The model runtime (ai-edge-litert) and current OpenCV wheels exist for 64-bit systems only.
arch="$(dpkg --print-architecture 2>/dev/null || echo unknown)"
case "$arch" in
  arm64|amd64) say "architecture $arch" ;;
  armhf|armel|i386)
    die "this is a 32-bit system ($arch): pi-emotion needs a 64-bit OS (arm64 on a Raspberry Pi 3, 4 or 5). Install 64-bit Raspberry Pi OS and run this again." ;;
  *) die "architecture '$arch' is not supported: pi-emotion runs on arm64 (64-bit Raspberry Pi OS) and amd64" ;;
esac

codename=""
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
fi
case "$codename" in
  bookworm|trixie) say "Raspberry Pi OS / Debian $codename" ;;
  *) warn "this is '${codename:-unknown}', not Bookworm or Trixie: going on, but untested here" ;;
esac

if [ "$APT" -eq 1 ]; then
  say "Debian packages: camera stack, systemd bindings, venv"
  system_act apt-get update
  system_act apt-get install -y --no-install-recommends python3-venv python3-pip python3-picamera2 python3-systemd openssl
else
  say "skipping Debian packages (--no-apt): python3-picamera2 (the camera) and python3-systemd (the watchdog) are not installed"
fi

say "service user $SERVICE_USER (groups video, render)"
if [ -n "$ROOT" ] || ! id "$SERVICE_USER" >/dev/null 2>&1; then
  system_act useradd --system --user-group --home-dir /var/lib/pi-emotion --no-create-home \
    --shell /usr/sbin/nologin "$SERVICE_USER"
fi
for group in video render; do
  if [ -n "$ROOT" ] || getent group "$group" >/dev/null; then
    system_act usermod --append --groups "$group" "$SERVICE_USER"
  fi
done

say "application in $ROOT$PREFIX"
act install -d -m 0755 "$ROOT$PREFIX"
act install -m 0644 "$SRC/README.md" "$ROOT$PREFIX/README.md"
if [ "$VENV" -eq 1 ]; then
  # --system-site-packages: picamera2 and libcamera come from apt, not PyPI.
  act python3 -m venv --system-site-packages "$ROOT$PREFIX/venv"
  # Known-good versions (NumPy 1.x on Bookworm, where apt's picamera2 stack is built against it), so
  # that running this again installs what was tested rather than whatever is newest that day.
  # [mqtt]: paho-mqtt, so that setting mqtt in the config is all Home Assistant needs.
  act "$ROOT$PREFIX/venv/bin/pip" install --quiet --upgrade --constraint "$SRC/deploy/constraints.txt" "${SRC}[mqtt]"
fi

say "configuration in $ROOT/etc/pi-emotion"
act install -d -m 0755 "$ROOT/etc/pi-emotion"
if [ -e "$ROOT/etc/pi-emotion/config.toml" ]; then
  say "keeping the existing $ROOT/etc/pi-emotion/config.toml"
else
  act install -m 0640 "$SRC/deploy/config.toml" "$ROOT/etc/pi-emotion/config.toml"
fi

# The browser view over HTTPS from the first boot: a self-signed certificate for this machine's names and
# addresses, made once and kept across upgrades (made again only when it is about to expire), unless the
# configuration names a certificate of the user's own or asks for plain HTTP.
conf="$ROOT/etc/pi-emotion/config.toml"
tls_cert=/etc/pi-emotion/tls/cert.pem
tls_key=/etc/pi-emotion/tls/key.pem
configured_cert="$(config_string stream_tls_cert "$conf")"
if [ -n "$configured_cert" ] && [ "$configured_cert" != "$tls_cert" ]; then
  say "keeping the browser view's certificate the configuration names: $configured_cert"
  fingerprint_of="$ROOT$configured_cert"
elif [ -z "$configured_cert" ] && grep -Eqs '^[[:space:]]*stream_allow_http[[:space:]]*=[[:space:]]*true' "$conf"; then
  say "no certificate: the configuration asks for plain HTTP (stream_allow_http = true)"
  fingerprint_of=""
else
  if [ -s "$ROOT$tls_key" ] && openssl x509 -in "$ROOT$tls_cert" -noout -checkend 2592000 >/dev/null 2>&1; then
    say "keeping the browser view's certificate $tls_cert"
  else
    names="$(certificate_names)"
    say "browser view certificate: self-signed, for $names"
    act install -d -m 0755 "$ROOT/etc/pi-emotion/tls"
    act openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -subj "/CN=$(uname -n)" \
      -addext "subjectAltName=$names" -addext "basicConstraints=critical,CA:FALSE" \
      -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=serverAuth" \
      -keyout "$ROOT$tls_key" -out "$ROOT$tls_cert"
    act chmod 0600 "$ROOT$tls_key"
    act chmod 0644 "$ROOT$tls_cert"
  fi
  # The service reads its key as itself; no one else can.
  system_act chown "$SERVICE_USER:$SERVICE_USER" "$ROOT$tls_key"
  set_config_string stream_tls_cert "$tls_cert" "$conf"
  set_config_string stream_tls_key "$tls_key" "$conf"
  fingerprint_of="$ROOT$tls_cert"
fi
if [ -n "$fingerprint_of" ] && [ -r "$fingerprint_of" ]; then
  fingerprint="$(openssl x509 -in "$fingerprint_of" -noout -fingerprint -sha256 | cut -d= -f2)"
fi
# The service reads its config through its group; other users cannot read a password in it.
system_act chown root:"$SERVICE_USER" "$ROOT/etc/pi-emotion/config.toml"
env_file="$ROOT/etc/pi-emotion/environment"
if [ ! -e "$env_file" ]; then
  act install -m 0600 /dev/null "$env_file"
fi
# Never stream faces to the network without a password: make one unless the user has set one.
if grep -Eqs '^[[:space:]]*PI_EMOTION_STREAM_PASSWORD=[^[:space:]]' "$env_file" ||
   grep -Eqs '^[[:space:]]*stream_password[[:space:]]*=[[:space:]]*"[^"]+"' "$ROOT/etc/pi-emotion/config.toml"; then
  say "keeping the stream password already set"
else
  say "stream password: generating a random one into /etc/pi-emotion/environment (mode 0600)"
  add_password "$env_file"
  password_made=1
fi

say "systemd unit"
act install -d -m 0755 "$ROOT/etc/systemd/system"
act install -m 0644 "$SRC/systemd/pi-emotion.service" "$ROOT/etc/systemd/system/pi-emotion.service"
system_act systemctl daemon-reload
if [ "$START" -eq 1 ]; then
  system_act systemctl enable --now pi-emotion.service
else
  system_act systemctl enable pi-emotion.service
fi

say "done. Logs: journalctl -u pi-emotion -f   Config: /etc/pi-emotion/config.toml"
if [ -n "${fingerprint:-}" ]; then
  say "the browser view's certificate has the SHA-256 fingerprint (check it in the browser before trusting it):"
  printf '    %s\n' "$fingerprint"
fi
if [ "${password_made:-0}" -eq 1 ]; then
  say "the browser view's password (any user name) is in /etc/pi-emotion/environment; read it with:"
  printf '    sudo cat /etc/pi-emotion/environment\n'
fi
