#!/usr/bin/env bash
# Print, or with --install add, the crontab entries that run `main.py live` every weekday at each decision time
# (run.decision_times, default 10:00) New York time.
#
#   scripts/install_cron.sh [--install] [--out DIR] [--config PATH] [--models A,B] [--python PATH]
#
# Cron runs entries in the machine's own zone and Debian's and Ubuntu's cron ignore CRON_TZ, so the entries are
# written in the machine's zone: one for each hour a decision time can fall on (two per time on a UTC machine:
# summer and winter). On any day the one that is not a trigger exits at once (`live --cron`). The systemd timer
# (scripts/install_systemd.sh) needs no such trick and is the recommended path where systemd runs.
# The entries sit in a marked block; installing again never duplicates them: the same block leaves the crontab
# unchanged, a different one replaces ours. Holidays, weekends and early closes: `main.py live` exits 0.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/schedule_options.sh"

# Quote for /bin/sh (cron's shell): plain words as they are, anything else in single quotes.
q() { if [[ "$1" =~ ^[A-Za-z0-9_./,:=@+-]+$ ]]; then printf '%s' "$1"; else printf "'%s'" "${1//\'/\'\\\'\'}"; fi; }
ARGS=""
[[ -z "$CONFIG" ]] || ARGS+=" --config $(q "$CONFIG")"
[[ -z "$MODELS" ]] || ARGS+=" --models $(q "$MODELS")"
COMMAND="cd $(q "$REPO") && $(q "$PYTHON") main.py live --cron${ARGS} --out $(q "$OUT") >> $(q "$OUT")/cron.log 2>&1"
COMMAND="${COMMAND//%/\\%}"  # cron turns a bare % into a newline

# The machine-local times the decision times fall on in New York (computed for the coming year, DST included).
TIMES="$(cd "$REPO" && "$PYTHON" -m arena.live.schedule cron ${CONFIG:+--config "$CONFIG"})" \
  || die "could not compute the entry times with $PYTHON (is the project installed? run make install)"
NY="$(cd "$REPO" && "$PYTHON" -m arena.live.schedule times ${CONFIG:+--config "$CONFIG"})"
ZONE="${TZ:-$(cat /etc/timezone 2>/dev/null || readlink /etc/localtime 2>/dev/null | sed 's#.*/zoneinfo/##' || true)}"
ZONE="${ZONE:-$(date +%Z)}"
COUNT="$(wc -l <<<"$TIMES" | tr -d ' ')"
ENTRIES="$(while read -r fields; do echo "${fields} ${COMMAND}"; done <<<"$TIMES")"
BEGIN="# >>> tradearena live (scripts/install_cron.sh) >>>"
END="# <<< tradearena live <<<"
BLOCK="${BEGIN}
# ${NY} America/New_York on weekdays, in this machine's zone (${ZONE}); on any day only the entries at a trigger run
${ENTRIES}
${END}"
HOURS="$(awk '{printf "%s%02d:%02d", (NR > 1 ? " and " : ""), $2, $1}' <<<"$TIMES")"
if [[ "$COUNT" -gt 1 ]]; then
  SAYS="${COUNT} cron entries, at ${HOURS} ${ZONE} on weekdays (${NY} New York falls on each in part of the year; one that is not a trigger that day exits at once)"
else
  SAYS="1 cron entry, at ${HOURS} ${ZONE} on weekdays (${NY} New York all year)"
fi

if [[ "$INSTALL" -eq 0 ]]; then
  echo "$BLOCK"
  echo "# ${SAYS}; add with: scripts/install_cron.sh --install (same options). Where systemd runs, prefer scripts/install_systemd.sh" >&2
  exit 0
fi

command -v crontab >/dev/null || die "crontab not found; install cron (e.g. apt-get install cron), add the lines above by hand, or use scripts/install_systemd.sh"
CURRENT="$(crontab -l 2>/dev/null || true)"
OURS="$(awk -v b="$BEGIN" -v e="$END" '$0 == b {keep = 1} keep {print} $0 == e {keep = 0}' <<<"$CURRENT")"
if [[ "$OURS" == "$BLOCK" ]]; then
  echo "already installed; crontab unchanged: ${SAYS}"
  exit 0
fi
KEPT="$(awk -v b="$BEGIN" -v e="$END" '$0 == b {skip = 1; next} $0 == e {skip = 0; next} !skip' <<<"$CURRENT")"
mkdir -p "$OUT"
{ [[ -z "$KEPT" ]] || printf '%s\n' "$KEPT"; printf '%s\n' "$BLOCK"; } | crontab -
echo "installed ${SAYS}; output appended to ${OUT}/cron.log:"
echo "$BLOCK"
