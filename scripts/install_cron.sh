#!/usr/bin/env bash
# Print, or with --install add, the crontab entry that runs `main.py live` every weekday at 10:00 New York time.
#
#   scripts/install_cron.sh [--install] [--out DIR] [--config PATH] [--models A,B] [--python PATH]
#
# The entry sits in a marked block at the end of the crontab (CRON_TZ applies to the lines after it). Installing
# again never duplicates it: an identical entry leaves the crontab unchanged, a different one (other paths)
# replaces our block. Holidays, weekends and early closes are handled by `main.py live` itself (it exits 0).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${REPO}/.venv/bin/python"
[[ -x "$PYTHON" ]] || PYTHON="$(command -v python3 || echo python3)"
OUT="${REPO}/runs/live"
CONFIG=""
MODELS=""
INSTALL=0

usage() { sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "install_cron.sh: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --install) INSTALL=1; shift ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a folder"; OUT="$2"; shift 2 ;;
    --config) [[ $# -ge 2 ]] || die "--config needs a file"; CONFIG="$2"; shift 2 ;;
    --models) [[ $# -ge 2 ]] || die "--models needs signatures, e.g. gpt-4o-mini,baseline-momentum"; MODELS="$2"; shift 2 ;;
    --python) [[ $# -ge 2 ]] || die "--python needs an interpreter path"; PYTHON="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

absolute() { [[ "$1" = /* ]] && echo "$1" || echo "$(pwd)/$1"; }
OUT="$(absolute "$OUT")"
[[ -z "$CONFIG" ]] || { [[ -f "$CONFIG" ]] || die "config file '$CONFIG' not found"; CONFIG="$(absolute "$CONFIG")"; }

# Quote for /bin/sh (cron's shell): plain words as they are, anything else in single quotes.
q() { if [[ "$1" =~ ^[A-Za-z0-9_./,:=@+-]+$ ]]; then printf '%s' "$1"; else printf "'%s'" "${1//\'/\'\\\'\'}"; fi; }
ARGS=""
[[ -z "$CONFIG" ]] || ARGS+=" --config $(q "$CONFIG")"
[[ -z "$MODELS" ]] || ARGS+=" --models $(q "$MODELS")"
COMMAND="cd $(q "$REPO") && $(q "$PYTHON") main.py live${ARGS} --out $(q "$OUT") >> $(q "$OUT")/cron.log 2>&1"
COMMAND="${COMMAND//%/\\%}"  # cron turns a bare % into a newline
ENTRY="0 10 * * 1-5 ${COMMAND}"
BEGIN="# >>> tradearena live (scripts/install_cron.sh) >>>"
END="# <<< tradearena live <<<"
BLOCK="${BEGIN}
CRON_TZ=America/New_York
${ENTRY}
${END}"

if [[ "$INSTALL" -eq 0 ]]; then
  echo "$BLOCK"
  echo "# add it with: scripts/install_cron.sh --install (same options)" >&2
  exit 0
fi

command -v crontab >/dev/null || die "crontab not found; install cron (e.g. apt-get install cron) or add the lines above by hand"
CURRENT="$(crontab -l 2>/dev/null || true)"
if grep -qxF -- "$ENTRY" <<<"$CURRENT"; then
  echo "already installed; crontab unchanged:"
  echo "$ENTRY"
  exit 0
fi
KEPT="$(awk -v b="$BEGIN" -v e="$END" '$0 == b {skip = 1; next} $0 == e {skip = 0; next} !skip' <<<"$CURRENT")"
mkdir -p "$OUT"
{ [[ -z "$KEPT" ]] || printf '%s\n' "$KEPT"; printf '%s\n' "$BLOCK"; } | crontab -
echo "installed (weekdays 10:00 America/New_York; output appended to ${OUT}/cron.log):"
echo "$BLOCK"
