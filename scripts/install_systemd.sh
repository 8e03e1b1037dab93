#!/usr/bin/env bash
# Print, or with --install set up, a systemd user timer that runs `main.py live` every weekday at each decision time
# (run.decision_times, default 10:00) New York time, whatever the machine's zone (one OnCalendar=Mon..Fri 10:00
# America/New_York line per time). The recommended path where systemd runs; scripts/install_cron.sh is the alternative.
#
#   scripts/install_systemd.sh [--install] [--out DIR] [--config PATH] [--models A,B] [--python PATH]
#
# --install writes tradearena-live.service and tradearena-live.timer into ~/.config/systemd/user (or
# $XDG_CONFIG_HOME/systemd/user), then runs `systemctl --user daemon-reload` and `enable --now` on the timer.
# Installing again rewrites the two files (no duplicates). Keys: put APCA_API_KEY_ID=... lines (and your model
# keys) in ~/.config/tradearena/live.env, which the service reads.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/schedule_options.sh"

# systemd's command-line quoting: plain words as they are, anything else in double quotes; % is a specifier (%%).
q() {
  local v="${1//%/%%}"
  if [[ "$v" =~ ^[A-Za-z0-9_./,:=@+%-]+$ ]]; then printf '%s' "$v"; else v="${v//\\/\\\\}"; printf '"%s"' "${v//\"/\\\"}"; fi
}
ARGS=""
[[ -z "$CONFIG" ]] || ARGS+=" --config $(q "$CONFIG")"
[[ -z "$MODELS" ]] || ARGS+=" --models $(q "$MODELS")"
CALENDARS="$(cd "$REPO" && "$PYTHON" -m arena.live.schedule systemd ${CONFIG:+--config "$CONFIG"})" \
  || die "could not read the decision times with $PYTHON (is the project installed? run make install)"
ON_CALENDAR="$(sed 's/^/OnCalendar=/' <<<"$CALENDARS")"
CALENDAR="$(awk '{printf "%s%s", (NR > 1 ? "; " : ""), $0}' <<<"$CALENDARS")"
UNIT_DIR="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"

SERVICE="[Unit]
Description=TradeArena live sessions (one per enabled model, exactly once per trigger)

[Service]
Type=oneshot
WorkingDirectory=$(q "$REPO")
EnvironmentFile=-%h/.config/tradearena/live.env
ExecStart=$(q "$PYTHON") main.py live${ARGS} --out $(q "$OUT")
StandardOutput=append:${OUT//%/%%}/cron.log
StandardError=append:${OUT//%/%%}/cron.log"

TIMER="[Unit]
Description=TradeArena live trigger (weekdays, New York time)

[Timer]
${ON_CALENDAR}
Persistent=true
AccuracySec=1s

[Install]
WantedBy=timers.target"

if [[ "$INSTALL" -eq 0 ]]; then
  printf '# %s/tradearena-live.service\n%s\n\n# %s/tradearena-live.timer\n%s\n' "$UNIT_DIR" "$SERVICE" "$UNIT_DIR" "$TIMER"
  echo "# a systemd user timer, OnCalendar=${CALENDAR}; set it up with: scripts/install_systemd.sh --install (same options)" >&2
  exit 0
fi

mkdir -p "$UNIT_DIR" "$OUT"
printf '%s\n' "$SERVICE" > "${UNIT_DIR}/tradearena-live.service"
printf '%s\n' "$TIMER" > "${UNIT_DIR}/tradearena-live.timer"
echo "installed a systemd user timer: ${UNIT_DIR}/tradearena-live.timer (OnCalendar=${CALENDAR}) starting ${UNIT_DIR}/tradearena-live.service; output appended to ${OUT}/cron.log"
if command -v systemctl >/dev/null && systemctl --user daemon-reload 2>/dev/null \
    && systemctl --user enable --now tradearena-live.timer 2>/dev/null; then
  echo "enabled: systemctl --user list-timers tradearena-live.timer shows the next run; to run it while you are logged out: loginctl enable-linger ${USER:-$(id -un)}"
else
  echo "not enabled yet (no user systemd here): run systemctl --user daemon-reload && systemctl --user enable --now tradearena-live.timer"
fi
