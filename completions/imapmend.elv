
use builtin;
use str;

set edit:completion:arg-completer[imapmend] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'imapmend'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'imapmend'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand plan 'Dry run: show the Plan, change nothing on either server'
            cand sync 'Show the Plan, apply it to both servers and save the snapshot'
            cand check 'Read-only (EXAMINE): judge whether A and B hold the same mail and flags'
            cand batch 'Run plan, sync or check over a list of account pairs (CSV or TOML)'
            cand snapshot 'What a snapshot remembers (show), or delete it (forget)'
            cand log 'What sync wrote to the servers: the action log beside the snapshot'
            cand undo 'Take back one sync (--run ID): quarantined messages moved back, its flag changes reverted; prints what it would do unless --apply'
            cand completions 'Print shell completions for SHELL on standard output'
            cand man 'Print a man page (roff) on standard output: `imapmend man | man -l -`'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'imapmend;plan'= {
            cand --config 'Read settings from this TOML file; command-line options override it'
            cand --a 'Server A: imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]'
            cand --b 'Server B, in the same form as --a'
            cand --state 'The snapshot file [default: a file named after both endpoints in $XDG_STATE_HOME/imapmend/]'
            cand --a-tls 'TLS for A, overriding the URL scheme''s default'
            cand --b-tls 'TLS for B, overriding the URL scheme''s default'
            cand --a-ca-file 'Extra CA certificate(s) (PEM) to trust for A, besides the system roots, or A''s own (self-signed) certificate'
            cand --b-ca-file 'Extra CA certificate(s) (PEM) to trust for B, or B''s own certificate, as --a-ca-file'
            cand --a-fingerprint 'Trust only a certificate for A with this fingerprint (repeatable): sha256:HEX, spki-sha256:BASE64 or sha256//BASE64'
            cand --b-fingerprint 'Trust only a certificate for B with this fingerprint, as --a-fingerprint'
            cand --a-tunnel 'Talk to A through this command''s stdin/stdout (run with `sh -c`) instead of TCP'
            cand --b-tunnel 'Talk to B through this command''s stdin/stdout, as --a-tunnel'
            cand --a-password-file 'Read A''s password from this file (one trailing newline removed)'
            cand --b-password-file 'Read B''s password from this file (one trailing newline removed)'
            cand --a-password-command 'Run CMD with `sh -c`; its standard output is A''s password'
            cand --b-password-command 'Run CMD with `sh -c`; its standard output is B''s password'
            cand --a-oauth2-token-command 'Log in to A with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token'
            cand --b-oauth2-token-command 'Log in to B with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token'
            cand --prefer 'Without a snapshot base, this side''s flags win instead of the union'
            cand --max-delete 'Withhold a mailbox''s deletions on a side when they exceed N, or P% of its pairs (never fewer than 10) [default: 50%]'
            cand --restored 'This side was restored from a backup: the other side''s flags win, and mail missing here is copied back, never taken as deleted'
            cand --deletes 'How proven deletions are carried out [default: expunge]'
            cand --identity 'What a message is known by. `headers`, for servers that rebuild messages on FETCH (Exchange, Office 365): what content leaves unpaired pairs by a Message-ID unique among them on both sides, with Date, From and fetched size agreeing; such a pair never proves a deletion, and a changed RFC822.SIZE is no sign of a restore [default: content]'
            cand --expunge-to 'Move what would be expunged into MAILBOX on the same side instead (created on first use, left out of every run; a top-level name without delimiters). `imapmend log show` lists what went there'
            cand --quarantine-days 'With --expunge-to: each sync expunges from the quarantine what imapmend moved there at least N days ago (under --max-delete)'
            cand --one-way 'Copy in one direction only; the target is never read as a source'
            cand --tombstone-days 'How long the content of a proven expunge is remembered as a tombstone, in days (default 90; 0 forgets them at the next run)'
            cand --max-size 'Do not copy messages larger than SIZE (bytes, or 512K, 10M, 1G): they are skipped and reported, never taken as deleted'
            cand --retries 'When a connection is lost or stalls during the run, reconnect and redo the work from a fresh listing up to N times (backoff 1 s, 2 s, 4 s …) before it fails [default: 2]'
            cand --connections 'Connections per server: up to N mailboxes are listed and applied at once (1 to 16; a server that refuses more gets fewer, with a warning) [default: 4]'
            cand --max-messages-per-second 'For providers that throttle: move at most N message bodies per second (fetched and appended, both servers together)'
            cand --max-bytes-per-second 'For providers that throttle: send and receive at most SIZE bytes per second (bytes, or 512K, 10M), both servers together'
            cand --folder 'Only this mailbox (logical name, `/` between levels); repeatable'
            cand --folderrec 'Only this mailbox and the ones below it; repeatable'
            cand --include 'Only mailboxes whose name matches REGEX (unanchored); repeatable'
            cand --exclude 'Leave out mailboxes whose name matches REGEX (unanchored); repeatable'
            cand --a-prefix 'A''s folders live under this wire prefix, e.g. `INBOX.` (Courier, Cyrus): A''s `INBOX.Sent` is then the mailbox `Sent`'
            cand --b-prefix 'B''s folders live under this wire prefix (as --a-prefix)'
            cand --map 'A''s mailbox A_NAME is B''s mailbox B_NAME, and the ones below them alike, e.g. --map "Sent Items=Sent"; repeatable'
            cand --host1 'Server A''s host (imapsync style; with --user1, instead of --a)'
            cand --host2 'Server B''s host (with --user2, instead of --b)'
            cand --user1 'Server A''s user'
            cand --user2 'Server B''s user'
            cand --port1 'Server A''s port [default: 143, or 993 with --ssl1]'
            cand --port2 'Server B''s port [default: 143, or 993 with --ssl2]'
            cand --passfile1 'As --a-password-file'
            cand --passfile2 'As --b-password-file'
            cand --password1 'Refused: passwords never go on the command line'
            cand --password2 'Refused: passwords never go on the command line'
            cand --save 'Also write the report (as --json prints it) to FILE, for review and for `sync --expect-plan FILE`'
            cand --allow-plaintext-auth 'Send passwords without TLS (with --X-tls none) even to a host that is not loopback'
            cand --delete-mailboxes 'Delete a mailbox on one side when it was proven deleted on the other'
            cand --delete-extra 'With --one-way: delete messages found only on the target side'
            cand --no-tombstones 'On a restored side, copy back messages whose expunge was proven earlier (tombstones) instead of expunging them there again'
            cand --drop-restored-extras 'Expunge messages found only on a restored side (they may be mail deleted since the backup) instead of copying them to the other side'
            cand --retry-refused 'Copy again the messages a server refused on an earlier run (by default they are skipped until they change)'
            cand --no-compress 'Never use COMPRESS=DEFLATE, even where a server offers it'
            cand --verify 'Re-fetch every body and compare it with the fingerprint recorded when it was synced: `check` reports content damaged in place, `plan` and `sync` replace it from the other side (reads every message)'
            cand --ssl1 'TLS from the first byte to A (imaps)'
            cand --ssl2 'TLS from the first byte to B (imaps)'
            cand --tls1 'STARTTLS to A (the default without --ssl1 anyway)'
            cand --tls2 'STARTTLS to B (the default without --ssl2 anyway)'
            cand --dry 'With sync: only show the Plan, as `plan` does'
            cand --delete2 'As --delete-extra: delete messages on B that A does not have'
            cand --json 'Print the Plan (or the check result) as JSON on standard output'
            cand -v 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)'
            cand --verbose 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)'
            cand -q 'Only errors on standard error'
            cand --quiet 'Only errors on standard error'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'imapmend;sync'= {
            cand --config 'Read settings from this TOML file; command-line options override it'
            cand --a 'Server A: imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]'
            cand --b 'Server B, in the same form as --a'
            cand --state 'The snapshot file [default: a file named after both endpoints in $XDG_STATE_HOME/imapmend/]'
            cand --a-tls 'TLS for A, overriding the URL scheme''s default'
            cand --b-tls 'TLS for B, overriding the URL scheme''s default'
            cand --a-ca-file 'Extra CA certificate(s) (PEM) to trust for A, besides the system roots, or A''s own (self-signed) certificate'
            cand --b-ca-file 'Extra CA certificate(s) (PEM) to trust for B, or B''s own certificate, as --a-ca-file'
            cand --a-fingerprint 'Trust only a certificate for A with this fingerprint (repeatable): sha256:HEX, spki-sha256:BASE64 or sha256//BASE64'
            cand --b-fingerprint 'Trust only a certificate for B with this fingerprint, as --a-fingerprint'
            cand --a-tunnel 'Talk to A through this command''s stdin/stdout (run with `sh -c`) instead of TCP'
            cand --b-tunnel 'Talk to B through this command''s stdin/stdout, as --a-tunnel'
            cand --a-password-file 'Read A''s password from this file (one trailing newline removed)'
            cand --b-password-file 'Read B''s password from this file (one trailing newline removed)'
            cand --a-password-command 'Run CMD with `sh -c`; its standard output is A''s password'
            cand --b-password-command 'Run CMD with `sh -c`; its standard output is B''s password'
            cand --a-oauth2-token-command 'Log in to A with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token'
            cand --b-oauth2-token-command 'Log in to B with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token'
            cand --prefer 'Without a snapshot base, this side''s flags win instead of the union'
            cand --max-delete 'Withhold a mailbox''s deletions on a side when they exceed N, or P% of its pairs (never fewer than 10) [default: 50%]'
            cand --restored 'This side was restored from a backup: the other side''s flags win, and mail missing here is copied back, never taken as deleted'
            cand --deletes 'How proven deletions are carried out [default: expunge]'
            cand --identity 'What a message is known by. `headers`, for servers that rebuild messages on FETCH (Exchange, Office 365): what content leaves unpaired pairs by a Message-ID unique among them on both sides, with Date, From and fetched size agreeing; such a pair never proves a deletion, and a changed RFC822.SIZE is no sign of a restore [default: content]'
            cand --expunge-to 'Move what would be expunged into MAILBOX on the same side instead (created on first use, left out of every run; a top-level name without delimiters). `imapmend log show` lists what went there'
            cand --quarantine-days 'With --expunge-to: each sync expunges from the quarantine what imapmend moved there at least N days ago (under --max-delete)'
            cand --one-way 'Copy in one direction only; the target is never read as a source'
            cand --tombstone-days 'How long the content of a proven expunge is remembered as a tombstone, in days (default 90; 0 forgets them at the next run)'
            cand --max-size 'Do not copy messages larger than SIZE (bytes, or 512K, 10M, 1G): they are skipped and reported, never taken as deleted'
            cand --retries 'When a connection is lost or stalls during the run, reconnect and redo the work from a fresh listing up to N times (backoff 1 s, 2 s, 4 s …) before it fails [default: 2]'
            cand --connections 'Connections per server: up to N mailboxes are listed and applied at once (1 to 16; a server that refuses more gets fewer, with a warning) [default: 4]'
            cand --max-messages-per-second 'For providers that throttle: move at most N message bodies per second (fetched and appended, both servers together)'
            cand --max-bytes-per-second 'For providers that throttle: send and receive at most SIZE bytes per second (bytes, or 512K, 10M), both servers together'
            cand --folder 'Only this mailbox (logical name, `/` between levels); repeatable'
            cand --folderrec 'Only this mailbox and the ones below it; repeatable'
            cand --include 'Only mailboxes whose name matches REGEX (unanchored); repeatable'
            cand --exclude 'Leave out mailboxes whose name matches REGEX (unanchored); repeatable'
            cand --a-prefix 'A''s folders live under this wire prefix, e.g. `INBOX.` (Courier, Cyrus): A''s `INBOX.Sent` is then the mailbox `Sent`'
            cand --b-prefix 'B''s folders live under this wire prefix (as --a-prefix)'
            cand --map 'A''s mailbox A_NAME is B''s mailbox B_NAME, and the ones below them alike, e.g. --map "Sent Items=Sent"; repeatable'
            cand --host1 'Server A''s host (imapsync style; with --user1, instead of --a)'
            cand --host2 'Server B''s host (with --user2, instead of --b)'
            cand --user1 'Server A''s user'
            cand --user2 'Server B''s user'
            cand --port1 'Server A''s port [default: 143, or 993 with --ssl1]'
            cand --port2 'Server B''s port [default: 143, or 993 with --ssl2]'
            cand --passfile1 'As --a-password-file'
            cand --passfile2 'As --b-password-file'
            cand --password1 'Refused: passwords never go on the command line'
            cand --password2 'Refused: passwords never go on the command line'
            cand --expect-plan 'Refuse (exit 4, nothing applied) if the live plan deletes any message the plan saved in FILE (`plan --save`) did not'
            cand --metrics 'Write the outcome in Prometheus text format to FILE (atomically), for node_exporter''s textfile collector'
            cand --scrub 'Also re-read the bodies verified longest ago (never verified first) and compare them with what was recorded, up to BUDGET per side: a share of the messages (2%), a size (500M) or a time (30s); `check` reports damage, `sync` replaces it from the healthy side'
            cand --allow-plaintext-auth 'Send passwords without TLS (with --X-tls none) even to a host that is not loopback'
            cand --delete-mailboxes 'Delete a mailbox on one side when it was proven deleted on the other'
            cand --delete-extra 'With --one-way: delete messages found only on the target side'
            cand --no-tombstones 'On a restored side, copy back messages whose expunge was proven earlier (tombstones) instead of expunging them there again'
            cand --drop-restored-extras 'Expunge messages found only on a restored side (they may be mail deleted since the backup) instead of copying them to the other side'
            cand --retry-refused 'Copy again the messages a server refused on an earlier run (by default they are skipped until they change)'
            cand --no-compress 'Never use COMPRESS=DEFLATE, even where a server offers it'
            cand --verify 'Re-fetch every body and compare it with the fingerprint recorded when it was synced: `check` reports content damaged in place, `plan` and `sync` replace it from the other side (reads every message)'
            cand --ssl1 'TLS from the first byte to A (imaps)'
            cand --ssl2 'TLS from the first byte to B (imaps)'
            cand --tls1 'STARTTLS to A (the default without --ssl1 anyway)'
            cand --tls2 'STARTTLS to B (the default without --ssl2 anyway)'
            cand --dry 'With sync: only show the Plan, as `plan` does'
            cand --delete2 'As --delete-extra: delete messages on B that A does not have'
            cand --json 'Print the Plan (or the check result) as JSON on standard output'
            cand -v 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)'
            cand --verbose 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)'
            cand -q 'Only errors on standard error'
            cand --quiet 'Only errors on standard error'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'imapmend;check'= {
            cand --config 'Read settings from this TOML file; command-line options override it'
            cand --a 'Server A: imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]'
            cand --b 'Server B, in the same form as --a'
            cand --state 'The snapshot file [default: a file named after both endpoints in $XDG_STATE_HOME/imapmend/]'
            cand --a-tls 'TLS for A, overriding the URL scheme''s default'
            cand --b-tls 'TLS for B, overriding the URL scheme''s default'
            cand --a-ca-file 'Extra CA certificate(s) (PEM) to trust for A, besides the system roots, or A''s own (self-signed) certificate'
            cand --b-ca-file 'Extra CA certificate(s) (PEM) to trust for B, or B''s own certificate, as --a-ca-file'
            cand --a-fingerprint 'Trust only a certificate for A with this fingerprint (repeatable): sha256:HEX, spki-sha256:BASE64 or sha256//BASE64'
            cand --b-fingerprint 'Trust only a certificate for B with this fingerprint, as --a-fingerprint'
            cand --a-tunnel 'Talk to A through this command''s stdin/stdout (run with `sh -c`) instead of TCP'
            cand --b-tunnel 'Talk to B through this command''s stdin/stdout, as --a-tunnel'
            cand --a-password-file 'Read A''s password from this file (one trailing newline removed)'
            cand --b-password-file 'Read B''s password from this file (one trailing newline removed)'
            cand --a-password-command 'Run CMD with `sh -c`; its standard output is A''s password'
            cand --b-password-command 'Run CMD with `sh -c`; its standard output is B''s password'
            cand --a-oauth2-token-command 'Log in to A with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token'
            cand --b-oauth2-token-command 'Log in to B with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token'
            cand --prefer 'Without a snapshot base, this side''s flags win instead of the union'
            cand --max-delete 'Withhold a mailbox''s deletions on a side when they exceed N, or P% of its pairs (never fewer than 10) [default: 50%]'
            cand --restored 'This side was restored from a backup: the other side''s flags win, and mail missing here is copied back, never taken as deleted'
            cand --deletes 'How proven deletions are carried out [default: expunge]'
            cand --identity 'What a message is known by. `headers`, for servers that rebuild messages on FETCH (Exchange, Office 365): what content leaves unpaired pairs by a Message-ID unique among them on both sides, with Date, From and fetched size agreeing; such a pair never proves a deletion, and a changed RFC822.SIZE is no sign of a restore [default: content]'
            cand --expunge-to 'Move what would be expunged into MAILBOX on the same side instead (created on first use, left out of every run; a top-level name without delimiters). `imapmend log show` lists what went there'
            cand --quarantine-days 'With --expunge-to: each sync expunges from the quarantine what imapmend moved there at least N days ago (under --max-delete)'
            cand --one-way 'Copy in one direction only; the target is never read as a source'
            cand --tombstone-days 'How long the content of a proven expunge is remembered as a tombstone, in days (default 90; 0 forgets them at the next run)'
            cand --max-size 'Do not copy messages larger than SIZE (bytes, or 512K, 10M, 1G): they are skipped and reported, never taken as deleted'
            cand --retries 'When a connection is lost or stalls during the run, reconnect and redo the work from a fresh listing up to N times (backoff 1 s, 2 s, 4 s …) before it fails [default: 2]'
            cand --connections 'Connections per server: up to N mailboxes are listed and applied at once (1 to 16; a server that refuses more gets fewer, with a warning) [default: 4]'
            cand --max-messages-per-second 'For providers that throttle: move at most N message bodies per second (fetched and appended, both servers together)'
            cand --max-bytes-per-second 'For providers that throttle: send and receive at most SIZE bytes per second (bytes, or 512K, 10M), both servers together'
            cand --folder 'Only this mailbox (logical name, `/` between levels); repeatable'
            cand --folderrec 'Only this mailbox and the ones below it; repeatable'
            cand --include 'Only mailboxes whose name matches REGEX (unanchored); repeatable'
            cand --exclude 'Leave out mailboxes whose name matches REGEX (unanchored); repeatable'
            cand --a-prefix 'A''s folders live under this wire prefix, e.g. `INBOX.` (Courier, Cyrus): A''s `INBOX.Sent` is then the mailbox `Sent`'
            cand --b-prefix 'B''s folders live under this wire prefix (as --a-prefix)'
            cand --map 'A''s mailbox A_NAME is B''s mailbox B_NAME, and the ones below them alike, e.g. --map "Sent Items=Sent"; repeatable'
            cand --host1 'Server A''s host (imapsync style; with --user1, instead of --a)'
            cand --host2 'Server B''s host (with --user2, instead of --b)'
            cand --user1 'Server A''s user'
            cand --user2 'Server B''s user'
            cand --port1 'Server A''s port [default: 143, or 993 with --ssl1]'
            cand --port2 'Server B''s port [default: 143, or 993 with --ssl2]'
            cand --passfile1 'As --a-password-file'
            cand --passfile2 'As --b-password-file'
            cand --password1 'Refused: passwords never go on the command line'
            cand --password2 'Refused: passwords never go on the command line'
            cand --metrics 'Write the outcome in Prometheus text format to FILE (atomically), for node_exporter''s textfile collector'
            cand --scrub 'Also re-read the bodies verified longest ago (never verified first) and compare them with what was recorded, up to BUDGET per side: a share of the messages (2%), a size (500M) or a time (30s); `check` reports damage, `sync` replaces it from the healthy side'
            cand --timeout 'Give up after SECONDS in all (connect, list, compare): exit 3, no verdict'
            cand --allow-plaintext-auth 'Send passwords without TLS (with --X-tls none) even to a host that is not loopback'
            cand --delete-mailboxes 'Delete a mailbox on one side when it was proven deleted on the other'
            cand --delete-extra 'With --one-way: delete messages found only on the target side'
            cand --no-tombstones 'On a restored side, copy back messages whose expunge was proven earlier (tombstones) instead of expunging them there again'
            cand --drop-restored-extras 'Expunge messages found only on a restored side (they may be mail deleted since the backup) instead of copying them to the other side'
            cand --retry-refused 'Copy again the messages a server refused on an earlier run (by default they are skipped until they change)'
            cand --no-compress 'Never use COMPRESS=DEFLATE, even where a server offers it'
            cand --verify 'Re-fetch every body and compare it with the fingerprint recorded when it was synced: `check` reports content damaged in place, `plan` and `sync` replace it from the other side (reads every message)'
            cand --ssl1 'TLS from the first byte to A (imaps)'
            cand --ssl2 'TLS from the first byte to B (imaps)'
            cand --tls1 'STARTTLS to A (the default without --ssl1 anyway)'
            cand --tls2 'STARTTLS to B (the default without --ssl2 anyway)'
            cand --dry 'With sync: only show the Plan, as `plan` does'
            cand --delete2 'As --delete-extra: delete messages on B that A does not have'
            cand --json 'Print the Plan (or the check result) as JSON on standard output'
            cand -v 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)'
            cand --verbose 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)'
            cand -q 'Only errors on standard error'
            cand --quiet 'Only errors on standard error'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'imapmend;batch'= {
            cand -j 'How many pairs run at once'
            cand --jobs 'How many pairs run at once'
            cand --shard 'Run only shard I of N (0-based): each pair always falls in the same shard, so hosts or job-array tasks can split a list without coordination'
            cand --config 'A config file every pair''s run reads (shared TLS, policies …); each pair''s --a/--b override its URLs'
            cand --pair-timeout 'Stop a pair''s run after SECONDS (it counts as exit 2; a rerun resumes safely), so one hung account cannot hold up the batch'
            cand --log-dir 'Keep each pair''s standard output and error in DIR (NAME.out, NAME.err)'
            cand --json 'Print the outcomes (with each pair''s report) as JSON'
            cand -q 'No line per finished pair on standard error'
            cand --quiet 'No line per finished pair on standard error'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'imapmend;snapshot'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand show 'Which mailboxes the snapshot knows, pair counts, cached messages and sizes, pending copies, and whether a run holds it now'
            cand forget 'Delete the snapshot (and its -wal, -shm and .lock files); refused while a run holds it. The next run starts as a first meeting'
            cand verify 'Check the file: SQLite''s integrity check and the snapshot''s own invariants (every pair has its cache rows, levels and watermarks are valid); read-only. Exit 0 sound, 1 problems found, 3 cannot check'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'imapmend;snapshot;show'= {
            cand --config 'Read --a, --b and the state path from this TOML file'
            cand --a 'Server A, to find the default snapshot (no password needed)'
            cand --b 'Server B, to find the default snapshot'
            cand --state 'The snapshot file itself (then --a and --b are optional)'
            cand --json 'Print as JSON on standard output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'imapmend;snapshot;forget'= {
            cand --config 'Read --a, --b and the state path from this TOML file'
            cand --a 'Server A, to find the default snapshot (no password needed)'
            cand --b 'Server B, to find the default snapshot'
            cand --state 'The snapshot file itself (then --a and --b are optional)'
            cand --json 'Print as JSON on standard output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'imapmend;snapshot;verify'= {
            cand --config 'Read --a, --b and the state path from this TOML file'
            cand --a 'Server A, to find the default snapshot (no password needed)'
            cand --b 'Server B, to find the default snapshot'
            cand --state 'The snapshot file itself (then --a and --b are optional)'
            cand --json 'Print as JSON on standard output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'imapmend;snapshot;help'= {
            cand show 'Which mailboxes the snapshot knows, pair counts, cached messages and sizes, pending copies, and whether a run holds it now'
            cand forget 'Delete the snapshot (and its -wal, -shm and .lock files); refused while a run holds it. The next run starts as a first meeting'
            cand verify 'Check the file: SQLite''s integrity check and the snapshot''s own invariants (every pair has its cache rows, levels and watermarks are valid); read-only. Exit 0 sound, 1 problems found, 3 cannot check'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'imapmend;snapshot;help;show'= {
        }
        &'imapmend;snapshot;help;forget'= {
        }
        &'imapmend;snapshot;help;verify'= {
        }
        &'imapmend;snapshot;help;help'= {
        }
        &'imapmend;log'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand show 'Every write sync sent (APPEND, STORE, EXPUNGE, MOVE, CREATE, RENAME, DELETE, SUBSCRIBE), one row per command, with its outcome; "not confirmed" where the run ended before the answer was logged'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'imapmend;log;show'= {
            cand --config 'Read --a, --b and the state path from this TOML file'
            cand --a 'Server A, to find the default snapshot (no password needed)'
            cand --b 'Server B, to find the default snapshot'
            cand --state 'The snapshot file itself (then --a and --b are optional)'
            cand --run 'Only this run (the run id a sync''s --json report carries)'
            cand --since 'Only writes at or after this UTC time (2026-12-07, 2026-12-07T10:00)'
            cand --json 'Print as JSON on standard output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'imapmend;log;help'= {
            cand show 'Every write sync sent (APPEND, STORE, EXPUNGE, MOVE, CREATE, RENAME, DELETE, SUBSCRIBE), one row per command, with its outcome; "not confirmed" where the run ended before the answer was logged'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'imapmend;log;help;show'= {
        }
        &'imapmend;log;help;help'= {
        }
        &'imapmend;undo'= {
            cand --config 'Read settings from this TOML file; command-line options override it'
            cand --a 'Server A: imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]'
            cand --b 'Server B, in the same form as --a'
            cand --state 'The snapshot file [default: a file named after both endpoints in $XDG_STATE_HOME/imapmend/]'
            cand --a-tls 'TLS for A, overriding the URL scheme''s default'
            cand --b-tls 'TLS for B, overriding the URL scheme''s default'
            cand --a-ca-file 'Extra CA certificate(s) (PEM) to trust for A, besides the system roots, or A''s own (self-signed) certificate'
            cand --b-ca-file 'Extra CA certificate(s) (PEM) to trust for B, or B''s own certificate, as --a-ca-file'
            cand --a-fingerprint 'Trust only a certificate for A with this fingerprint (repeatable): sha256:HEX, spki-sha256:BASE64 or sha256//BASE64'
            cand --b-fingerprint 'Trust only a certificate for B with this fingerprint, as --a-fingerprint'
            cand --a-tunnel 'Talk to A through this command''s stdin/stdout (run with `sh -c`) instead of TCP'
            cand --b-tunnel 'Talk to B through this command''s stdin/stdout, as --a-tunnel'
            cand --a-password-file 'Read A''s password from this file (one trailing newline removed)'
            cand --b-password-file 'Read B''s password from this file (one trailing newline removed)'
            cand --a-password-command 'Run CMD with `sh -c`; its standard output is A''s password'
            cand --b-password-command 'Run CMD with `sh -c`; its standard output is B''s password'
            cand --a-oauth2-token-command 'Log in to A with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token'
            cand --b-oauth2-token-command 'Log in to B with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token'
            cand --prefer 'Without a snapshot base, this side''s flags win instead of the union'
            cand --max-delete 'Withhold a mailbox''s deletions on a side when they exceed N, or P% of its pairs (never fewer than 10) [default: 50%]'
            cand --restored 'This side was restored from a backup: the other side''s flags win, and mail missing here is copied back, never taken as deleted'
            cand --deletes 'How proven deletions are carried out [default: expunge]'
            cand --identity 'What a message is known by. `headers`, for servers that rebuild messages on FETCH (Exchange, Office 365): what content leaves unpaired pairs by a Message-ID unique among them on both sides, with Date, From and fetched size agreeing; such a pair never proves a deletion, and a changed RFC822.SIZE is no sign of a restore [default: content]'
            cand --expunge-to 'Move what would be expunged into MAILBOX on the same side instead (created on first use, left out of every run; a top-level name without delimiters). `imapmend log show` lists what went there'
            cand --quarantine-days 'With --expunge-to: each sync expunges from the quarantine what imapmend moved there at least N days ago (under --max-delete)'
            cand --one-way 'Copy in one direction only; the target is never read as a source'
            cand --tombstone-days 'How long the content of a proven expunge is remembered as a tombstone, in days (default 90; 0 forgets them at the next run)'
            cand --max-size 'Do not copy messages larger than SIZE (bytes, or 512K, 10M, 1G): they are skipped and reported, never taken as deleted'
            cand --retries 'When a connection is lost or stalls during the run, reconnect and redo the work from a fresh listing up to N times (backoff 1 s, 2 s, 4 s …) before it fails [default: 2]'
            cand --connections 'Connections per server: up to N mailboxes are listed and applied at once (1 to 16; a server that refuses more gets fewer, with a warning) [default: 4]'
            cand --max-messages-per-second 'For providers that throttle: move at most N message bodies per second (fetched and appended, both servers together)'
            cand --max-bytes-per-second 'For providers that throttle: send and receive at most SIZE bytes per second (bytes, or 512K, 10M), both servers together'
            cand --folder 'Only this mailbox (logical name, `/` between levels); repeatable'
            cand --folderrec 'Only this mailbox and the ones below it; repeatable'
            cand --include 'Only mailboxes whose name matches REGEX (unanchored); repeatable'
            cand --exclude 'Leave out mailboxes whose name matches REGEX (unanchored); repeatable'
            cand --a-prefix 'A''s folders live under this wire prefix, e.g. `INBOX.` (Courier, Cyrus): A''s `INBOX.Sent` is then the mailbox `Sent`'
            cand --b-prefix 'B''s folders live under this wire prefix (as --a-prefix)'
            cand --map 'A''s mailbox A_NAME is B''s mailbox B_NAME, and the ones below them alike, e.g. --map "Sent Items=Sent"; repeatable'
            cand --host1 'Server A''s host (imapsync style; with --user1, instead of --a)'
            cand --host2 'Server B''s host (with --user2, instead of --b)'
            cand --user1 'Server A''s user'
            cand --user2 'Server B''s user'
            cand --port1 'Server A''s port [default: 143, or 993 with --ssl1]'
            cand --port2 'Server B''s port [default: 143, or 993 with --ssl2]'
            cand --passfile1 'As --a-password-file'
            cand --passfile2 'As --b-password-file'
            cand --password1 'Refused: passwords never go on the command line'
            cand --password2 'Refused: passwords never go on the command line'
            cand --run 'The run to take back, as `log show` and --json reports name it'
            cand --allow-plaintext-auth 'Send passwords without TLS (with --X-tls none) even to a host that is not loopback'
            cand --delete-mailboxes 'Delete a mailbox on one side when it was proven deleted on the other'
            cand --delete-extra 'With --one-way: delete messages found only on the target side'
            cand --no-tombstones 'On a restored side, copy back messages whose expunge was proven earlier (tombstones) instead of expunging them there again'
            cand --drop-restored-extras 'Expunge messages found only on a restored side (they may be mail deleted since the backup) instead of copying them to the other side'
            cand --retry-refused 'Copy again the messages a server refused on an earlier run (by default they are skipped until they change)'
            cand --no-compress 'Never use COMPRESS=DEFLATE, even where a server offers it'
            cand --verify 'Re-fetch every body and compare it with the fingerprint recorded when it was synced: `check` reports content damaged in place, `plan` and `sync` replace it from the other side (reads every message)'
            cand --ssl1 'TLS from the first byte to A (imaps)'
            cand --ssl2 'TLS from the first byte to B (imaps)'
            cand --tls1 'STARTTLS to A (the default without --ssl1 anyway)'
            cand --tls2 'STARTTLS to B (the default without --ssl2 anyway)'
            cand --dry 'With sync: only show the Plan, as `plan` does'
            cand --delete2 'As --delete-extra: delete messages on B that A does not have'
            cand --json 'Print the Plan (or the check result) as JSON on standard output'
            cand -v 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)'
            cand --verbose 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)'
            cand -q 'Only errors on standard error'
            cand --quiet 'Only errors on standard error'
            cand --apply 'Do it; without, only print what would be done (docs/AUDIT.md)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'imapmend;completions'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'imapmend;man'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'imapmend;help'= {
            cand plan 'Dry run: show the Plan, change nothing on either server'
            cand sync 'Show the Plan, apply it to both servers and save the snapshot'
            cand check 'Read-only (EXAMINE): judge whether A and B hold the same mail and flags'
            cand batch 'Run plan, sync or check over a list of account pairs (CSV or TOML)'
            cand snapshot 'What a snapshot remembers (show), or delete it (forget)'
            cand log 'What sync wrote to the servers: the action log beside the snapshot'
            cand undo 'Take back one sync (--run ID): quarantined messages moved back, its flag changes reverted; prints what it would do unless --apply'
            cand completions 'Print shell completions for SHELL on standard output'
            cand man 'Print a man page (roff) on standard output: `imapmend man | man -l -`'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'imapmend;help;plan'= {
        }
        &'imapmend;help;sync'= {
        }
        &'imapmend;help;check'= {
        }
        &'imapmend;help;batch'= {
        }
        &'imapmend;help;snapshot'= {
            cand show 'Which mailboxes the snapshot knows, pair counts, cached messages and sizes, pending copies, and whether a run holds it now'
            cand forget 'Delete the snapshot (and its -wal, -shm and .lock files); refused while a run holds it. The next run starts as a first meeting'
            cand verify 'Check the file: SQLite''s integrity check and the snapshot''s own invariants (every pair has its cache rows, levels and watermarks are valid); read-only. Exit 0 sound, 1 problems found, 3 cannot check'
        }
        &'imapmend;help;snapshot;show'= {
        }
        &'imapmend;help;snapshot;forget'= {
        }
        &'imapmend;help;snapshot;verify'= {
        }
        &'imapmend;help;log'= {
            cand show 'Every write sync sent (APPEND, STORE, EXPUNGE, MOVE, CREATE, RENAME, DELETE, SUBSCRIBE), one row per command, with its outcome; "not confirmed" where the run ended before the answer was logged'
        }
        &'imapmend;help;log;show'= {
        }
        &'imapmend;help;undo'= {
        }
        &'imapmend;help;completions'= {
        }
        &'imapmend;help;man'= {
        }
        &'imapmend;help;help'= {
        }
    ]
    $completions[$command]
}
