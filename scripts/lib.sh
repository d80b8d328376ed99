# Shared by .ci/run, scripts/test and scripts/demo (sourced, not run).

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
