# Shared by scripts/test, scripts/matrix, scripts/demo and scripts/bench
# (sourced, not run).

# Installs Dovecot's IMAP server if it is missing (Debian/Ubuntu), and makes
# sure the system's own Dovecot service is not left running on the default
# ports: the tests and the demo start their own throwaway instances.
ensure_dovecot() {
    if [ -n "${DOVECOT:-}" ]; then
        return # a Dovecot of the developer's choosing (tests/support/dovecot.rs reads it too)
    fi
    if [ ! -x /usr/sbin/dovecot ] || [ ! -x /usr/lib/dovecot/imap ]; then
        local sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        echo "installing dovecot-imapd (needed by the tests and the demo)…"
        $sudo apt-get update
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd
    fi
    stop_system_dovecot
}

# Makes Cyrus IMAP available to the tests (scripts/cyrus-setup: unpacked
# beside Dovecot, never installed; idempotent and quick once done). Where
# it cannot be, says what to run and returns non-zero: the Cyrus tests then
# fail with the same advice, they are never counted as passed.
ensure_cyrus() {
    if scripts/cyrus-setup; then
        return
    fi
    cat >&2 <<'MSG'
**********************************************************************
** Cyrus IMAP could not be set up (see the error above), so the Cyrus
** tests (tests/cyrus.rs) will FAIL. Fix that, then run
**     scripts/cyrus-setup
** (it needs apt-get and root or sudo), or set IMAPMEND_CYRUS_ROOT to a
** Cyrus unpacked elsewhere; then run scripts/test again.
**********************************************************************
MSG
    return 1
}

# Makes Courier-IMAP available to the tests (scripts/courier-setup: unpacked
# beside Dovecot, never installed), as ensure_cyrus does for Cyrus: where it
# cannot be, says what to run and returns non-zero, and the Courier tests
# (tests/courier.rs) then fail with the same advice.
ensure_courier() {
    if scripts/courier-setup; then
        return
    fi
    cat >&2 <<'MSG'
**********************************************************************
** Courier-IMAP could not be set up (see the error above), so the
** Courier tests (tests/courier.rs) will FAIL. Fix that, then run
**     scripts/courier-setup
** (it needs apt-get and root or sudo), or set IMAPMEND_COURIER_ROOT to
** a Courier-IMAP unpacked elsewhere; then run scripts/test again.
**********************************************************************
MSG
    return 1
}

# The package starts (and enables) its service on install; stop it so that
# nothing answers on 143/993 by accident. Tolerates the absence of systemd.
# Only the system instance is touched (its unit, or its pid file): other
# Dovecot processes, such as the tests' own, are left alone.
stop_system_dovecot() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        $sudo systemctl stop dovecot.service dovecot.socket >/dev/null 2>&1 || true
        $sudo systemctl disable dovecot.service dovecot.socket >/dev/null 2>&1 || true
    fi
    # Without systemd, the package's init script may still have started it
    # from /etc/dovecot/dovecot.conf.
    if [ -f /run/dovecot/master.pid ]; then
        $sudo service dovecot stop >/dev/null 2>&1 ||
            $sudo kill "$(cat /run/dovecot/master.pid)" >/dev/null 2>&1 || true
    fi
}

# --- Throwaway Dovecot servers on loopback (scripts/demo, scripts/bench) ---
# Each server is a SIDE (a short name such as A or B) with everything under
# "$WORK/SIDE": config from the shared template fixtures/dovecot.conf.in,
# logs, and one home per user (mail in ~/Maildir). The caller sets WORK to a
# temp dir (mode 755) and declares `declare -A PID PORT`; call
# dovecot_accounts once before the first prepare_server.

# The accounts Dovecot runs under: as root, its own system users, and mail
# stored as `nobody` (Dovecot refuses UID 0 for mail); otherwise ourselves.
# tests/support/dovecot.rs makes the same choice.
dovecot_accounts() {
    if [ "$(id -u)" -eq 0 ]; then
        INTERNAL_USER=dovecot INTERNAL_GROUP=dovecot LOGIN_USER=dovenull
        MAIL_UID=$(id -u nobody) MAIL_GID=$(id -g nobody)
    else
        INTERNAL_USER=$(id -un) INTERNAL_GROUP=$(id -gn) LOGIN_USER=$(id -un)
        MAIL_UID=$(id -u) MAIL_GID=$(id -g)
    fi
}

free_port() {
    local p
    for p in $(shuf -i 20000-60000 -n 50); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    echo "no free port found" >&2
    return 1
}

# prepare_server SIDE [IMAP_CAPABILITY [EXTRA]]: writes SIDE's config from the
# shared template, with the settings EXTRA appended (a later setting
# overrides an earlier one), and picks its port (PORT[SIDE]). Users come
# with add_user.
prepare_server() {
    local side=$1 caps=${2:-} extra=${3:-} dir="$WORK/$1"
    mkdir -p "$dir/home" "$dir/state" "$dir/passwd.d"
    PORT[$side]=$(free_port)
    sed -e "s#@BASE_DIR@#$dir/run#" \
        -e "s#@STATE_DIR@#$dir/state#" \
        -e "s#@LOG_PATH@#$dir/dovecot.log#g" \
        -e "s#@PASSWD_DIR@#$dir/passwd.d#g" \
        -e "s#@PORT@#${PORT[$side]}#" \
        -e "s#@INTERNAL_USER@#$INTERNAL_USER#" \
        -e "s#@INTERNAL_GROUP@#$INTERNAL_GROUP#" \
        -e "s#@LOGIN_USER@#$LOGIN_USER#" \
        -e "s#@IMAP_CAPABILITY@#$caps#" \
        -e "s#@EXTRA_CONFIG@##" \
        fixtures/dovecot.conf.in >"$dir/dovecot.conf"
    if [ -n "$extra" ]; then
        printf '\n%s\n' "$extra" >>"$dir/dovecot.conf"
    fi
}

# add_user SIDE USER PASSWORD: one passwd file per user (Dovecot reads a
# file it never opened at once), home in "$WORK/SIDE/home/USER".
add_user() {
    local side=$1 user=$2 password=$3 dir="$WORK/$1"
    mkdir -p "$dir/home/$user"
    echo "$user:{PLAIN}$password:$MAIL_UID:$MAIL_GID::$dir/home/$user::" >"$dir/passwd.d/$user"
    chown -R "$MAIL_UID:$MAIL_GID" "$dir/home/$user"
}

# user_maildir SIDE USER: the user's Maildir root (INBOX; subfolders are .NAME).
user_maildir() {
    echo "$WORK/$1/home/$2/Maildir"
}

# start_server SIDE: starts `dovecot -F` and waits for its greeting. If the
# port was taken meanwhile (free_port only guesses), it moves to another.
start_server() {
    local side=$1 dir="$WORK/$1" line i attempt port
    chown -R "$MAIL_UID:$MAIL_GID" "$dir/home"
    for attempt in 1 2 3; do
        "${DOVECOT:-/usr/sbin/dovecot}" -F -c "$dir/dovecot.conf" >>"$dir/stderr.log" 2>&1 &
        PID[$side]=$!
        for i in $(seq 1 200); do
            if ! kill -0 "${PID[$side]}" 2>/dev/null; then
                break # it exited: see below
            fi
            # (the braces keep 2>/dev/null from applying to the whole script)
            if { exec 3<>"/dev/tcp/127.0.0.1/${PORT[$side]}"; } 2>/dev/null; then
                if read -r -t 2 line <&3 && [[ $line == "* OK"* ]]; then
                    exec 3<&- 3>&-
                    return
                fi
                exec 3<&- 3>&-
            fi
            sleep 0.05
        done
        kill "${PID[$side]}" 2>/dev/null || true
        wait "${PID[$side]}" 2>/dev/null || true
        unset "PID[$side]"
        grep -q "Address already in use" "$dir/stderr.log" || break
        port=$(free_port)
        sed -i "s#port = ${PORT[$side]}\$#port = $port#" "$dir/dovecot.conf"
        PORT[$side]=$port
        : >"$dir/stderr.log"
    done
    echo "Dovecot for $side did not start; see $dir/dovecot.log and $dir/stderr.log" >&2
    cat "$dir/stderr.log" "$dir/dovecot.log" >&2 || true
    exit 1
}

stop_server() {
    local side=$1
    if [ -n "${PID[$side]:-}" ]; then
        kill "${PID[$side]}" 2>/dev/null || true
        wait "${PID[$side]}" 2>/dev/null || true
        unset "PID[$side]"
    fi
}

# Stops every server started with start_server (for an EXIT trap).
stop_all_servers() {
    local side
    for side in "${!PID[@]}"; do
        stop_server "$side"
    done
}

# ensure_commands CMD:PACKAGE…: installs (apt) the packages whose command is
# missing. CMD may be a path.
ensure_commands() {
    local pair missing=()
    for pair in "$@"; do
        if ! command -v "${pair%%:*}" >/dev/null 2>&1; then
            missing+=("${pair#*:}")
        fi
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        local sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        echo "installing ${missing[*]}…"
        $sudo apt-get update
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    fi
}
