#!/usr/bin/env bash
# Removes the pi-emotion service and application. Keeps /etc/pi-emotion unless --purge.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/common.sh
. "$HERE/common.sh"

PURGE=0

usage() {
  cat <<USAGE
Usage: sudo deploy/uninstall.sh [--dry-run] [--root DIR] [--purge]

  --dry-run   print every action, change nothing
  --root DIR  remove from a staging root instead of this system (or set DESTDIR)
  --purge     also remove the configuration, the state directory and the service user
USAGE
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT="$2"; shift ;;
    --purge) PURGE=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done
need_root "$@"

# Run a command with the variables of an environment file (the service's secrets) exported.
with_environment() {
  local file="$1"
  shift
  (
    set -a
    # shellcheck source=/dev/null
    if [ -r "$file" ]; then . "$file"; fi
    set +a
    exec "$@"
  )
}

say "stopping the service"
system_act systemctl disable --now pi-emotion.service
act rm -f "$ROOT/etc/systemd/system/pi-emotion.service"
system_act systemctl daemon-reload

# Home Assistant keeps a device until the broker is told it is gone: tell it while the application is here.
CONF="$ROOT/etc/pi-emotion/config.toml"
APP="$ROOT$PREFIX/venv/bin/pi-emotion"
if [ -x "$APP" ] && [ -r "$CONF" ] && grep -Eq '^[[:space:]]*mqtt[[:space:]]*=[[:space:]]*"[^"]+"' "$CONF"; then
  say "removing this appliance's device from Home Assistant (MQTT)"
  act with_environment "$ROOT/etc/pi-emotion/environment" "$APP" mqtt-forget --config "$CONF" ||
    warn "the MQTT broker could not be told; delete the device in Home Assistant by hand"
fi

say "removing $ROOT$PREFIX"
act rm -rf "$ROOT$PREFIX"

if [ "$PURGE" -eq 1 ]; then
  say "purging configuration, state and user"
  act rm -rf "$ROOT/etc/pi-emotion" "$ROOT/var/lib/pi-emotion"
  system_act userdel "$SERVICE_USER"
else
  say "keeping $ROOT/etc/pi-emotion (use --purge to remove it)"
fi
say "done"
