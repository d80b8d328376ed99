# shellcheck shell=bash
# Sourced by `scripts/bench --huge [--sizes N[,N…]]` (issue 18, and the
# scrub figures of issue 22): for each size (default 300,000 and
# 1,000,000), one mailbox of N messages of ~1.3 KB written as Maildir files
# on the servers' tmpfs, imapmend beside interimap, each syncing A to a
# fresh user of its own on B (B keeps its mail as mdbox: see below). Rows,
# each with wall time and peak RSS (GNU time), and the floor each is judged
# against, measured in the same run:
#   first sync                 raw copy (fetch all + MULTIAPPEND by 1,000,
#                              the next batch fetched while B appends)
#   first rerun after it       —
#   later no-op (median of K)  —
#   incremental: 10 flag changes + 10 new messages made on A over IMAP;
#                              a minimal client (bench_mail floor): SELECT
#                              with QRESYNC, FETCH CHANGEDSINCE on both
#                              sides, the new bodies, the same writes on B
#   repair resync, no snapshot, both sides equal
#                              every body of both sides fetched once (the
#                              two sides at once)
#   check, A and B agree       both sides' metadata listed (at once)
#   check, full listing        the same: check with the snapshot, its
#                              mailbox not settled and no HIGHESTMODSEQ
#                              saved (what a server without CONDSTORE
#                              gives every run): both sides listed in
#                              full, every message matched to its cache row
#   check, no snapshot         every body of both sides (each one hashed)
#   check --scrub 2%           the plain check, in the same rounds: the
#                              time the scrub adds
# Then the targets of issue 18 (and the scrub's memory target of issue 22),
# PASS or FAIL on this run. A size that does not fit in DIR, or that would
# leave less than 6 GB of MemAvailable (HUGE_KEEP_FREE_GB), is skipped with
# a message. Each size's mail is deleted before the next is seeded. Uses the
# functions scripts/bench defines.

# Per message on a tmpfs: A's Maildir takes a page a message and
# Dovecot's index and cache, about 5 KB; a copy on B, in mdbox files (see
# below), about 2 KB. A and two copies on B are held at once (the raw copy
# is deleted as soon as it is timed): about 9 GB at 1,000,000. On a tmpfs
# the mail is RAM, and the machine's other work needs some too: a size is
# run only if HUGE_KEEP_FREE_GB (6) of MemAvailable stays free beside it,
# and a watchdog stops the run (the servers first, then the script, whose
# EXIT trap deletes the mail) if MemAvailable falls under half that.
HUGE_KB_A=5 HUGE_KB_B=2
HUGE_KEEP_FREE_GB=${HUGE_KEEP_FREE_GB:-6}
declare -A HUGE_INFO HUGE_LOAD

mem_available_kb() { awk '/MemAvailable/ { print $2 }' /proc/meminfo; }

huge_fits() { # N: says why not and fails when N messages do not fit in DIR
    local n=$1 need avail mem keep=$((HUGE_KEEP_FREE_GB * 1024 * 1024))
    need=$((n * (HUGE_KB_A + 2 * HUGE_KB_B)))
    avail=$(df --output=avail -k "$DIR" | tail -n1)
    if [ "$avail" -lt "$need" ]; then
        echo "bench --huge: $n messages need about $((need / 1024 / 1024 + 1)) GB in $DIR (A and two copies on B); $((avail / 1024 / 1024)) GB free there: not run" >&2
        return 1
    fi
    mem=$(mem_available_kb)
    [ "$(stat -f -c %T "$DIR")" = tmpfs ] || need=0 # on a disk, the mail is page cache
    if [ "$mem" -lt $((need + keep)) ]; then
        echo "bench --huge: $n messages need about $((need / 1024 / 1024 + 1)) GB of RAM in $DIR (a tmpfs) and $HUGE_KEEP_FREE_GB GB of MemAvailable are kept free for the rest of the machine; MemAvailable is $((mem / 1024 / 1024)) GB: not run (--dir on a disk would fit)" >&2
        return 1
    fi
}

# huge_watchdog: in the background, every 5 s while the script runs, stops
# the run if MemAvailable falls under half of HUGE_KEEP_FREE_GB: it kills
# the servers (the client running fails at once), then the script.
huge_watchdog() {
    local floor=$((HUGE_KEEP_FREE_GB * 1024 * 1024 / 2)) main=$$ mem
    (
        while sleep 5; do
            kill -0 "$main" 2>/dev/null || exit 0
            mem=$(mem_available_kb)
            if [ "$mem" -lt "$floor" ]; then
                echo "bench --huge: MemAvailable fell to $((mem / 1024)) MB (under $((floor / 1024)) MB): run stopped, its mail deleted" >&2
                kill "${PID[@]}" 2>/dev/null
                kill -TERM "$main" 2>/dev/null
                exit 0
            fi
        done
    ) &
}

huge_seed() { # N
    local n=$1 u
    say "--huge $n: seeding $n messages of ~1.3 KB in one mailbox (Maildir files)…"
    add_user A "h$n" "$BENCH_PASSWORD"
    HUGE_INFO[$n]=$("$HELPER" seed-one "$(user_maildir A "h$n")" "$n" 1300)
    for u in mend interimap raw; do add_user B "h$n$u" "$BENCH_PASSWORD"; done
    chown -R "$MAIL_UID:$MAIL_GID" "$WORK/A/home/h$n"
}

# huge_both VERB USER_A USER_B: puts in M the command running bench_mail
# VERB on A's USER_A and on B's USER_B at the same time (what a tool with a
# session on each side can do); it fails if either fails.
huge_both() {
    M=(bash -c '"$1" "$2" "$3" "$4" >/dev/null & p=$!; "$1" "$2" "$5" "$6" >/dev/null && wait $p'
        _ "$HELPER" "$1" "127.0.0.1:${PORT[A]}" "$2" "127.0.0.1:${PORT[B]}" "$3")
}

huge_case() { # N
    local n=$1 a="h$1" info modseq uidnext
    HUGE_LOAD[$n]="$(cut -d' ' -f1-3 /proc/loadavg)"
    say "--huge $n: Dovecot indexes the new Maildir (not timed)"
    "$HELPER" warm "127.0.0.1:${PORT[A]}" "$a" >/dev/null

    say "--huge $n: raw copy, imapmend first sync, interimap first sync"
    # The floor of a first sync: every body fetched and MULTIAPPENDed by
    # 1,000 with the next batch fetched while B appends the last (one
    # MULTIAPPEND in flight at a time, as imapmend's copy does it).
    timed "raw.$n" "$HELPER" raw "127.0.0.1:${PORT[A]}" "$a" "127.0.0.1:${PORT[B]}" "${a}raw" 1000 overlap
    expect_count B "${a}raw" "$n"
    rm -rf "$WORK/B/home/${a}raw" # room for the two copies that stay
    timed_mend "mend.first.$n" sync "$a" "${a}mend" "$a-mend"
    expect_count B "${a}mend" "$n"
    interimap_config_in "$WORK/interimap-$n" "${PORT[A]}" "$a" "${PORT[B]}" "${a}interimap"
    local icfg="$WORK/interimap-$n/config"
    timed "interimap.first.$n" interimap --quiet --config="$icfg"
    expect_count B "${a}interimap" "$n"

    say "--huge $n: first rerun after the first sync; later no-op reruns, check, check --scrub 2%"
    timed_mend "mend.rerun.$n" sync "$a" "${a}mend" "$a-mend"
    timed "interimap.rerun.$n" interimap --quiet --config="$icfg"
    huge_noop() { mend_cmd sync "$a" "${a}mend" "$a-mend"; }
    huge_inoop() { M=(interimap --quiet --config="$icfg"); }
    huge_check() { mend_cmd check "$a" "${a}mend" "$a-mend"; }
    huge_scrub() { mend_cmd check "$a" "${a}mend" "$a-mend"; M+=(--scrub 2%); }
    rounds3 "mend.noop.$n:huge_noop" "interimap.noop.$n:huge_inoop" \
        "mend.check.$n:huge_check" "mend.scrub.$n:huge_scrub"
    huge_both meta "$a" "${a}mend"
    timed "meta.$n" "${M[@]}"
    # The settled check above lists nothing. Forced onto the full listing:
    # a copy of the snapshot whose mailbox is not settled and has no saved
    # HIGHESTMODSEQ, as a server without CONDSTORE leaves every run (check
    # writes no mark, so the copy stays so).
    sqlite3 "$WORK/$a-mend.sqlite" ".backup '$WORK/$a-full.sqlite'"
    sqlite3 "$WORK/$a-full.sqlite" "UPDATE mailbox SET a_settled = NULL, b_settled = NULL,
        a_highestmodseq = NULL, b_highestmodseq = NULL"
    # -v in place of --quiet: a few lines that say which path it took.
    mend_cmd check "$a" "${a}mend" "$a-full"
    M[-1]=-v
    NOTE_NEXT="not settled, no HIGHESTMODSEQ saved: both sides listed in full"
    timed "mend.checkfull.$n" "${M[@]}"
    if ! grep -q 'A listed by full .*; B listed by full ' "$WORK/err"; then
        echo "bench --huge: the check was not listed in full: $(grep 'listed by' "$WORK/err")" >&2
        exit 1
    fi

    say "--huge $n: repair resync, no snapshot, both sides equal"
    huge_both warm "$a" "${a}mend"
    timed "bodies.$n" "${M[@]}"
    NOTE_NEXT="no snapshot; every body of both sides hashed"
    timed_mend "mend.repair.$n" sync "$a" "${a}mend" "$a-repair"
    NOTE_NEXT="no snapshot; every body of both sides hashed"
    timed_mend "mend.checknew.$n" check "$a" "${a}mend" "$a-checknew"

    say "--huge $n: incremental, 10 flag changes + 10 new messages on A"
    info=$("$HELPER" change "127.0.0.1:${PORT[A]}" "$a" 20)
    # Dovecot catches up at the first open of A's INBOX after the changes
    # (and after the repair above read every body): about 0.7 s at 300,000,
    # charged before to whichever client ran first — imapmend, while the
    # floor ran last. Not timed: every row below opens a caught-up mailbox.
    "$HELPER" count "127.0.0.1:${PORT[A]}" "$a" >/dev/null
    modseq=$(echo "$info" | grep -o 'modseq_before=[0-9]*' | cut -d= -f2)
    uidnext=$(echo "$info" | grep -o 'uidnext_before=[0-9]*' | cut -d= -f2)
    timed_mend "mend.inc.$n" sync "$a" "${a}mend" "$a-mend"
    expect_count B "${a}mend" $((n + 10))
    timed "interimap.inc.$n" interimap --quiet --config="$icfg"
    expect_count B "${a}interimap" $((n + 10))
    # Last: it writes to B again what imapmend just wrote (the same flags,
    # and 10 more copies), so nothing runs against that account after it.
    timed "floor.inc.$n" "$HELPER" floor "127.0.0.1:${PORT[A]}" "$a" "$modseq" "$uidnext" \
        "127.0.0.1:${PORT[B]}" "${a}mend"
    if ! grep -q 'flag_changes=10 new=10 ' "$WORK/out.floor.inc.$n"; then
        echo "bench --huge: the raw client did not carry the 20 changes: $(cat "$WORK/out.floor.inc.$n")" >&2
        exit 1
    fi
    HUGE_LOAD[$n]+=" → $(cut -d' ' -f1-3 /proc/loadavg)"
}

huge_table() { # N
    local n=$1
    s() { awk "BEGIN { printf \"%.2f\", ${SECS[$1.$n]} }"; }
    mb() { awk "BEGIN { printf \"%.0f\", ${RSS[$1.$n]} / 1024 }"; }
    cell() { if [ -n "${SECS[$1.$n]:-}" ]; then echo "$(s "$1") s, $(mb "$1") MB"; else echo "—"; fi; }
    ratio() { awk "BEGIN { printf \"%.2f\", ${SECS[$1.$n]} / ${SECS[$2.$n]} }"; }
    echo
    echo "--huge: $n messages in one mailbox, $(echo "${HUGE_INFO[$n]##*bytes=}" | awk '{ printf "%.0f", $1 / 1e6 }') MB; $(nproc) cores; Dovecot $("${DOVECOT:-/usr/sbin/dovecot}" --version | cut -d' ' -f1); mail in $DIR ($(stat -f -c %T "$DIR")); $(date -u '+%Y-%m-%d %H:%M') UTC; load average ${HUGE_LOAD[$n]}"
    echo
    echo "| run | imapmend | interimap | imapmend / interimap | floor | imapmend / floor |"
    echo "|---|---|---|---:|---|---:|"
    echo "| first sync | $(cell mend.first) | $(cell interimap.first) | $(ratio mend.first interimap.first) | raw copy $(cell raw) | $(ratio mend.first raw) |"
    echo "| first rerun after it | $(cell mend.rerun) | $(cell interimap.rerun) | $(ratio mend.rerun interimap.rerun) | | |"
    echo "| later no-op rerun (median of $ROUNDS_N) | $(cell mend.noop) | $(cell interimap.noop) | $(ratio mend.noop interimap.noop) | | |"
    echo "| incremental: 10 flag changes + 10 new on A | $(cell mend.inc) | $(cell interimap.inc) | $(ratio mend.inc interimap.inc) | raw client $(cell floor.inc) | $(ratio mend.inc floor.inc) |"
    echo "| repair resync, both sides equal, no snapshot | $(cell mend.repair) | — | | every body of both sides $(s bodies) s | $(ratio mend.repair bodies) |"
    echo "| check, A and B agree, settled (median of $ROUNDS_N) | $(cell mend.check) | — | | both sides' metadata $(s meta) s | $(ratio mend.check meta) |"
    echo "| check, full listing (not settled, no HIGHESTMODSEQ saved) | $(cell mend.checkfull) | — | | both sides' metadata $(s meta) s | $(ratio mend.checkfull meta) |"
    echo "| check, no snapshot | $(cell mend.checknew) | — | | every body of both sides $(s bodies) s | $(ratio mend.checknew bodies) |"
    echo "| check --scrub 2% (median of $ROUNDS_N, same rounds) | $(cell mend.scrub) | — | | the check: adds $(awk "BEGIN { printf \"%.2f\", ${SECS[mend.scrub.$n]} - ${SECS[mend.check.$n]} }") s | $(ratio mend.scrub mend.check) |"
    echo
    echo "rounds: no-op ${NOTE[mend.noop.$n]#median of }, interimap ${NOTE[interimap.noop.$n]#median of }, check ${NOTE[mend.check.$n]#median of }, scrub ${NOTE[mend.scrub.$n]#median of }"
    echo
    echo "Targets (issue 18; the scrub's of issue 22), judged on this run at $n (the full paths' are set at 1,000,000):"
    huge_verdict "no-op rerun ≤ 0.3 s ($(s mend.noop) s)" "${SECS[mend.noop.$n]} <= 0.3"
    huge_verdict "no-op rerun ≤ half interimap's ($(s mend.noop) s vs $(s interimap.noop) s)" \
        "${SECS[mend.noop.$n]} <= 0.5 * ${SECS[interimap.noop.$n]}"
    huge_verdict "no-op rerun peak RSS ≤ 64 MB ($(mb mend.noop) MB)" "${RSS[mend.noop.$n]} <= 64 * 1024"
    huge_verdict "first rerun after a sync ≤ 0.3 s ($(s mend.rerun) s)" "${SECS[mend.rerun.$n]} <= 0.3"
    huge_verdict "first rerun ≤ half interimap's ($(s mend.rerun) s vs $(s interimap.rerun) s)" \
        "${SECS[mend.rerun.$n]} <= 0.5 * ${SECS[interimap.rerun.$n]}"
    huge_verdict "first rerun peak RSS ≤ 64 MB ($(mb mend.rerun) MB)" "${RSS[mend.rerun.$n]} <= 64 * 1024"
    huge_verdict "incremental within 1.3× the raw client ($(s mend.inc) s vs $(s floor.inc) s)" \
        "${SECS[mend.inc.$n]} <= 1.3 * ${SECS[floor.inc.$n]}"
    huge_verdict "incremental no slower than interimap ($(s mend.inc) s vs $(s interimap.inc) s)" \
        "${SECS[mend.inc.$n]} <= ${SECS[interimap.inc.$n]}"
    huge_verdict "incremental peak RSS ≤ 64 MB ($(mb mend.inc) MB)" "${RSS[mend.inc.$n]} <= 64 * 1024"
    huge_verdict "check --scrub 2% peak RSS ≤ 64 MB ($(mb mend.scrub) MB; issue 22)" "${RSS[mend.scrub.$n]} <= 64 * 1024"
    huge_verdict "repair resync peak RSS ≤ 256 MB ($(mb mend.repair) MB)" "${RSS[mend.repair.$n]} <= 256 * 1024"
    huge_verdict "repair resync within 1.3× every body of both sides ($(s mend.repair) s vs $(s bodies) s)" \
        "${SECS[mend.repair.$n]} <= 1.3 * ${SECS[bodies.$n]}"
    huge_verdict "check (settled) peak RSS ≤ 256 MB ($(mb mend.check) MB)" "${RSS[mend.check.$n]} <= 256 * 1024"
    huge_verdict "check (settled) within 1.3× both sides' metadata ($(s mend.check) s vs $(s meta) s)" \
        "${SECS[mend.check.$n]} <= 1.3 * ${SECS[meta.$n]}"
    huge_verdict "check (full listing) peak RSS ≤ 256 MB ($(mb mend.checkfull) MB)" "${RSS[mend.checkfull.$n]} <= 256 * 1024"
    huge_verdict "check (full listing) within 1.3× both sides' metadata ($(s mend.checkfull) s vs $(s meta) s)" \
        "${SECS[mend.checkfull.$n]} <= 1.3 * ${SECS[meta.$n]}"
    huge_verdict "check (no snapshot) peak RSS ≤ 256 MB ($(mb mend.checknew) MB)" "${RSS[mend.checknew.$n]} <= 256 * 1024"
    huge_verdict "check (no snapshot) within 1.3× every body of both sides ($(s mend.checknew) s vs $(s bodies) s)" \
        "${SECS[mend.checknew.$n]} <= 1.3 * ${SECS[bodies.$n]}"
    huge_verdict "first sync within 1.5× the raw copy ($(s mend.first) s vs $(s raw) s)" \
        "${SECS[mend.first.$n]} <= 1.5 * ${SECS[raw.$n]}"
}

huge_verdict() { # TEXT CONDITION(awk)
    if awk "BEGIN { exit !($2) }"; then echo "- PASS  $1"; else echo "- FAIL  $1"; fi
}

# The sizes one after the other: each seeded, measured, its table printed
# (so a long 1,000,000 run leaves the 300,000 table behind it) and its mail
# deleted before the next.
# Dovecot indexes a Maildir it has never seen in the session that first
# opens it: for 1,000,000 messages that one imap process needs more than
# the default 256 MB (it closes the connection in the middle of the first
# listing).
for side in A B; do printf '\ndefault_vsz_limit = 2G\n' >>"$WORK/$side/dovecot.conf"; done
# B keeps its mail as mdbox (messages packed into files of up to 10 MB):
# an APPEND transaction into a Maildir costs Dovecot time in proportion to
# the mailbox (perf: its imap process hashes the dovecot-uidlist's
# filenames), so a first sync grows with the square of the count (measured
# at 200,000: the second 100,000 appended in 2.4× the time of the first;
# in mdbox 1.2×), which made each first sync at 1,000,000 — the tools' and
# the floor's alike — take about 25 minutes here; and a Maildir takes a
# tmpfs page a message where mdbox takes ~1.5 KB.
# A is Maildir, written directly, and is only read.
printf '\nmail_location = mdbox:~/mdbox\n' >>"$WORK/B/dovecot.conf"
start_server A
start_server B
huge_watchdog
for n in ${HUGE_SIZES//,/ }; do
    huge_fits "$n" || continue
    huge_seed "$n"
    huge_case "$n"
    huge_table "$n"
    rm -rf "$WORK/A/home/h$n" "$WORK/B/home/h$n"* "$WORK/interimap-$n" "$WORK/h$n"-*.sqlite*
done
