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

# The string value of a key in a flat TOML file (the last one wins); empty when the key is absent.
config_string() {
  if [ -r "$2" ]; then
    sed -nE "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"([^\"]*)\".*/\\1/p" "$2" | tail -n 1
  fi
}

# Set a string key in a flat TOML file: its line replaced, or a line added.
set_config_string() {
  local key="$1" value="$2" file="$3"
  [ "$(config_string "$key" "$file")" != "$value" ] || return 0
  printf '    %s = "%s" in %s\n' "$key" "$value" "$file"
  [ "$DRY_RUN" -eq 0 ] || return 0
  if grep -Eq "^[[:space:]]*${key}[[:space:]]*=" "$file"; then
    sed -i -E "s|^[[:space:]]*${key}[[:space:]]*=.*\$|$key = \"$value\"|" "$file"
  else
    if [ -s "$file" ] && [ -n "$(tail -c 1 "$file")" ]; then printf '\n' >>"$file"; fi
    printf '%s = "%s"\n' "$key" "$value" >>"$file"
  fi
}

# subjectAltName for this machine: its host name, its mDNS name, localhost, and its addresses now.
certificate_names() {
  local host names address
  host="$(uname -n)"
  names="DNS:$host,DNS:$host.local,DNS:localhost,IP:127.0.0.1,IP:::1"
  for address in $(hostname -I 2>/dev/null || true); do
    names="$names,IP:$address"
  done
  printf '%s' "$names"
}
