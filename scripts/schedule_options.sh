# Options shared by scripts/install_cron.sh and scripts/install_systemd.sh (sourced, not run): defaults, parsing,
# absolute paths. Sets REPO, PYTHON, OUT, CONFIG, MODELS, INSTALL and defines die; the sourcing script's header
# comment (lines 2-12) is its --help.
SCRIPT="${BASH_SOURCE[1]}"
REPO="$(cd "$(dirname "$SCRIPT")/.." && pwd)"
PYTHON="${REPO}/.venv/bin/python"
[[ -x "$PYTHON" ]] || PYTHON="$(command -v python3 || echo python3)"
OUT="${REPO}/runs/live"
CONFIG=""
MODELS=""
INSTALL=0

usage() { sed -n '2,12p' "$SCRIPT" | sed 's/^# \{0,1\}//'; }
die() { echo "$(basename "$SCRIPT"): $*" >&2; exit 2; }

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
