# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_imapmend_global_optspecs
    string join \n h/help V/version
end

function __fish_imapmend_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_imapmend_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_imapmend_using_subcommand
    set -l cmd (__fish_imapmend_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c imapmend -n "__fish_imapmend_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imapmend -n "__fish_imapmend_needs_command" -s V -l version -d 'Print version'
complete -c imapmend -n "__fish_imapmend_needs_command" -f -a "plan" -d 'Dry run: show the Plan, change nothing on either server'
complete -c imapmend -n "__fish_imapmend_needs_command" -f -a "sync" -d 'Show the Plan, apply it to both servers and save the snapshot'
complete -c imapmend -n "__fish_imapmend_needs_command" -f -a "check" -d 'Read-only (EXAMINE): judge whether A and B hold the same mail and flags'
complete -c imapmend -n "__fish_imapmend_needs_command" -f -a "batch" -d 'Run plan, sync or check over a list of account pairs (CSV or TOML)'
complete -c imapmend -n "__fish_imapmend_needs_command" -f -a "snapshot" -d 'What a snapshot remembers (show), or delete it (forget)'
complete -c imapmend -n "__fish_imapmend_needs_command" -f -a "log" -d 'What sync wrote to the servers: the action log beside the snapshot'
complete -c imapmend -n "__fish_imapmend_needs_command" -f -a "undo" -d 'Take back one sync (--run ID): quarantined messages moved back, its flag changes reverted; prints what it would do unless --apply'
complete -c imapmend -n "__fish_imapmend_needs_command" -f -a "completions" -d 'Print shell completions for SHELL on standard output'
complete -c imapmend -n "__fish_imapmend_needs_command" -f -a "man" -d 'Print a man page (roff) on standard output: `imapmend man | man -l -`'
complete -c imapmend -n "__fish_imapmend_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l config -d 'Read settings from this TOML file; command-line options override it' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l a -d 'Server A: imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l b -d 'Server B, in the same form as --a' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l state -d 'The snapshot file [default: a file named after both endpoints in $XDG_STATE_HOME/imapmend/]' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l a-tls -d 'TLS for A, overriding the URL scheme\'s default' -r -f -a "implicit\t'TLS from the first byte (imaps)'
starttls\t'plain greeting, then STARTTLS, required'
none\t'no TLS (loopback, or with --allow-plaintext-auth)'"
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l b-tls -d 'TLS for B, overriding the URL scheme\'s default' -r -f -a "implicit\t'TLS from the first byte (imaps)'
starttls\t'plain greeting, then STARTTLS, required'
none\t'no TLS (loopback, or with --allow-plaintext-auth)'"
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l a-ca-file -d 'Extra CA certificate(s) (PEM) to trust for A, besides the system roots, or A\'s own (self-signed) certificate' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l b-ca-file -d 'Extra CA certificate(s) (PEM) to trust for B, or B\'s own certificate, as --a-ca-file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l a-fingerprint -d 'Trust only a certificate for A with this fingerprint (repeatable): sha256:HEX, spki-sha256:BASE64 or sha256//BASE64' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l b-fingerprint -d 'Trust only a certificate for B with this fingerprint, as --a-fingerprint' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l a-tunnel -d 'Talk to A through this command\'s stdin/stdout (run with `sh -c`) instead of TCP' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l b-tunnel -d 'Talk to B through this command\'s stdin/stdout, as --a-tunnel' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l a-password-file -d 'Read A\'s password from this file (one trailing newline removed)' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l b-password-file -d 'Read B\'s password from this file (one trailing newline removed)' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l a-password-command -d 'Run CMD with `sh -c`; its standard output is A\'s password' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l b-password-command -d 'Run CMD with `sh -c`; its standard output is B\'s password' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l a-oauth2-token-command -d 'Log in to A with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l b-oauth2-token-command -d 'Log in to B with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l prefer -d 'Without a snapshot base, this side\'s flags win instead of the union' -r -f -a "a\t''
b\t''"
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l max-delete -d 'Withhold a mailbox\'s deletions on a side when they exceed N, or P% of its pairs (never fewer than 10) [default: 50%]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l restored -d 'This side was restored from a backup: the other side\'s flags win, and mail missing here is copied back, never taken as deleted' -r -f -a "a\t''
b\t''"
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l deletes -d 'How proven deletions are carried out [default: expunge]' -r -f -a "expunge\t'set \\Deleted, then UID EXPUNGE exactly those UIDs'
flag-only\t'only set \\Deleted; never expunge'"
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l identity -d 'What a message is known by. `headers`, for servers that rebuild messages on FETCH (Exchange, Office 365): what content leaves unpaired pairs by a Message-ID unique among them on both sides, with Date, From and fetched size agreeing; such a pair never proves a deletion, and a changed RFC822.SIZE is no sign of a restore [default: content]' -r -f -a "content\t'the content hash, exact or normalised'
headers\t'content, then Message-ID + Date + From + size (servers that rebuild messages)'"
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l expunge-to -d 'Move what would be expunged into MAILBOX on the same side instead (created on first use, left out of every run; a top-level name without delimiters). `imapmend log show` lists what went there' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l quarantine-days -d 'With --expunge-to: each sync expunges from the quarantine what imapmend moved there at least N days ago (under --max-delete)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l one-way -d 'Copy in one direction only; the target is never read as a source' -r -f -a "a-to-b\t'A is the source, B the target'
b-to-a\t'B is the source, A the target'"
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l tombstone-days -d 'How long the content of a proven expunge is remembered as a tombstone, in days (default 90; 0 forgets them at the next run)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l max-size -d 'Do not copy messages larger than SIZE (bytes, or 512K, 10M, 1G): they are skipped and reported, never taken as deleted' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l retries -d 'When a connection is lost or stalls during the run, reconnect and redo the work from a fresh listing up to N times (backoff 1 s, 2 s, 4 s …) before it fails [default: 2]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l connections -d 'Connections per server: up to N mailboxes are listed and applied at once (1 to 16; a server that refuses more gets fewer, with a warning) [default: 4]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l max-messages-per-second -d 'For providers that throttle: move at most N message bodies per second (fetched and appended, both servers together)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l max-bytes-per-second -d 'For providers that throttle: send and receive at most SIZE bytes per second (bytes, or 512K, 10M), both servers together' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l folder -d 'Only this mailbox (logical name, `/` between levels); repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l folderrec -d 'Only this mailbox and the ones below it; repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l include -d 'Only mailboxes whose name matches REGEX (unanchored); repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l exclude -d 'Leave out mailboxes whose name matches REGEX (unanchored); repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l a-prefix -d 'A\'s folders live under this wire prefix, e.g. `INBOX.` (Courier, Cyrus): A\'s `INBOX.Sent` is then the mailbox `Sent`' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l b-prefix -d 'B\'s folders live under this wire prefix (as --a-prefix)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l map -d 'A\'s mailbox A_NAME is B\'s mailbox B_NAME, and the ones below them alike, e.g. --map "Sent Items=Sent"; repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l host1 -d 'Server A\'s host (imapsync style; with --user1, instead of --a)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l host2 -d 'Server B\'s host (with --user2, instead of --b)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l user1 -d 'Server A\'s user' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l user2 -d 'Server B\'s user' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l port1 -d 'Server A\'s port [default: 143, or 993 with --ssl1]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l port2 -d 'Server B\'s port [default: 143, or 993 with --ssl2]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l passfile1 -d 'As --a-password-file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l passfile2 -d 'As --b-password-file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l password1 -d 'Refused: passwords never go on the command line' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l password2 -d 'Refused: passwords never go on the command line' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l save -d 'Also write the report (as --json prints it) to FILE, for review and for `sync --expect-plan FILE`' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l allow-plaintext-auth -d 'Send passwords without TLS (with --X-tls none) even to a host that is not loopback'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l delete-mailboxes -d 'Delete a mailbox on one side when it was proven deleted on the other'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l delete-extra -d 'With --one-way: delete messages found only on the target side'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l no-tombstones -d 'On a restored side, copy back messages whose expunge was proven earlier (tombstones) instead of expunging them there again'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l drop-restored-extras -d 'Expunge messages found only on a restored side (they may be mail deleted since the backup) instead of copying them to the other side'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l retry-refused -d 'Copy again the messages a server refused on an earlier run (by default they are skipped until they change)'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l no-compress -d 'Never use COMPRESS=DEFLATE, even where a server offers it'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l verify -d 'Re-fetch every body and compare it with the fingerprint recorded when it was synced: `check` reports content damaged in place, `plan` and `sync` replace it from the other side (reads every message)'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l ssl1 -d 'TLS from the first byte to A (imaps)'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l ssl2 -d 'TLS from the first byte to B (imaps)'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l tls1 -d 'STARTTLS to A (the default without --ssl1 anyway)'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l tls2 -d 'STARTTLS to B (the default without --ssl2 anyway)'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l dry -d 'With sync: only show the Plan, as `plan` does'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l delete2 -d 'As --delete-extra: delete messages on B that A does not have'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -l json -d 'Print the Plan (or the check result) as JSON on standard output'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -s v -l verbose -d 'More detail: -v every action in the report and each mailbox\'s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -s q -l quiet -d 'Only errors on standard error'
complete -c imapmend -n "__fish_imapmend_using_subcommand plan" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l config -d 'Read settings from this TOML file; command-line options override it' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l a -d 'Server A: imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l b -d 'Server B, in the same form as --a' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l state -d 'The snapshot file [default: a file named after both endpoints in $XDG_STATE_HOME/imapmend/]' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l a-tls -d 'TLS for A, overriding the URL scheme\'s default' -r -f -a "implicit\t'TLS from the first byte (imaps)'
starttls\t'plain greeting, then STARTTLS, required'
none\t'no TLS (loopback, or with --allow-plaintext-auth)'"
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l b-tls -d 'TLS for B, overriding the URL scheme\'s default' -r -f -a "implicit\t'TLS from the first byte (imaps)'
starttls\t'plain greeting, then STARTTLS, required'
none\t'no TLS (loopback, or with --allow-plaintext-auth)'"
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l a-ca-file -d 'Extra CA certificate(s) (PEM) to trust for A, besides the system roots, or A\'s own (self-signed) certificate' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l b-ca-file -d 'Extra CA certificate(s) (PEM) to trust for B, or B\'s own certificate, as --a-ca-file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l a-fingerprint -d 'Trust only a certificate for A with this fingerprint (repeatable): sha256:HEX, spki-sha256:BASE64 or sha256//BASE64' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l b-fingerprint -d 'Trust only a certificate for B with this fingerprint, as --a-fingerprint' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l a-tunnel -d 'Talk to A through this command\'s stdin/stdout (run with `sh -c`) instead of TCP' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l b-tunnel -d 'Talk to B through this command\'s stdin/stdout, as --a-tunnel' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l a-password-file -d 'Read A\'s password from this file (one trailing newline removed)' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l b-password-file -d 'Read B\'s password from this file (one trailing newline removed)' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l a-password-command -d 'Run CMD with `sh -c`; its standard output is A\'s password' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l b-password-command -d 'Run CMD with `sh -c`; its standard output is B\'s password' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l a-oauth2-token-command -d 'Log in to A with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l b-oauth2-token-command -d 'Log in to B with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l prefer -d 'Without a snapshot base, this side\'s flags win instead of the union' -r -f -a "a\t''
b\t''"
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l max-delete -d 'Withhold a mailbox\'s deletions on a side when they exceed N, or P% of its pairs (never fewer than 10) [default: 50%]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l restored -d 'This side was restored from a backup: the other side\'s flags win, and mail missing here is copied back, never taken as deleted' -r -f -a "a\t''
b\t''"
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l deletes -d 'How proven deletions are carried out [default: expunge]' -r -f -a "expunge\t'set \\Deleted, then UID EXPUNGE exactly those UIDs'
flag-only\t'only set \\Deleted; never expunge'"
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l identity -d 'What a message is known by. `headers`, for servers that rebuild messages on FETCH (Exchange, Office 365): what content leaves unpaired pairs by a Message-ID unique among them on both sides, with Date, From and fetched size agreeing; such a pair never proves a deletion, and a changed RFC822.SIZE is no sign of a restore [default: content]' -r -f -a "content\t'the content hash, exact or normalised'
headers\t'content, then Message-ID + Date + From + size (servers that rebuild messages)'"
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l expunge-to -d 'Move what would be expunged into MAILBOX on the same side instead (created on first use, left out of every run; a top-level name without delimiters). `imapmend log show` lists what went there' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l quarantine-days -d 'With --expunge-to: each sync expunges from the quarantine what imapmend moved there at least N days ago (under --max-delete)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l one-way -d 'Copy in one direction only; the target is never read as a source' -r -f -a "a-to-b\t'A is the source, B the target'
b-to-a\t'B is the source, A the target'"
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l tombstone-days -d 'How long the content of a proven expunge is remembered as a tombstone, in days (default 90; 0 forgets them at the next run)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l max-size -d 'Do not copy messages larger than SIZE (bytes, or 512K, 10M, 1G): they are skipped and reported, never taken as deleted' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l retries -d 'When a connection is lost or stalls during the run, reconnect and redo the work from a fresh listing up to N times (backoff 1 s, 2 s, 4 s …) before it fails [default: 2]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l connections -d 'Connections per server: up to N mailboxes are listed and applied at once (1 to 16; a server that refuses more gets fewer, with a warning) [default: 4]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l max-messages-per-second -d 'For providers that throttle: move at most N message bodies per second (fetched and appended, both servers together)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l max-bytes-per-second -d 'For providers that throttle: send and receive at most SIZE bytes per second (bytes, or 512K, 10M), both servers together' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l folder -d 'Only this mailbox (logical name, `/` between levels); repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l folderrec -d 'Only this mailbox and the ones below it; repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l include -d 'Only mailboxes whose name matches REGEX (unanchored); repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l exclude -d 'Leave out mailboxes whose name matches REGEX (unanchored); repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l a-prefix -d 'A\'s folders live under this wire prefix, e.g. `INBOX.` (Courier, Cyrus): A\'s `INBOX.Sent` is then the mailbox `Sent`' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l b-prefix -d 'B\'s folders live under this wire prefix (as --a-prefix)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l map -d 'A\'s mailbox A_NAME is B\'s mailbox B_NAME, and the ones below them alike, e.g. --map "Sent Items=Sent"; repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l host1 -d 'Server A\'s host (imapsync style; with --user1, instead of --a)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l host2 -d 'Server B\'s host (with --user2, instead of --b)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l user1 -d 'Server A\'s user' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l user2 -d 'Server B\'s user' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l port1 -d 'Server A\'s port [default: 143, or 993 with --ssl1]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l port2 -d 'Server B\'s port [default: 143, or 993 with --ssl2]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l passfile1 -d 'As --a-password-file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l passfile2 -d 'As --b-password-file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l password1 -d 'Refused: passwords never go on the command line' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l password2 -d 'Refused: passwords never go on the command line' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l expect-plan -d 'Refuse (exit 4, nothing applied) if the live plan deletes any message the plan saved in FILE (`plan --save`) did not' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l metrics -d 'Write the outcome in Prometheus text format to FILE (atomically), for node_exporter\'s textfile collector' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l scrub -d 'Also re-read the bodies verified longest ago (never verified first) and compare them with what was recorded, up to BUDGET per side: a share of the messages (2%), a size (500M) or a time (30s); `check` reports damage, `sync` replaces it from the healthy side' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l allow-plaintext-auth -d 'Send passwords without TLS (with --X-tls none) even to a host that is not loopback'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l delete-mailboxes -d 'Delete a mailbox on one side when it was proven deleted on the other'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l delete-extra -d 'With --one-way: delete messages found only on the target side'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l no-tombstones -d 'On a restored side, copy back messages whose expunge was proven earlier (tombstones) instead of expunging them there again'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l drop-restored-extras -d 'Expunge messages found only on a restored side (they may be mail deleted since the backup) instead of copying them to the other side'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l retry-refused -d 'Copy again the messages a server refused on an earlier run (by default they are skipped until they change)'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l no-compress -d 'Never use COMPRESS=DEFLATE, even where a server offers it'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l verify -d 'Re-fetch every body and compare it with the fingerprint recorded when it was synced: `check` reports content damaged in place, `plan` and `sync` replace it from the other side (reads every message)'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l ssl1 -d 'TLS from the first byte to A (imaps)'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l ssl2 -d 'TLS from the first byte to B (imaps)'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l tls1 -d 'STARTTLS to A (the default without --ssl1 anyway)'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l tls2 -d 'STARTTLS to B (the default without --ssl2 anyway)'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l dry -d 'With sync: only show the Plan, as `plan` does'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l delete2 -d 'As --delete-extra: delete messages on B that A does not have'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -l json -d 'Print the Plan (or the check result) as JSON on standard output'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -s v -l verbose -d 'More detail: -v every action in the report and each mailbox\'s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -s q -l quiet -d 'Only errors on standard error'
complete -c imapmend -n "__fish_imapmend_using_subcommand sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l config -d 'Read settings from this TOML file; command-line options override it' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l a -d 'Server A: imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l b -d 'Server B, in the same form as --a' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l state -d 'The snapshot file [default: a file named after both endpoints in $XDG_STATE_HOME/imapmend/]' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l a-tls -d 'TLS for A, overriding the URL scheme\'s default' -r -f -a "implicit\t'TLS from the first byte (imaps)'
starttls\t'plain greeting, then STARTTLS, required'
none\t'no TLS (loopback, or with --allow-plaintext-auth)'"
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l b-tls -d 'TLS for B, overriding the URL scheme\'s default' -r -f -a "implicit\t'TLS from the first byte (imaps)'
starttls\t'plain greeting, then STARTTLS, required'
none\t'no TLS (loopback, or with --allow-plaintext-auth)'"
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l a-ca-file -d 'Extra CA certificate(s) (PEM) to trust for A, besides the system roots, or A\'s own (self-signed) certificate' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l b-ca-file -d 'Extra CA certificate(s) (PEM) to trust for B, or B\'s own certificate, as --a-ca-file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l a-fingerprint -d 'Trust only a certificate for A with this fingerprint (repeatable): sha256:HEX, spki-sha256:BASE64 or sha256//BASE64' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l b-fingerprint -d 'Trust only a certificate for B with this fingerprint, as --a-fingerprint' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l a-tunnel -d 'Talk to A through this command\'s stdin/stdout (run with `sh -c`) instead of TCP' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l b-tunnel -d 'Talk to B through this command\'s stdin/stdout, as --a-tunnel' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l a-password-file -d 'Read A\'s password from this file (one trailing newline removed)' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l b-password-file -d 'Read B\'s password from this file (one trailing newline removed)' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l a-password-command -d 'Run CMD with `sh -c`; its standard output is A\'s password' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l b-password-command -d 'Run CMD with `sh -c`; its standard output is B\'s password' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l a-oauth2-token-command -d 'Log in to A with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l b-oauth2-token-command -d 'Log in to B with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l prefer -d 'Without a snapshot base, this side\'s flags win instead of the union' -r -f -a "a\t''
b\t''"
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l max-delete -d 'Withhold a mailbox\'s deletions on a side when they exceed N, or P% of its pairs (never fewer than 10) [default: 50%]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l restored -d 'This side was restored from a backup: the other side\'s flags win, and mail missing here is copied back, never taken as deleted' -r -f -a "a\t''
b\t''"
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l deletes -d 'How proven deletions are carried out [default: expunge]' -r -f -a "expunge\t'set \\Deleted, then UID EXPUNGE exactly those UIDs'
flag-only\t'only set \\Deleted; never expunge'"
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l identity -d 'What a message is known by. `headers`, for servers that rebuild messages on FETCH (Exchange, Office 365): what content leaves unpaired pairs by a Message-ID unique among them on both sides, with Date, From and fetched size agreeing; such a pair never proves a deletion, and a changed RFC822.SIZE is no sign of a restore [default: content]' -r -f -a "content\t'the content hash, exact or normalised'
headers\t'content, then Message-ID + Date + From + size (servers that rebuild messages)'"
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l expunge-to -d 'Move what would be expunged into MAILBOX on the same side instead (created on first use, left out of every run; a top-level name without delimiters). `imapmend log show` lists what went there' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l quarantine-days -d 'With --expunge-to: each sync expunges from the quarantine what imapmend moved there at least N days ago (under --max-delete)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l one-way -d 'Copy in one direction only; the target is never read as a source' -r -f -a "a-to-b\t'A is the source, B the target'
b-to-a\t'B is the source, A the target'"
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l tombstone-days -d 'How long the content of a proven expunge is remembered as a tombstone, in days (default 90; 0 forgets them at the next run)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l max-size -d 'Do not copy messages larger than SIZE (bytes, or 512K, 10M, 1G): they are skipped and reported, never taken as deleted' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l retries -d 'When a connection is lost or stalls during the run, reconnect and redo the work from a fresh listing up to N times (backoff 1 s, 2 s, 4 s …) before it fails [default: 2]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l connections -d 'Connections per server: up to N mailboxes are listed and applied at once (1 to 16; a server that refuses more gets fewer, with a warning) [default: 4]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l max-messages-per-second -d 'For providers that throttle: move at most N message bodies per second (fetched and appended, both servers together)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l max-bytes-per-second -d 'For providers that throttle: send and receive at most SIZE bytes per second (bytes, or 512K, 10M), both servers together' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l folder -d 'Only this mailbox (logical name, `/` between levels); repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l folderrec -d 'Only this mailbox and the ones below it; repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l include -d 'Only mailboxes whose name matches REGEX (unanchored); repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l exclude -d 'Leave out mailboxes whose name matches REGEX (unanchored); repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l a-prefix -d 'A\'s folders live under this wire prefix, e.g. `INBOX.` (Courier, Cyrus): A\'s `INBOX.Sent` is then the mailbox `Sent`' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l b-prefix -d 'B\'s folders live under this wire prefix (as --a-prefix)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l map -d 'A\'s mailbox A_NAME is B\'s mailbox B_NAME, and the ones below them alike, e.g. --map "Sent Items=Sent"; repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l host1 -d 'Server A\'s host (imapsync style; with --user1, instead of --a)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l host2 -d 'Server B\'s host (with --user2, instead of --b)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l user1 -d 'Server A\'s user' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l user2 -d 'Server B\'s user' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l port1 -d 'Server A\'s port [default: 143, or 993 with --ssl1]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l port2 -d 'Server B\'s port [default: 143, or 993 with --ssl2]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l passfile1 -d 'As --a-password-file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l passfile2 -d 'As --b-password-file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l password1 -d 'Refused: passwords never go on the command line' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l password2 -d 'Refused: passwords never go on the command line' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l metrics -d 'Write the outcome in Prometheus text format to FILE (atomically), for node_exporter\'s textfile collector' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l scrub -d 'Also re-read the bodies verified longest ago (never verified first) and compare them with what was recorded, up to BUDGET per side: a share of the messages (2%), a size (500M) or a time (30s); `check` reports damage, `sync` replaces it from the healthy side' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l timeout -d 'Give up after SECONDS in all (connect, list, compare): exit 3, no verdict' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l allow-plaintext-auth -d 'Send passwords without TLS (with --X-tls none) even to a host that is not loopback'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l delete-mailboxes -d 'Delete a mailbox on one side when it was proven deleted on the other'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l delete-extra -d 'With --one-way: delete messages found only on the target side'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l no-tombstones -d 'On a restored side, copy back messages whose expunge was proven earlier (tombstones) instead of expunging them there again'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l drop-restored-extras -d 'Expunge messages found only on a restored side (they may be mail deleted since the backup) instead of copying them to the other side'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l retry-refused -d 'Copy again the messages a server refused on an earlier run (by default they are skipped until they change)'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l no-compress -d 'Never use COMPRESS=DEFLATE, even where a server offers it'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l verify -d 'Re-fetch every body and compare it with the fingerprint recorded when it was synced: `check` reports content damaged in place, `plan` and `sync` replace it from the other side (reads every message)'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l ssl1 -d 'TLS from the first byte to A (imaps)'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l ssl2 -d 'TLS from the first byte to B (imaps)'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l tls1 -d 'STARTTLS to A (the default without --ssl1 anyway)'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l tls2 -d 'STARTTLS to B (the default without --ssl2 anyway)'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l dry -d 'With sync: only show the Plan, as `plan` does'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l delete2 -d 'As --delete-extra: delete messages on B that A does not have'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -l json -d 'Print the Plan (or the check result) as JSON on standard output'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -s v -l verbose -d 'More detail: -v every action in the report and each mailbox\'s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -s q -l quiet -d 'Only errors on standard error'
complete -c imapmend -n "__fish_imapmend_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imapmend -n "__fish_imapmend_using_subcommand batch" -s j -l jobs -d 'How many pairs run at once' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand batch" -l shard -d 'Run only shard I of N (0-based): each pair always falls in the same shard, so hosts or job-array tasks can split a list without coordination' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand batch" -l config -d 'A config file every pair\'s run reads (shared TLS, policies …); each pair\'s --a/--b override its URLs' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand batch" -l pair-timeout -d 'Stop a pair\'s run after SECONDS (it counts as exit 2; a rerun resumes safely), so one hung account cannot hold up the batch' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand batch" -l log-dir -d 'Keep each pair\'s standard output and error in DIR (NAME.out, NAME.err)' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand batch" -l json -d 'Print the outcomes (with each pair\'s report) as JSON'
complete -c imapmend -n "__fish_imapmend_using_subcommand batch" -s q -l quiet -d 'No line per finished pair on standard error'
complete -c imapmend -n "__fish_imapmend_using_subcommand batch" -s h -l help -d 'Print help'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and not __fish_seen_subcommand_from show forget verify help" -s h -l help -d 'Print help'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and not __fish_seen_subcommand_from show forget verify help" -f -a "show" -d 'Which mailboxes the snapshot knows, pair counts, cached messages and sizes, pending copies, and whether a run holds it now'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and not __fish_seen_subcommand_from show forget verify help" -f -a "forget" -d 'Delete the snapshot (and its -wal, -shm and .lock files); refused while a run holds it. The next run starts as a first meeting'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and not __fish_seen_subcommand_from show forget verify help" -f -a "verify" -d 'Check the file: SQLite\'s integrity check and the snapshot\'s own invariants (every pair has its cache rows, levels and watermarks are valid); read-only. Exit 0 sound, 1 problems found, 3 cannot check'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and not __fish_seen_subcommand_from show forget verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from show" -l config -d 'Read --a, --b and the state path from this TOML file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from show" -l a -d 'Server A, to find the default snapshot (no password needed)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from show" -l b -d 'Server B, to find the default snapshot' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from show" -l state -d 'The snapshot file itself (then --a and --b are optional)' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from show" -l json -d 'Print as JSON on standard output'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from forget" -l config -d 'Read --a, --b and the state path from this TOML file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from forget" -l a -d 'Server A, to find the default snapshot (no password needed)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from forget" -l b -d 'Server B, to find the default snapshot' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from forget" -l state -d 'The snapshot file itself (then --a and --b are optional)' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from forget" -l json -d 'Print as JSON on standard output'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from forget" -s h -l help -d 'Print help'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from verify" -l config -d 'Read --a, --b and the state path from this TOML file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from verify" -l a -d 'Server A, to find the default snapshot (no password needed)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from verify" -l b -d 'Server B, to find the default snapshot' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from verify" -l state -d 'The snapshot file itself (then --a and --b are optional)' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from verify" -l json -d 'Print as JSON on standard output'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "show" -d 'Which mailboxes the snapshot knows, pair counts, cached messages and sizes, pending copies, and whether a run holds it now'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "forget" -d 'Delete the snapshot (and its -wal, -shm and .lock files); refused while a run holds it. The next run starts as a first meeting'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check the file: SQLite\'s integrity check and the snapshot\'s own invariants (every pair has its cache rows, levels and watermarks are valid); read-only. Exit 0 sound, 1 problems found, 3 cannot check'
complete -c imapmend -n "__fish_imapmend_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c imapmend -n "__fish_imapmend_using_subcommand log; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c imapmend -n "__fish_imapmend_using_subcommand log; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Every write sync sent (APPEND, STORE, EXPUNGE, MOVE, CREATE, RENAME, DELETE, SUBSCRIBE), one row per command, with its outcome; "not confirmed" where the run ended before the answer was logged'
complete -c imapmend -n "__fish_imapmend_using_subcommand log; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c imapmend -n "__fish_imapmend_using_subcommand log; and __fish_seen_subcommand_from show" -l config -d 'Read --a, --b and the state path from this TOML file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand log; and __fish_seen_subcommand_from show" -l a -d 'Server A, to find the default snapshot (no password needed)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand log; and __fish_seen_subcommand_from show" -l b -d 'Server B, to find the default snapshot' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand log; and __fish_seen_subcommand_from show" -l state -d 'The snapshot file itself (then --a and --b are optional)' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand log; and __fish_seen_subcommand_from show" -l run -d 'Only this run (the run id a sync\'s --json report carries)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand log; and __fish_seen_subcommand_from show" -l since -d 'Only writes at or after this UTC time (2026-12-07, 2026-12-07T10:00)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand log; and __fish_seen_subcommand_from show" -l json -d 'Print as JSON on standard output'
complete -c imapmend -n "__fish_imapmend_using_subcommand log; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c imapmend -n "__fish_imapmend_using_subcommand log; and __fish_seen_subcommand_from help" -f -a "show" -d 'Every write sync sent (APPEND, STORE, EXPUNGE, MOVE, CREATE, RENAME, DELETE, SUBSCRIBE), one row per command, with its outcome; "not confirmed" where the run ended before the answer was logged'
complete -c imapmend -n "__fish_imapmend_using_subcommand log; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l config -d 'Read settings from this TOML file; command-line options override it' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l a -d 'Server A: imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l b -d 'Server B, in the same form as --a' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l state -d 'The snapshot file [default: a file named after both endpoints in $XDG_STATE_HOME/imapmend/]' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l a-tls -d 'TLS for A, overriding the URL scheme\'s default' -r -f -a "implicit\t'TLS from the first byte (imaps)'
starttls\t'plain greeting, then STARTTLS, required'
none\t'no TLS (loopback, or with --allow-plaintext-auth)'"
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l b-tls -d 'TLS for B, overriding the URL scheme\'s default' -r -f -a "implicit\t'TLS from the first byte (imaps)'
starttls\t'plain greeting, then STARTTLS, required'
none\t'no TLS (loopback, or with --allow-plaintext-auth)'"
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l a-ca-file -d 'Extra CA certificate(s) (PEM) to trust for A, besides the system roots, or A\'s own (self-signed) certificate' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l b-ca-file -d 'Extra CA certificate(s) (PEM) to trust for B, or B\'s own certificate, as --a-ca-file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l a-fingerprint -d 'Trust only a certificate for A with this fingerprint (repeatable): sha256:HEX, spki-sha256:BASE64 or sha256//BASE64' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l b-fingerprint -d 'Trust only a certificate for B with this fingerprint, as --a-fingerprint' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l a-tunnel -d 'Talk to A through this command\'s stdin/stdout (run with `sh -c`) instead of TCP' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l b-tunnel -d 'Talk to B through this command\'s stdin/stdout, as --a-tunnel' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l a-password-file -d 'Read A\'s password from this file (one trailing newline removed)' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l b-password-file -d 'Read B\'s password from this file (one trailing newline removed)' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l a-password-command -d 'Run CMD with `sh -c`; its standard output is A\'s password' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l b-password-command -d 'Run CMD with `sh -c`; its standard output is B\'s password' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l a-oauth2-token-command -d 'Log in to A with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l b-oauth2-token-command -d 'Log in to B with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l prefer -d 'Without a snapshot base, this side\'s flags win instead of the union' -r -f -a "a\t''
b\t''"
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l max-delete -d 'Withhold a mailbox\'s deletions on a side when they exceed N, or P% of its pairs (never fewer than 10) [default: 50%]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l restored -d 'This side was restored from a backup: the other side\'s flags win, and mail missing here is copied back, never taken as deleted' -r -f -a "a\t''
b\t''"
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l deletes -d 'How proven deletions are carried out [default: expunge]' -r -f -a "expunge\t'set \\Deleted, then UID EXPUNGE exactly those UIDs'
flag-only\t'only set \\Deleted; never expunge'"
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l identity -d 'What a message is known by. `headers`, for servers that rebuild messages on FETCH (Exchange, Office 365): what content leaves unpaired pairs by a Message-ID unique among them on both sides, with Date, From and fetched size agreeing; such a pair never proves a deletion, and a changed RFC822.SIZE is no sign of a restore [default: content]' -r -f -a "content\t'the content hash, exact or normalised'
headers\t'content, then Message-ID + Date + From + size (servers that rebuild messages)'"
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l expunge-to -d 'Move what would be expunged into MAILBOX on the same side instead (created on first use, left out of every run; a top-level name without delimiters). `imapmend log show` lists what went there' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l quarantine-days -d 'With --expunge-to: each sync expunges from the quarantine what imapmend moved there at least N days ago (under --max-delete)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l one-way -d 'Copy in one direction only; the target is never read as a source' -r -f -a "a-to-b\t'A is the source, B the target'
b-to-a\t'B is the source, A the target'"
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l tombstone-days -d 'How long the content of a proven expunge is remembered as a tombstone, in days (default 90; 0 forgets them at the next run)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l max-size -d 'Do not copy messages larger than SIZE (bytes, or 512K, 10M, 1G): they are skipped and reported, never taken as deleted' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l retries -d 'When a connection is lost or stalls during the run, reconnect and redo the work from a fresh listing up to N times (backoff 1 s, 2 s, 4 s …) before it fails [default: 2]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l connections -d 'Connections per server: up to N mailboxes are listed and applied at once (1 to 16; a server that refuses more gets fewer, with a warning) [default: 4]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l max-messages-per-second -d 'For providers that throttle: move at most N message bodies per second (fetched and appended, both servers together)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l max-bytes-per-second -d 'For providers that throttle: send and receive at most SIZE bytes per second (bytes, or 512K, 10M), both servers together' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l folder -d 'Only this mailbox (logical name, `/` between levels); repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l folderrec -d 'Only this mailbox and the ones below it; repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l include -d 'Only mailboxes whose name matches REGEX (unanchored); repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l exclude -d 'Leave out mailboxes whose name matches REGEX (unanchored); repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l a-prefix -d 'A\'s folders live under this wire prefix, e.g. `INBOX.` (Courier, Cyrus): A\'s `INBOX.Sent` is then the mailbox `Sent`' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l b-prefix -d 'B\'s folders live under this wire prefix (as --a-prefix)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l map -d 'A\'s mailbox A_NAME is B\'s mailbox B_NAME, and the ones below them alike, e.g. --map "Sent Items=Sent"; repeatable' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l host1 -d 'Server A\'s host (imapsync style; with --user1, instead of --a)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l host2 -d 'Server B\'s host (with --user2, instead of --b)' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l user1 -d 'Server A\'s user' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l user2 -d 'Server B\'s user' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l port1 -d 'Server A\'s port [default: 143, or 993 with --ssl1]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l port2 -d 'Server B\'s port [default: 143, or 993 with --ssl2]' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l passfile1 -d 'As --a-password-file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l passfile2 -d 'As --b-password-file' -r -F
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l password1 -d 'Refused: passwords never go on the command line' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l password2 -d 'Refused: passwords never go on the command line' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l run -d 'The run to take back, as `log show` and --json reports name it' -r
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l allow-plaintext-auth -d 'Send passwords without TLS (with --X-tls none) even to a host that is not loopback'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l delete-mailboxes -d 'Delete a mailbox on one side when it was proven deleted on the other'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l delete-extra -d 'With --one-way: delete messages found only on the target side'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l no-tombstones -d 'On a restored side, copy back messages whose expunge was proven earlier (tombstones) instead of expunging them there again'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l drop-restored-extras -d 'Expunge messages found only on a restored side (they may be mail deleted since the backup) instead of copying them to the other side'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l retry-refused -d 'Copy again the messages a server refused on an earlier run (by default they are skipped until they change)'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l no-compress -d 'Never use COMPRESS=DEFLATE, even where a server offers it'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l verify -d 'Re-fetch every body and compare it with the fingerprint recorded when it was synced: `check` reports content damaged in place, `plan` and `sync` replace it from the other side (reads every message)'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l ssl1 -d 'TLS from the first byte to A (imaps)'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l ssl2 -d 'TLS from the first byte to B (imaps)'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l tls1 -d 'STARTTLS to A (the default without --ssl1 anyway)'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l tls2 -d 'STARTTLS to B (the default without --ssl2 anyway)'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l dry -d 'With sync: only show the Plan, as `plan` does'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l delete2 -d 'As --delete-extra: delete messages on B that A does not have'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l json -d 'Print the Plan (or the check result) as JSON on standard output'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -s v -l verbose -d 'More detail: -v every action in the report and each mailbox\'s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -s q -l quiet -d 'Only errors on standard error'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -l apply -d 'Do it; without, only print what would be done (docs/AUDIT.md)'
complete -c imapmend -n "__fish_imapmend_using_subcommand undo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imapmend -n "__fish_imapmend_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imapmend -n "__fish_imapmend_using_subcommand man" -s h -l help -d 'Print help'
complete -c imapmend -n "__fish_imapmend_using_subcommand help; and not __fish_seen_subcommand_from plan sync check batch snapshot log undo completions man help" -f -a "plan" -d 'Dry run: show the Plan, change nothing on either server'
complete -c imapmend -n "__fish_imapmend_using_subcommand help; and not __fish_seen_subcommand_from plan sync check batch snapshot log undo completions man help" -f -a "sync" -d 'Show the Plan, apply it to both servers and save the snapshot'
complete -c imapmend -n "__fish_imapmend_using_subcommand help; and not __fish_seen_subcommand_from plan sync check batch snapshot log undo completions man help" -f -a "check" -d 'Read-only (EXAMINE): judge whether A and B hold the same mail and flags'
complete -c imapmend -n "__fish_imapmend_using_subcommand help; and not __fish_seen_subcommand_from plan sync check batch snapshot log undo completions man help" -f -a "batch" -d 'Run plan, sync or check over a list of account pairs (CSV or TOML)'
complete -c imapmend -n "__fish_imapmend_using_subcommand help; and not __fish_seen_subcommand_from plan sync check batch snapshot log undo completions man help" -f -a "snapshot" -d 'What a snapshot remembers (show), or delete it (forget)'
complete -c imapmend -n "__fish_imapmend_using_subcommand help; and not __fish_seen_subcommand_from plan sync check batch snapshot log undo completions man help" -f -a "log" -d 'What sync wrote to the servers: the action log beside the snapshot'
complete -c imapmend -n "__fish_imapmend_using_subcommand help; and not __fish_seen_subcommand_from plan sync check batch snapshot log undo completions man help" -f -a "undo" -d 'Take back one sync (--run ID): quarantined messages moved back, its flag changes reverted; prints what it would do unless --apply'
complete -c imapmend -n "__fish_imapmend_using_subcommand help; and not __fish_seen_subcommand_from plan sync check batch snapshot log undo completions man help" -f -a "completions" -d 'Print shell completions for SHELL on standard output'
complete -c imapmend -n "__fish_imapmend_using_subcommand help; and not __fish_seen_subcommand_from plan sync check batch snapshot log undo completions man help" -f -a "man" -d 'Print a man page (roff) on standard output: `imapmend man | man -l -`'
complete -c imapmend -n "__fish_imapmend_using_subcommand help; and not __fish_seen_subcommand_from plan sync check batch snapshot log undo completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c imapmend -n "__fish_imapmend_using_subcommand help; and __fish_seen_subcommand_from snapshot" -f -a "show" -d 'Which mailboxes the snapshot knows, pair counts, cached messages and sizes, pending copies, and whether a run holds it now'
complete -c imapmend -n "__fish_imapmend_using_subcommand help; and __fish_seen_subcommand_from snapshot" -f -a "forget" -d 'Delete the snapshot (and its -wal, -shm and .lock files); refused while a run holds it. The next run starts as a first meeting'
complete -c imapmend -n "__fish_imapmend_using_subcommand help; and __fish_seen_subcommand_from snapshot" -f -a "verify" -d 'Check the file: SQLite\'s integrity check and the snapshot\'s own invariants (every pair has its cache rows, levels and watermarks are valid); read-only. Exit 0 sound, 1 problems found, 3 cannot check'
complete -c imapmend -n "__fish_imapmend_using_subcommand help; and __fish_seen_subcommand_from log" -f -a "show" -d 'Every write sync sent (APPEND, STORE, EXPUNGE, MOVE, CREATE, RENAME, DELETE, SUBSCRIBE), one row per command, with its outcome; "not confirmed" where the run ended before the answer was logged'
