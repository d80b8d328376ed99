# shellcheck shell=bash
# Sourced by `scripts/bench --latency MS[,MS…]` (issue 19): the peer
# comparison through a proxy that delays each direction MS/2
# (scripts/delay-proxy), for each MS given (0 = no proxy), on 3,000
# messages in 6 mailboxes. Each tool syncs A to its own fresh user on B:
# first sync, no-op rerun (median of 3), then one change on A (12 flag
# changes, 6 new, 2 expunged, in two mailboxes) and each tool's
# incremental run. The raw limit (examples/bench_mail.rs raw) goes through
# the same proxies. Then imapmend's first sync and no-op again over
# STARTTLS and over implicit TLS (a self-signed certificate for
# 127.0.0.1, trusted with --a-ca-file), each to its own fresh user: what
# the handshakes add, beside the plain rows. Uses the functions
# scripts/bench defines.

LAT_PER=${LAT_PER:-500} # messages in each of the 6 mailboxes
add_user A lat "$BENCH_PASSWORD"
say "Seeding 6 mailboxes of $LAT_PER messages as Maildir files…"
SEED_INFO=$("$HELPER" seed-folders "$(user_maildir A lat)" 6 "$LAT_PER")
MB=$(echo "$SEED_INFO" | sed 's/.*bytes=//' | awk '{ printf "%.1f", $1 / 1e6 }')
LAT_N=$((6 * LAT_PER))
MSS=${LATENCY//,/ }
for ms in $MSS; do
    for u in raw mend interimap mbsync starttls tls; do add_user B "$u$ms" "$BENCH_PASSWORD"; done
done
# TLS on both servers: STARTTLS on the plain port, implicit TLS on IMAPS.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$WORK/tls.key" -out "$WORK/tls.pem" 2>/dev/null
chmod 644 "$WORK/tls.key"
declare -A IMAPS
for side in A B; do
    IMAPS[$side]=$(free_port)
    printf '%s\n' "ssl = yes" "ssl_cert = <$WORK/tls.pem" "ssl_key = <$WORK/tls.key" \
        "service imap-login {" "  inet_listener imaps {" "    port = ${IMAPS[$side]}" \
        "    ssl = yes" "  }" "}" >>"$WORK/$side/dovecot.conf"
done
start_server A
start_server B
"$HELPER" warm "127.0.0.1:${PORT[A]}" lat >/dev/null

declare -A PROXY_PID
# proxy SIDE MS [KEY TARGET_PORT]: a delaying proxy in front of SIDE's
# plain port (or TARGET_PORT); its port in VIA[SIDE] (or VIA[KEY]).
declare -A VIA
proxy() {
    local side=$1 ms=$2 key=${3:-$1} target=${4:-${PORT[$1]}} port
    if [ "$ms" = 0 ]; then
        VIA[$key]=$target
        return
    fi
    port=$(free_port)
    "$ROOT/scripts/delay-proxy" "$port" "127.0.0.1:$target" \
        "$(awk "BEGIN { print $ms / 2 }")" >"$WORK/proxy.$key" 2>&1 &
    PROXY_PID[$key]=$!
    for _ in $(seq 50); do grep -qs ready "$WORK/proxy.$key" && break; sleep 0.1; done
    VIA[$key]=$port
}
stop_proxies() {
    local p
    for p in "${PROXY_PID[@]}"; do kill "$p" 2>/dev/null || true; done
    PROXY_PID=()
}
trap 'stop_proxies; cleanup' EXIT

lat_mend_cmd() { # MS
    M=("$BIN" sync
        --a "imap://lat@127.0.0.1:${VIA[A]}" --a-tls none
        --b "imap://mend$1@127.0.0.1:${VIA[B]}" --b-tls none
        --state "$WORK/lat$1.sqlite" --quiet)
}
interimap_config() { # MS
    interimap_config_in "$WORK/interimap$1" "${VIA[A]}" lat "${VIA[B]}" "interimap$1"
}
mbsync_config() { # MS
    mkdir -p "$WORK/mbsync$1/state"
    cat >"$WORK/mbsync$1/config" <<EOF
IMAPAccount a
Host 127.0.0.1
Port ${VIA[A]}
User lat
Pass $BENCH_PASSWORD
SSLType None
AuthMechs LOGIN

IMAPStore a
Account a

IMAPAccount b
Host 127.0.0.1
Port ${VIA[B]}
User mbsync$1
Pass $BENCH_PASSWORD
SSLType None
AuthMechs LOGIN

IMAPStore b
Account b

Channel bench
Far :a:
Near :b:
Patterns *
Create Near
Sync All
SyncState $WORK/mbsync$1/state/
EOF
    chmod 600 "$WORK/mbsync$1/config"
}

for ms in $MSS; do
    say "latency $ms ms: raw limit, imapmend, interimap, mbsync — first sync and no-op"
    proxy A "$ms"
    proxy B "$ms"
    # A as it is now (an earlier latency's change is in it).
    holds=$("$HELPER" count "127.0.0.1:${PORT[A]}" lat | sed 's/messages=//')
    timed "raw.$ms" "$HELPER" raw "127.0.0.1:${VIA[A]}" lat "127.0.0.1:${VIA[B]}" "raw$ms"
    lat_mend_cmd "$ms"
    timed "mend.first.$ms" "${M[@]}"
    expect_count B "mend$ms" "$holds"
    noop_cmd() { lat_mend_cmd "$ms"; }
    median3 "mend.noop.$ms" noop_cmd
    if [ "$PEERS" = 1 ]; then
        interimap_config "$ms"
        timed "interimap.first.$ms" interimap --quiet --config="$WORK/interimap$ms/config"
        interimap_cmd() { M=(interimap --quiet --config="$WORK/interimap$ms/config"); }
        median3 "interimap.noop.$ms" interimap_cmd
        mbsync_config "$ms"
        timed "mbsync.first.$ms" mbsync -q -c "$WORK/mbsync$ms/config" -a
        mbsync_cmd() { M=(mbsync -q -c "$WORK/mbsync$ms/config" -a); }
        median3 "mbsync.noop.$ms" mbsync_cmd
    fi
    say "latency $ms ms: one change on A (12 flags, 6 new, 2 expunged), then each tool's incremental run"
    "$HELPER" spread "127.0.0.1:${PORT[A]}" lat 12 6 2 >/dev/null
    lat_mend_cmd "$ms"
    timed "mend.inc.$ms" "${M[@]}"
    expect_count B "mend$ms" $((holds + 4))
    if [ "$PEERS" = 1 ]; then
        timed "interimap.inc.$ms" interimap --quiet --config="$WORK/interimap$ms/config"
        timed "mbsync.inc.$ms" mbsync -q -c "$WORK/mbsync$ms/config" -a
    fi
    say "latency $ms ms: imapmend's first sync and no-op over STARTTLS and over TLS"
    proxy A "$ms" A.tls "${IMAPS[A]}"
    proxy B "$ms" B.tls "${IMAPS[B]}"
    for mode in starttls tls; do
        tls_cmd() { # the run over $mode, towards B's user $mode$ms
            local a=imap://lat@127.0.0.1:${VIA[A]} b=imap://$mode$ms@127.0.0.1:${VIA[B]} t=starttls
            if [ "$mode" = tls ]; then
                a=imaps://lat@127.0.0.1:${VIA[A.tls]} b=imaps://$mode$ms@127.0.0.1:${VIA[B.tls]} t=implicit
            fi
            M=("$BIN" sync --a "$a" --a-tls "$t" --a-ca-file "$WORK/tls.pem"
                --b "$b" --b-tls "$t" --b-ca-file "$WORK/tls.pem"
                --state "$WORK/$mode$ms.sqlite" --quiet)
        }
        tls_cmd
        timed "mend.first-$mode.$ms" "${M[@]}"
        expect_count B "$mode$ms" $((holds + 4))
        median3 "mend.noop-$mode.$ms" tls_cmd
    done
    stop_proxies
done

# --- table ------------------------------------------------------------------
s() { if [ -n "${SECS[$1]:-}" ]; then printf '%.2f' "${SECS[$1]}"; else echo '—'; fi; }
best_peer() { # RUN MS: the best peer's seconds, or empty
    local best= k v
    for k in interimap mbsync; do
        v=${SECS[$k.$1.$2]:-}
        [ -z "$v" ] && continue
        if [ -z "$best" ] || awk "BEGIN { exit !($v < $best) }"; then best=$v; fi
    done
    echo "$best"
}
echo
echo "$LAT_N messages, $MB MB in 6 mailboxes; $(nproc) cores; mail in $DIR; $(date -u '+%Y-%m-%d %H:%M') UTC"
echo "each latency is a round trip (the proxy delays each direction by half of it); raw = fetch all + MULTIAPPEND by 1,000 through the same proxies"
echo
echo "| latency | run | imapmend | interimap | mbsync | raw | imapmend / best peer |"
echo "|---:|---|---:|---:|---:|---:|---:|"
for ms in $MSS; do
    for run in first noop inc; do
        label=$(case $run in first) echo "first sync" ;; noop) echo "no-op rerun (median of 3)" ;; inc) echo "incremental (12 flags, 6 new, 2 expunged)" ;; esac)
        raw='—'
        [ "$run" = first ] && raw=$(s "raw.$ms")
        best=$(best_peer "$run" "$ms")
        ratio='—'
        [ -n "$best" ] && ratio=$(awk "BEGIN { printf \"%.2f\", ${SECS[mend.$run.$ms]} / $best }")
        echo "| $ms ms | $label | $(s "mend.$run.$ms") | $(s "interimap.$run.$ms") | $(s "mbsync.$run.$ms") | $raw | $ratio |"
    done
done
echo
echo "imapmend over TLS (a fresh user each; A holds the change above): the handshakes beside the plain rows"
echo
echo "| latency | run | plain | STARTTLS | TLS (IMAPS) |"
echo "|---:|---|---:|---:|---:|"
for ms in $MSS; do
    echo "| $ms ms | first sync | $(s "mend.first.$ms") | $(s "mend.first-starttls.$ms") | $(s "mend.first-tls.$ms") |"
    echo "| $ms ms | no-op rerun (median of 3) | $(s "mend.noop.$ms") | $(s "mend.noop-starttls.$ms") | $(s "mend.noop-tls.$ms") |"
done
echo
for ms in $MSS; do
    echo "noted at $ms ms: no-op rounds: ${NOTE[mend.noop.$ms]}"
done

# --- the targets of issue 19, at the largest latency ---------------------------
verdict() { # TEXT CONDITION(awk)
    if awk "BEGIN { exit !($2) }"; then echo "- met:    $1"; else echo "- missed: $1"; fi
}
top=$(printf '%s\n' $MSS | sort -g | tail -n1)
echo
echo "Targets (issue 19), judged at $top ms on this run:"
for pair in first:1.0 noop:0.2 inc:0.35; do
    run=${pair%%:*} limit=${pair#*:}
    t=${SECS[mend.$run.$top]}
    verdict "$run ≤ $limit s ($(s "mend.$run.$top") s)" "$t <= $limit"
    best=$(best_peer "$run" "$top")
    if [ -n "$best" ]; then
        verdict "$run ≤ half the best peer's ($(s "mend.$run.$top") s vs $(printf '%.2f' "$best") s)" "$t <= $best / 2"
    fi
done
