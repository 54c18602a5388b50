# shellcheck shell=bash
# Shared by install.sh and uninstall.sh: options, messages, and actions that --dry-run only prints.

# shellcheck disable=SC2034  # used by the scripts that source this file
PREFIX=/opt/pi-emotion
# shellcheck disable=SC2034
SERVICE_USER=pi-emotion
ROOT="${DESTDIR:-}"
DRY_RUN=0

say() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Print an action; run it unless this is a dry run.
act() {
  printf '    %s\n' "$*"
  if [ "$DRY_RUN" -eq 0 ]; then
    "$@"
  fi
}

# System-wide actions (apt, users, systemctl) make no sense inside a staging root: skip them there.
system_act() {
  if [ -n "$ROOT" ]; then
    printf '    (skipped in --root %s) %s\n' "$ROOT" "$*"
  else
    act "$@"
  fi
}

need_root() {
  if [ -z "$ROOT" ] && [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo $0 $*), or try --dry-run first"
  fi
}

# Append a random PI_EMOTION_STREAM_PASSWORD to the environment file; the password itself is never printed.
add_password() {
  printf '    (random) PI_EMOTION_STREAM_PASSWORD=... >> %s\n' "$1"
  if [ "$DRY_RUN" -eq 0 ]; then
    local password
    password="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
    (umask 077 && printf 'PI_EMOTION_STREAM_PASSWORD=%s\n' "$password" >>"$1")
    chmod 0600 "$1"
  fi
}
