
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'imapmend' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'imapmend'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'imapmend' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Dry run: show the Plan, change nothing on either server')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Show the Plan, apply it to both servers and save the snapshot')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Read-only (EXAMINE): judge whether A and B hold the same mail and flags')
            [CompletionResult]::new('batch', 'batch', [CompletionResultType]::ParameterValue, 'Run plan, sync or check over a list of account pairs (CSV or TOML)')
            [CompletionResult]::new('snapshot', 'snapshot', [CompletionResultType]::ParameterValue, 'What a snapshot remembers (show), or delete it (forget)')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'What sync wrote to the servers: the action log beside the snapshot')
            [CompletionResult]::new('undo', 'undo', [CompletionResultType]::ParameterValue, 'Take back one sync (--run ID): quarantined messages moved back, its flag changes reverted; prints what it would do unless --apply')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions for SHELL on standard output')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print a man page (roff) on standard output: `imapmend man | man -l -`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'imapmend;plan' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this TOML file; command-line options override it')
            [CompletionResult]::new('--a', '--a', [CompletionResultType]::ParameterName, 'Server A: imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]')
            [CompletionResult]::new('--b', '--b', [CompletionResultType]::ParameterName, 'Server B, in the same form as --a')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'The snapshot file [default: a file named after both endpoints in $XDG_STATE_HOME/imapmend/]')
            [CompletionResult]::new('--a-tls', '--a-tls', [CompletionResultType]::ParameterName, 'TLS for A, overriding the URL scheme''s default')
            [CompletionResult]::new('--b-tls', '--b-tls', [CompletionResultType]::ParameterName, 'TLS for B, overriding the URL scheme''s default')
            [CompletionResult]::new('--a-ca-file', '--a-ca-file', [CompletionResultType]::ParameterName, 'Extra CA certificate(s) (PEM) to trust for A, besides the system roots, or A''s own (self-signed) certificate')
            [CompletionResult]::new('--b-ca-file', '--b-ca-file', [CompletionResultType]::ParameterName, 'Extra CA certificate(s) (PEM) to trust for B, or B''s own certificate, as --a-ca-file')
            [CompletionResult]::new('--a-fingerprint', '--a-fingerprint', [CompletionResultType]::ParameterName, 'Trust only a certificate for A with this fingerprint (repeatable): sha256:HEX, spki-sha256:BASE64 or sha256//BASE64')
            [CompletionResult]::new('--b-fingerprint', '--b-fingerprint', [CompletionResultType]::ParameterName, 'Trust only a certificate for B with this fingerprint, as --a-fingerprint')
            [CompletionResult]::new('--a-tunnel', '--a-tunnel', [CompletionResultType]::ParameterName, 'Talk to A through this command''s stdin/stdout (run with `sh -c`) instead of TCP')
            [CompletionResult]::new('--b-tunnel', '--b-tunnel', [CompletionResultType]::ParameterName, 'Talk to B through this command''s stdin/stdout, as --a-tunnel')
            [CompletionResult]::new('--a-password-file', '--a-password-file', [CompletionResultType]::ParameterName, 'Read A''s password from this file (one trailing newline removed)')
            [CompletionResult]::new('--b-password-file', '--b-password-file', [CompletionResultType]::ParameterName, 'Read B''s password from this file (one trailing newline removed)')
            [CompletionResult]::new('--a-password-command', '--a-password-command', [CompletionResultType]::ParameterName, 'Run CMD with `sh -c`; its standard output is A''s password')
            [CompletionResult]::new('--b-password-command', '--b-password-command', [CompletionResultType]::ParameterName, 'Run CMD with `sh -c`; its standard output is B''s password')
            [CompletionResult]::new('--a-oauth2-token-command', '--a-oauth2-token-command', [CompletionResultType]::ParameterName, 'Log in to A with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token')
            [CompletionResult]::new('--b-oauth2-token-command', '--b-oauth2-token-command', [CompletionResultType]::ParameterName, 'Log in to B with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token')
            [CompletionResult]::new('--prefer', '--prefer', [CompletionResultType]::ParameterName, 'Without a snapshot base, this side''s flags win instead of the union')
            [CompletionResult]::new('--max-delete', '--max-delete', [CompletionResultType]::ParameterName, 'Withhold a mailbox''s deletions on a side when they exceed N, or P% of its pairs (never fewer than 10) [default: 50%]')
            [CompletionResult]::new('--restored', '--restored', [CompletionResultType]::ParameterName, 'This side was restored from a backup: the other side''s flags win, and mail missing here is copied back, never taken as deleted')
            [CompletionResult]::new('--deletes', '--deletes', [CompletionResultType]::ParameterName, 'How proven deletions are carried out [default: expunge]')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'What a message is known by. `headers`, for servers that rebuild messages on FETCH (Exchange, Office 365): what content leaves unpaired pairs by a Message-ID unique among them on both sides, with Date, From and fetched size agreeing; such a pair never proves a deletion, and a changed RFC822.SIZE is no sign of a restore [default: content]')
            [CompletionResult]::new('--expunge-to', '--expunge-to', [CompletionResultType]::ParameterName, 'Move what would be expunged into MAILBOX on the same side instead (created on first use, left out of every run; a top-level name without delimiters). `imapmend log show` lists what went there')
            [CompletionResult]::new('--quarantine-days', '--quarantine-days', [CompletionResultType]::ParameterName, 'With --expunge-to: each sync expunges from the quarantine what imapmend moved there at least N days ago (under --max-delete)')
            [CompletionResult]::new('--one-way', '--one-way', [CompletionResultType]::ParameterName, 'Copy in one direction only; the target is never read as a source')
            [CompletionResult]::new('--tombstone-days', '--tombstone-days', [CompletionResultType]::ParameterName, 'How long the content of a proven expunge is remembered as a tombstone, in days (default 90; 0 forgets them at the next run)')
            [CompletionResult]::new('--max-size', '--max-size', [CompletionResultType]::ParameterName, 'Do not copy messages larger than SIZE (bytes, or 512K, 10M, 1G): they are skipped and reported, never taken as deleted')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'When a connection is lost or stalls during the run, reconnect and redo the work from a fresh listing up to N times (backoff 1 s, 2 s, 4 s …) before it fails [default: 2]')
            [CompletionResult]::new('--connections', '--connections', [CompletionResultType]::ParameterName, 'Connections per server: up to N mailboxes are listed and applied at once (1 to 16; a server that refuses more gets fewer, with a warning) [default: 4]')
            [CompletionResult]::new('--max-messages-per-second', '--max-messages-per-second', [CompletionResultType]::ParameterName, 'For providers that throttle: move at most N message bodies per second (fetched and appended, both servers together)')
            [CompletionResult]::new('--max-bytes-per-second', '--max-bytes-per-second', [CompletionResultType]::ParameterName, 'For providers that throttle: send and receive at most SIZE bytes per second (bytes, or 512K, 10M), both servers together')
            [CompletionResult]::new('--folder', '--folder', [CompletionResultType]::ParameterName, 'Only this mailbox (logical name, `/` between levels); repeatable')
            [CompletionResult]::new('--folderrec', '--folderrec', [CompletionResultType]::ParameterName, 'Only this mailbox and the ones below it; repeatable')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Only mailboxes whose name matches REGEX (unanchored); repeatable')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out mailboxes whose name matches REGEX (unanchored); repeatable')
            [CompletionResult]::new('--a-prefix', '--a-prefix', [CompletionResultType]::ParameterName, 'A''s folders live under this wire prefix, e.g. `INBOX.` (Courier, Cyrus): A''s `INBOX.Sent` is then the mailbox `Sent`')
            [CompletionResult]::new('--b-prefix', '--b-prefix', [CompletionResultType]::ParameterName, 'B''s folders live under this wire prefix (as --a-prefix)')
            [CompletionResult]::new('--map', '--map', [CompletionResultType]::ParameterName, 'A''s mailbox A_NAME is B''s mailbox B_NAME, and the ones below them alike, e.g. --map "Sent Items=Sent"; repeatable')
            [CompletionResult]::new('--host1', '--host1', [CompletionResultType]::ParameterName, 'Server A''s host (imapsync style; with --user1, instead of --a)')
            [CompletionResult]::new('--host2', '--host2', [CompletionResultType]::ParameterName, 'Server B''s host (with --user2, instead of --b)')
            [CompletionResult]::new('--user1', '--user1', [CompletionResultType]::ParameterName, 'Server A''s user')
            [CompletionResult]::new('--user2', '--user2', [CompletionResultType]::ParameterName, 'Server B''s user')
            [CompletionResult]::new('--port1', '--port1', [CompletionResultType]::ParameterName, 'Server A''s port [default: 143, or 993 with --ssl1]')
            [CompletionResult]::new('--port2', '--port2', [CompletionResultType]::ParameterName, 'Server B''s port [default: 143, or 993 with --ssl2]')
            [CompletionResult]::new('--passfile1', '--passfile1', [CompletionResultType]::ParameterName, 'As --a-password-file')
            [CompletionResult]::new('--passfile2', '--passfile2', [CompletionResultType]::ParameterName, 'As --b-password-file')
            [CompletionResult]::new('--password1', '--password1', [CompletionResultType]::ParameterName, 'Refused: passwords never go on the command line')
            [CompletionResult]::new('--password2', '--password2', [CompletionResultType]::ParameterName, 'Refused: passwords never go on the command line')
            [CompletionResult]::new('--save', '--save', [CompletionResultType]::ParameterName, 'Also write the report (as --json prints it) to FILE, for review and for `sync --expect-plan FILE`')
            [CompletionResult]::new('--allow-plaintext-auth', '--allow-plaintext-auth', [CompletionResultType]::ParameterName, 'Send passwords without TLS (with --X-tls none) even to a host that is not loopback')
            [CompletionResult]::new('--delete-mailboxes', '--delete-mailboxes', [CompletionResultType]::ParameterName, 'Delete a mailbox on one side when it was proven deleted on the other')
            [CompletionResult]::new('--delete-extra', '--delete-extra', [CompletionResultType]::ParameterName, 'With --one-way: delete messages found only on the target side')
            [CompletionResult]::new('--no-tombstones', '--no-tombstones', [CompletionResultType]::ParameterName, 'On a restored side, copy back messages whose expunge was proven earlier (tombstones) instead of expunging them there again')
            [CompletionResult]::new('--drop-restored-extras', '--drop-restored-extras', [CompletionResultType]::ParameterName, 'Expunge messages found only on a restored side (they may be mail deleted since the backup) instead of copying them to the other side')
            [CompletionResult]::new('--retry-refused', '--retry-refused', [CompletionResultType]::ParameterName, 'Copy again the messages a server refused on an earlier run (by default they are skipped until they change)')
            [CompletionResult]::new('--no-compress', '--no-compress', [CompletionResultType]::ParameterName, 'Never use COMPRESS=DEFLATE, even where a server offers it')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Re-fetch every body and compare it with the fingerprint recorded when it was synced: `check` reports content damaged in place, `plan` and `sync` replace it from the other side (reads every message)')
            [CompletionResult]::new('--ssl1', '--ssl1', [CompletionResultType]::ParameterName, 'TLS from the first byte to A (imaps)')
            [CompletionResult]::new('--ssl2', '--ssl2', [CompletionResultType]::ParameterName, 'TLS from the first byte to B (imaps)')
            [CompletionResult]::new('--tls1', '--tls1', [CompletionResultType]::ParameterName, 'STARTTLS to A (the default without --ssl1 anyway)')
            [CompletionResult]::new('--tls2', '--tls2', [CompletionResultType]::ParameterName, 'STARTTLS to B (the default without --ssl2 anyway)')
            [CompletionResult]::new('--dry', '--dry', [CompletionResultType]::ParameterName, 'With sync: only show the Plan, as `plan` does')
            [CompletionResult]::new('--delete2', '--delete2', [CompletionResultType]::ParameterName, 'As --delete-extra: delete messages on B that A does not have')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the Plan (or the check result) as JSON on standard output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on standard error')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on standard error')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'imapmend;sync' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this TOML file; command-line options override it')
            [CompletionResult]::new('--a', '--a', [CompletionResultType]::ParameterName, 'Server A: imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]')
            [CompletionResult]::new('--b', '--b', [CompletionResultType]::ParameterName, 'Server B, in the same form as --a')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'The snapshot file [default: a file named after both endpoints in $XDG_STATE_HOME/imapmend/]')
            [CompletionResult]::new('--a-tls', '--a-tls', [CompletionResultType]::ParameterName, 'TLS for A, overriding the URL scheme''s default')
            [CompletionResult]::new('--b-tls', '--b-tls', [CompletionResultType]::ParameterName, 'TLS for B, overriding the URL scheme''s default')
            [CompletionResult]::new('--a-ca-file', '--a-ca-file', [CompletionResultType]::ParameterName, 'Extra CA certificate(s) (PEM) to trust for A, besides the system roots, or A''s own (self-signed) certificate')
            [CompletionResult]::new('--b-ca-file', '--b-ca-file', [CompletionResultType]::ParameterName, 'Extra CA certificate(s) (PEM) to trust for B, or B''s own certificate, as --a-ca-file')
            [CompletionResult]::new('--a-fingerprint', '--a-fingerprint', [CompletionResultType]::ParameterName, 'Trust only a certificate for A with this fingerprint (repeatable): sha256:HEX, spki-sha256:BASE64 or sha256//BASE64')
            [CompletionResult]::new('--b-fingerprint', '--b-fingerprint', [CompletionResultType]::ParameterName, 'Trust only a certificate for B with this fingerprint, as --a-fingerprint')
            [CompletionResult]::new('--a-tunnel', '--a-tunnel', [CompletionResultType]::ParameterName, 'Talk to A through this command''s stdin/stdout (run with `sh -c`) instead of TCP')
            [CompletionResult]::new('--b-tunnel', '--b-tunnel', [CompletionResultType]::ParameterName, 'Talk to B through this command''s stdin/stdout, as --a-tunnel')
            [CompletionResult]::new('--a-password-file', '--a-password-file', [CompletionResultType]::ParameterName, 'Read A''s password from this file (one trailing newline removed)')
            [CompletionResult]::new('--b-password-file', '--b-password-file', [CompletionResultType]::ParameterName, 'Read B''s password from this file (one trailing newline removed)')
            [CompletionResult]::new('--a-password-command', '--a-password-command', [CompletionResultType]::ParameterName, 'Run CMD with `sh -c`; its standard output is A''s password')
            [CompletionResult]::new('--b-password-command', '--b-password-command', [CompletionResultType]::ParameterName, 'Run CMD with `sh -c`; its standard output is B''s password')
            [CompletionResult]::new('--a-oauth2-token-command', '--a-oauth2-token-command', [CompletionResultType]::ParameterName, 'Log in to A with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token')
            [CompletionResult]::new('--b-oauth2-token-command', '--b-oauth2-token-command', [CompletionResultType]::ParameterName, 'Log in to B with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token')
            [CompletionResult]::new('--prefer', '--prefer', [CompletionResultType]::ParameterName, 'Without a snapshot base, this side''s flags win instead of the union')
            [CompletionResult]::new('--max-delete', '--max-delete', [CompletionResultType]::ParameterName, 'Withhold a mailbox''s deletions on a side when they exceed N, or P% of its pairs (never fewer than 10) [default: 50%]')
            [CompletionResult]::new('--restored', '--restored', [CompletionResultType]::ParameterName, 'This side was restored from a backup: the other side''s flags win, and mail missing here is copied back, never taken as deleted')
            [CompletionResult]::new('--deletes', '--deletes', [CompletionResultType]::ParameterName, 'How proven deletions are carried out [default: expunge]')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'What a message is known by. `headers`, for servers that rebuild messages on FETCH (Exchange, Office 365): what content leaves unpaired pairs by a Message-ID unique among them on both sides, with Date, From and fetched size agreeing; such a pair never proves a deletion, and a changed RFC822.SIZE is no sign of a restore [default: content]')
            [CompletionResult]::new('--expunge-to', '--expunge-to', [CompletionResultType]::ParameterName, 'Move what would be expunged into MAILBOX on the same side instead (created on first use, left out of every run; a top-level name without delimiters). `imapmend log show` lists what went there')
            [CompletionResult]::new('--quarantine-days', '--quarantine-days', [CompletionResultType]::ParameterName, 'With --expunge-to: each sync expunges from the quarantine what imapmend moved there at least N days ago (under --max-delete)')
            [CompletionResult]::new('--one-way', '--one-way', [CompletionResultType]::ParameterName, 'Copy in one direction only; the target is never read as a source')
            [CompletionResult]::new('--tombstone-days', '--tombstone-days', [CompletionResultType]::ParameterName, 'How long the content of a proven expunge is remembered as a tombstone, in days (default 90; 0 forgets them at the next run)')
            [CompletionResult]::new('--max-size', '--max-size', [CompletionResultType]::ParameterName, 'Do not copy messages larger than SIZE (bytes, or 512K, 10M, 1G): they are skipped and reported, never taken as deleted')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'When a connection is lost or stalls during the run, reconnect and redo the work from a fresh listing up to N times (backoff 1 s, 2 s, 4 s …) before it fails [default: 2]')
            [CompletionResult]::new('--connections', '--connections', [CompletionResultType]::ParameterName, 'Connections per server: up to N mailboxes are listed and applied at once (1 to 16; a server that refuses more gets fewer, with a warning) [default: 4]')
            [CompletionResult]::new('--max-messages-per-second', '--max-messages-per-second', [CompletionResultType]::ParameterName, 'For providers that throttle: move at most N message bodies per second (fetched and appended, both servers together)')
            [CompletionResult]::new('--max-bytes-per-second', '--max-bytes-per-second', [CompletionResultType]::ParameterName, 'For providers that throttle: send and receive at most SIZE bytes per second (bytes, or 512K, 10M), both servers together')
            [CompletionResult]::new('--folder', '--folder', [CompletionResultType]::ParameterName, 'Only this mailbox (logical name, `/` between levels); repeatable')
            [CompletionResult]::new('--folderrec', '--folderrec', [CompletionResultType]::ParameterName, 'Only this mailbox and the ones below it; repeatable')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Only mailboxes whose name matches REGEX (unanchored); repeatable')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out mailboxes whose name matches REGEX (unanchored); repeatable')
            [CompletionResult]::new('--a-prefix', '--a-prefix', [CompletionResultType]::ParameterName, 'A''s folders live under this wire prefix, e.g. `INBOX.` (Courier, Cyrus): A''s `INBOX.Sent` is then the mailbox `Sent`')
            [CompletionResult]::new('--b-prefix', '--b-prefix', [CompletionResultType]::ParameterName, 'B''s folders live under this wire prefix (as --a-prefix)')
            [CompletionResult]::new('--map', '--map', [CompletionResultType]::ParameterName, 'A''s mailbox A_NAME is B''s mailbox B_NAME, and the ones below them alike, e.g. --map "Sent Items=Sent"; repeatable')
            [CompletionResult]::new('--host1', '--host1', [CompletionResultType]::ParameterName, 'Server A''s host (imapsync style; with --user1, instead of --a)')
            [CompletionResult]::new('--host2', '--host2', [CompletionResultType]::ParameterName, 'Server B''s host (with --user2, instead of --b)')
            [CompletionResult]::new('--user1', '--user1', [CompletionResultType]::ParameterName, 'Server A''s user')
            [CompletionResult]::new('--user2', '--user2', [CompletionResultType]::ParameterName, 'Server B''s user')
            [CompletionResult]::new('--port1', '--port1', [CompletionResultType]::ParameterName, 'Server A''s port [default: 143, or 993 with --ssl1]')
            [CompletionResult]::new('--port2', '--port2', [CompletionResultType]::ParameterName, 'Server B''s port [default: 143, or 993 with --ssl2]')
            [CompletionResult]::new('--passfile1', '--passfile1', [CompletionResultType]::ParameterName, 'As --a-password-file')
            [CompletionResult]::new('--passfile2', '--passfile2', [CompletionResultType]::ParameterName, 'As --b-password-file')
            [CompletionResult]::new('--password1', '--password1', [CompletionResultType]::ParameterName, 'Refused: passwords never go on the command line')
            [CompletionResult]::new('--password2', '--password2', [CompletionResultType]::ParameterName, 'Refused: passwords never go on the command line')
            [CompletionResult]::new('--expect-plan', '--expect-plan', [CompletionResultType]::ParameterName, 'Refuse (exit 4, nothing applied) if the live plan deletes any message the plan saved in FILE (`plan --save`) did not')
            [CompletionResult]::new('--metrics', '--metrics', [CompletionResultType]::ParameterName, 'Write the outcome in Prometheus text format to FILE (atomically), for node_exporter''s textfile collector')
            [CompletionResult]::new('--scrub', '--scrub', [CompletionResultType]::ParameterName, 'Also re-read the bodies verified longest ago (never verified first) and compare them with what was recorded, up to BUDGET per side: a share of the messages (2%), a size (500M) or a time (30s); `check` reports damage, `sync` replaces it from the healthy side')
            [CompletionResult]::new('--allow-plaintext-auth', '--allow-plaintext-auth', [CompletionResultType]::ParameterName, 'Send passwords without TLS (with --X-tls none) even to a host that is not loopback')
            [CompletionResult]::new('--delete-mailboxes', '--delete-mailboxes', [CompletionResultType]::ParameterName, 'Delete a mailbox on one side when it was proven deleted on the other')
            [CompletionResult]::new('--delete-extra', '--delete-extra', [CompletionResultType]::ParameterName, 'With --one-way: delete messages found only on the target side')
            [CompletionResult]::new('--no-tombstones', '--no-tombstones', [CompletionResultType]::ParameterName, 'On a restored side, copy back messages whose expunge was proven earlier (tombstones) instead of expunging them there again')
            [CompletionResult]::new('--drop-restored-extras', '--drop-restored-extras', [CompletionResultType]::ParameterName, 'Expunge messages found only on a restored side (they may be mail deleted since the backup) instead of copying them to the other side')
            [CompletionResult]::new('--retry-refused', '--retry-refused', [CompletionResultType]::ParameterName, 'Copy again the messages a server refused on an earlier run (by default they are skipped until they change)')
            [CompletionResult]::new('--no-compress', '--no-compress', [CompletionResultType]::ParameterName, 'Never use COMPRESS=DEFLATE, even where a server offers it')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Re-fetch every body and compare it with the fingerprint recorded when it was synced: `check` reports content damaged in place, `plan` and `sync` replace it from the other side (reads every message)')
            [CompletionResult]::new('--ssl1', '--ssl1', [CompletionResultType]::ParameterName, 'TLS from the first byte to A (imaps)')
            [CompletionResult]::new('--ssl2', '--ssl2', [CompletionResultType]::ParameterName, 'TLS from the first byte to B (imaps)')
            [CompletionResult]::new('--tls1', '--tls1', [CompletionResultType]::ParameterName, 'STARTTLS to A (the default without --ssl1 anyway)')
            [CompletionResult]::new('--tls2', '--tls2', [CompletionResultType]::ParameterName, 'STARTTLS to B (the default without --ssl2 anyway)')
            [CompletionResult]::new('--dry', '--dry', [CompletionResultType]::ParameterName, 'With sync: only show the Plan, as `plan` does')
            [CompletionResult]::new('--delete2', '--delete2', [CompletionResultType]::ParameterName, 'As --delete-extra: delete messages on B that A does not have')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the Plan (or the check result) as JSON on standard output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on standard error')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on standard error')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'imapmend;check' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this TOML file; command-line options override it')
            [CompletionResult]::new('--a', '--a', [CompletionResultType]::ParameterName, 'Server A: imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]')
            [CompletionResult]::new('--b', '--b', [CompletionResultType]::ParameterName, 'Server B, in the same form as --a')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'The snapshot file [default: a file named after both endpoints in $XDG_STATE_HOME/imapmend/]')
            [CompletionResult]::new('--a-tls', '--a-tls', [CompletionResultType]::ParameterName, 'TLS for A, overriding the URL scheme''s default')
            [CompletionResult]::new('--b-tls', '--b-tls', [CompletionResultType]::ParameterName, 'TLS for B, overriding the URL scheme''s default')
            [CompletionResult]::new('--a-ca-file', '--a-ca-file', [CompletionResultType]::ParameterName, 'Extra CA certificate(s) (PEM) to trust for A, besides the system roots, or A''s own (self-signed) certificate')
            [CompletionResult]::new('--b-ca-file', '--b-ca-file', [CompletionResultType]::ParameterName, 'Extra CA certificate(s) (PEM) to trust for B, or B''s own certificate, as --a-ca-file')
            [CompletionResult]::new('--a-fingerprint', '--a-fingerprint', [CompletionResultType]::ParameterName, 'Trust only a certificate for A with this fingerprint (repeatable): sha256:HEX, spki-sha256:BASE64 or sha256//BASE64')
            [CompletionResult]::new('--b-fingerprint', '--b-fingerprint', [CompletionResultType]::ParameterName, 'Trust only a certificate for B with this fingerprint, as --a-fingerprint')
            [CompletionResult]::new('--a-tunnel', '--a-tunnel', [CompletionResultType]::ParameterName, 'Talk to A through this command''s stdin/stdout (run with `sh -c`) instead of TCP')
            [CompletionResult]::new('--b-tunnel', '--b-tunnel', [CompletionResultType]::ParameterName, 'Talk to B through this command''s stdin/stdout, as --a-tunnel')
            [CompletionResult]::new('--a-password-file', '--a-password-file', [CompletionResultType]::ParameterName, 'Read A''s password from this file (one trailing newline removed)')
            [CompletionResult]::new('--b-password-file', '--b-password-file', [CompletionResultType]::ParameterName, 'Read B''s password from this file (one trailing newline removed)')
            [CompletionResult]::new('--a-password-command', '--a-password-command', [CompletionResultType]::ParameterName, 'Run CMD with `sh -c`; its standard output is A''s password')
            [CompletionResult]::new('--b-password-command', '--b-password-command', [CompletionResultType]::ParameterName, 'Run CMD with `sh -c`; its standard output is B''s password')
            [CompletionResult]::new('--a-oauth2-token-command', '--a-oauth2-token-command', [CompletionResultType]::ParameterName, 'Log in to A with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token')
            [CompletionResult]::new('--b-oauth2-token-command', '--b-oauth2-token-command', [CompletionResultType]::ParameterName, 'Log in to B with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token')
            [CompletionResult]::new('--prefer', '--prefer', [CompletionResultType]::ParameterName, 'Without a snapshot base, this side''s flags win instead of the union')
            [CompletionResult]::new('--max-delete', '--max-delete', [CompletionResultType]::ParameterName, 'Withhold a mailbox''s deletions on a side when they exceed N, or P% of its pairs (never fewer than 10) [default: 50%]')
            [CompletionResult]::new('--restored', '--restored', [CompletionResultType]::ParameterName, 'This side was restored from a backup: the other side''s flags win, and mail missing here is copied back, never taken as deleted')
            [CompletionResult]::new('--deletes', '--deletes', [CompletionResultType]::ParameterName, 'How proven deletions are carried out [default: expunge]')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'What a message is known by. `headers`, for servers that rebuild messages on FETCH (Exchange, Office 365): what content leaves unpaired pairs by a Message-ID unique among them on both sides, with Date, From and fetched size agreeing; such a pair never proves a deletion, and a changed RFC822.SIZE is no sign of a restore [default: content]')
            [CompletionResult]::new('--expunge-to', '--expunge-to', [CompletionResultType]::ParameterName, 'Move what would be expunged into MAILBOX on the same side instead (created on first use, left out of every run; a top-level name without delimiters). `imapmend log show` lists what went there')
            [CompletionResult]::new('--quarantine-days', '--quarantine-days', [CompletionResultType]::ParameterName, 'With --expunge-to: each sync expunges from the quarantine what imapmend moved there at least N days ago (under --max-delete)')
            [CompletionResult]::new('--one-way', '--one-way', [CompletionResultType]::ParameterName, 'Copy in one direction only; the target is never read as a source')
            [CompletionResult]::new('--tombstone-days', '--tombstone-days', [CompletionResultType]::ParameterName, 'How long the content of a proven expunge is remembered as a tombstone, in days (default 90; 0 forgets them at the next run)')
            [CompletionResult]::new('--max-size', '--max-size', [CompletionResultType]::ParameterName, 'Do not copy messages larger than SIZE (bytes, or 512K, 10M, 1G): they are skipped and reported, never taken as deleted')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'When a connection is lost or stalls during the run, reconnect and redo the work from a fresh listing up to N times (backoff 1 s, 2 s, 4 s …) before it fails [default: 2]')
            [CompletionResult]::new('--connections', '--connections', [CompletionResultType]::ParameterName, 'Connections per server: up to N mailboxes are listed and applied at once (1 to 16; a server that refuses more gets fewer, with a warning) [default: 4]')
            [CompletionResult]::new('--max-messages-per-second', '--max-messages-per-second', [CompletionResultType]::ParameterName, 'For providers that throttle: move at most N message bodies per second (fetched and appended, both servers together)')
            [CompletionResult]::new('--max-bytes-per-second', '--max-bytes-per-second', [CompletionResultType]::ParameterName, 'For providers that throttle: send and receive at most SIZE bytes per second (bytes, or 512K, 10M), both servers together')
            [CompletionResult]::new('--folder', '--folder', [CompletionResultType]::ParameterName, 'Only this mailbox (logical name, `/` between levels); repeatable')
            [CompletionResult]::new('--folderrec', '--folderrec', [CompletionResultType]::ParameterName, 'Only this mailbox and the ones below it; repeatable')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Only mailboxes whose name matches REGEX (unanchored); repeatable')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out mailboxes whose name matches REGEX (unanchored); repeatable')
            [CompletionResult]::new('--a-prefix', '--a-prefix', [CompletionResultType]::ParameterName, 'A''s folders live under this wire prefix, e.g. `INBOX.` (Courier, Cyrus): A''s `INBOX.Sent` is then the mailbox `Sent`')
            [CompletionResult]::new('--b-prefix', '--b-prefix', [CompletionResultType]::ParameterName, 'B''s folders live under this wire prefix (as --a-prefix)')
            [CompletionResult]::new('--map', '--map', [CompletionResultType]::ParameterName, 'A''s mailbox A_NAME is B''s mailbox B_NAME, and the ones below them alike, e.g. --map "Sent Items=Sent"; repeatable')
            [CompletionResult]::new('--host1', '--host1', [CompletionResultType]::ParameterName, 'Server A''s host (imapsync style; with --user1, instead of --a)')
            [CompletionResult]::new('--host2', '--host2', [CompletionResultType]::ParameterName, 'Server B''s host (with --user2, instead of --b)')
            [CompletionResult]::new('--user1', '--user1', [CompletionResultType]::ParameterName, 'Server A''s user')
            [CompletionResult]::new('--user2', '--user2', [CompletionResultType]::ParameterName, 'Server B''s user')
            [CompletionResult]::new('--port1', '--port1', [CompletionResultType]::ParameterName, 'Server A''s port [default: 143, or 993 with --ssl1]')
            [CompletionResult]::new('--port2', '--port2', [CompletionResultType]::ParameterName, 'Server B''s port [default: 143, or 993 with --ssl2]')
            [CompletionResult]::new('--passfile1', '--passfile1', [CompletionResultType]::ParameterName, 'As --a-password-file')
            [CompletionResult]::new('--passfile2', '--passfile2', [CompletionResultType]::ParameterName, 'As --b-password-file')
            [CompletionResult]::new('--password1', '--password1', [CompletionResultType]::ParameterName, 'Refused: passwords never go on the command line')
            [CompletionResult]::new('--password2', '--password2', [CompletionResultType]::ParameterName, 'Refused: passwords never go on the command line')
            [CompletionResult]::new('--metrics', '--metrics', [CompletionResultType]::ParameterName, 'Write the outcome in Prometheus text format to FILE (atomically), for node_exporter''s textfile collector')
            [CompletionResult]::new('--scrub', '--scrub', [CompletionResultType]::ParameterName, 'Also re-read the bodies verified longest ago (never verified first) and compare them with what was recorded, up to BUDGET per side: a share of the messages (2%), a size (500M) or a time (30s); `check` reports damage, `sync` replaces it from the healthy side')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after SECONDS in all (connect, list, compare): exit 3, no verdict')
            [CompletionResult]::new('--allow-plaintext-auth', '--allow-plaintext-auth', [CompletionResultType]::ParameterName, 'Send passwords without TLS (with --X-tls none) even to a host that is not loopback')
            [CompletionResult]::new('--delete-mailboxes', '--delete-mailboxes', [CompletionResultType]::ParameterName, 'Delete a mailbox on one side when it was proven deleted on the other')
            [CompletionResult]::new('--delete-extra', '--delete-extra', [CompletionResultType]::ParameterName, 'With --one-way: delete messages found only on the target side')
            [CompletionResult]::new('--no-tombstones', '--no-tombstones', [CompletionResultType]::ParameterName, 'On a restored side, copy back messages whose expunge was proven earlier (tombstones) instead of expunging them there again')
            [CompletionResult]::new('--drop-restored-extras', '--drop-restored-extras', [CompletionResultType]::ParameterName, 'Expunge messages found only on a restored side (they may be mail deleted since the backup) instead of copying them to the other side')
            [CompletionResult]::new('--retry-refused', '--retry-refused', [CompletionResultType]::ParameterName, 'Copy again the messages a server refused on an earlier run (by default they are skipped until they change)')
            [CompletionResult]::new('--no-compress', '--no-compress', [CompletionResultType]::ParameterName, 'Never use COMPRESS=DEFLATE, even where a server offers it')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Re-fetch every body and compare it with the fingerprint recorded when it was synced: `check` reports content damaged in place, `plan` and `sync` replace it from the other side (reads every message)')
            [CompletionResult]::new('--ssl1', '--ssl1', [CompletionResultType]::ParameterName, 'TLS from the first byte to A (imaps)')
            [CompletionResult]::new('--ssl2', '--ssl2', [CompletionResultType]::ParameterName, 'TLS from the first byte to B (imaps)')
            [CompletionResult]::new('--tls1', '--tls1', [CompletionResultType]::ParameterName, 'STARTTLS to A (the default without --ssl1 anyway)')
            [CompletionResult]::new('--tls2', '--tls2', [CompletionResultType]::ParameterName, 'STARTTLS to B (the default without --ssl2 anyway)')
            [CompletionResult]::new('--dry', '--dry', [CompletionResultType]::ParameterName, 'With sync: only show the Plan, as `plan` does')
            [CompletionResult]::new('--delete2', '--delete2', [CompletionResultType]::ParameterName, 'As --delete-extra: delete messages on B that A does not have')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the Plan (or the check result) as JSON on standard output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on standard error')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on standard error')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'imapmend;batch' {
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'How many pairs run at once')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'How many pairs run at once')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Run only shard I of N (0-based): each pair always falls in the same shard, so hosts or job-array tasks can split a list without coordination')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A config file every pair''s run reads (shared TLS, policies …); each pair''s --a/--b override its URLs')
            [CompletionResult]::new('--pair-timeout', '--pair-timeout', [CompletionResultType]::ParameterName, 'Stop a pair''s run after SECONDS (it counts as exit 2; a rerun resumes safely), so one hung account cannot hold up the batch')
            [CompletionResult]::new('--log-dir', '--log-dir', [CompletionResultType]::ParameterName, 'Keep each pair''s standard output and error in DIR (NAME.out, NAME.err)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the outcomes (with each pair''s report) as JSON')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No line per finished pair on standard error')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No line per finished pair on standard error')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'imapmend;snapshot' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Which mailboxes the snapshot knows, pair counts, cached messages and sizes, pending copies, and whether a run holds it now')
            [CompletionResult]::new('forget', 'forget', [CompletionResultType]::ParameterValue, 'Delete the snapshot (and its -wal, -shm and .lock files); refused while a run holds it. The next run starts as a first meeting')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check the file: SQLite''s integrity check and the snapshot''s own invariants (every pair has its cache rows, levels and watermarks are valid); read-only. Exit 0 sound, 1 problems found, 3 cannot check')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'imapmend;snapshot;show' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read --a, --b and the state path from this TOML file')
            [CompletionResult]::new('--a', '--a', [CompletionResultType]::ParameterName, 'Server A, to find the default snapshot (no password needed)')
            [CompletionResult]::new('--b', '--b', [CompletionResultType]::ParameterName, 'Server B, to find the default snapshot')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'The snapshot file itself (then --a and --b are optional)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print as JSON on standard output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'imapmend;snapshot;forget' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read --a, --b and the state path from this TOML file')
            [CompletionResult]::new('--a', '--a', [CompletionResultType]::ParameterName, 'Server A, to find the default snapshot (no password needed)')
            [CompletionResult]::new('--b', '--b', [CompletionResultType]::ParameterName, 'Server B, to find the default snapshot')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'The snapshot file itself (then --a and --b are optional)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print as JSON on standard output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'imapmend;snapshot;verify' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read --a, --b and the state path from this TOML file')
            [CompletionResult]::new('--a', '--a', [CompletionResultType]::ParameterName, 'Server A, to find the default snapshot (no password needed)')
            [CompletionResult]::new('--b', '--b', [CompletionResultType]::ParameterName, 'Server B, to find the default snapshot')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'The snapshot file itself (then --a and --b are optional)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print as JSON on standard output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'imapmend;snapshot;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Which mailboxes the snapshot knows, pair counts, cached messages and sizes, pending copies, and whether a run holds it now')
            [CompletionResult]::new('forget', 'forget', [CompletionResultType]::ParameterValue, 'Delete the snapshot (and its -wal, -shm and .lock files); refused while a run holds it. The next run starts as a first meeting')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check the file: SQLite''s integrity check and the snapshot''s own invariants (every pair has its cache rows, levels and watermarks are valid); read-only. Exit 0 sound, 1 problems found, 3 cannot check')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'imapmend;snapshot;help;show' {
            break
        }
        'imapmend;snapshot;help;forget' {
            break
        }
        'imapmend;snapshot;help;verify' {
            break
        }
        'imapmend;snapshot;help;help' {
            break
        }
        'imapmend;log' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Every write sync sent (APPEND, STORE, EXPUNGE, MOVE, CREATE, RENAME, DELETE, SUBSCRIBE), one row per command, with its outcome; "not confirmed" where the run ended before the answer was logged')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'imapmend;log;show' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read --a, --b and the state path from this TOML file')
            [CompletionResult]::new('--a', '--a', [CompletionResultType]::ParameterName, 'Server A, to find the default snapshot (no password needed)')
            [CompletionResult]::new('--b', '--b', [CompletionResultType]::ParameterName, 'Server B, to find the default snapshot')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'The snapshot file itself (then --a and --b are optional)')
            [CompletionResult]::new('--run', '--run', [CompletionResultType]::ParameterName, 'Only this run (the run id a sync''s --json report carries)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only writes at or after this UTC time (2026-12-07, 2026-12-07T10:00)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print as JSON on standard output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'imapmend;log;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Every write sync sent (APPEND, STORE, EXPUNGE, MOVE, CREATE, RENAME, DELETE, SUBSCRIBE), one row per command, with its outcome; "not confirmed" where the run ended before the answer was logged')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'imapmend;log;help;show' {
            break
        }
        'imapmend;log;help;help' {
            break
        }
        'imapmend;undo' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this TOML file; command-line options override it')
            [CompletionResult]::new('--a', '--a', [CompletionResultType]::ParameterName, 'Server A: imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]')
            [CompletionResult]::new('--b', '--b', [CompletionResultType]::ParameterName, 'Server B, in the same form as --a')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'The snapshot file [default: a file named after both endpoints in $XDG_STATE_HOME/imapmend/]')
            [CompletionResult]::new('--a-tls', '--a-tls', [CompletionResultType]::ParameterName, 'TLS for A, overriding the URL scheme''s default')
            [CompletionResult]::new('--b-tls', '--b-tls', [CompletionResultType]::ParameterName, 'TLS for B, overriding the URL scheme''s default')
            [CompletionResult]::new('--a-ca-file', '--a-ca-file', [CompletionResultType]::ParameterName, 'Extra CA certificate(s) (PEM) to trust for A, besides the system roots, or A''s own (self-signed) certificate')
            [CompletionResult]::new('--b-ca-file', '--b-ca-file', [CompletionResultType]::ParameterName, 'Extra CA certificate(s) (PEM) to trust for B, or B''s own certificate, as --a-ca-file')
            [CompletionResult]::new('--a-fingerprint', '--a-fingerprint', [CompletionResultType]::ParameterName, 'Trust only a certificate for A with this fingerprint (repeatable): sha256:HEX, spki-sha256:BASE64 or sha256//BASE64')
            [CompletionResult]::new('--b-fingerprint', '--b-fingerprint', [CompletionResultType]::ParameterName, 'Trust only a certificate for B with this fingerprint, as --a-fingerprint')
            [CompletionResult]::new('--a-tunnel', '--a-tunnel', [CompletionResultType]::ParameterName, 'Talk to A through this command''s stdin/stdout (run with `sh -c`) instead of TCP')
            [CompletionResult]::new('--b-tunnel', '--b-tunnel', [CompletionResultType]::ParameterName, 'Talk to B through this command''s stdin/stdout, as --a-tunnel')
            [CompletionResult]::new('--a-password-file', '--a-password-file', [CompletionResultType]::ParameterName, 'Read A''s password from this file (one trailing newline removed)')
            [CompletionResult]::new('--b-password-file', '--b-password-file', [CompletionResultType]::ParameterName, 'Read B''s password from this file (one trailing newline removed)')
            [CompletionResult]::new('--a-password-command', '--a-password-command', [CompletionResultType]::ParameterName, 'Run CMD with `sh -c`; its standard output is A''s password')
            [CompletionResult]::new('--b-password-command', '--b-password-command', [CompletionResultType]::ParameterName, 'Run CMD with `sh -c`; its standard output is B''s password')
            [CompletionResult]::new('--a-oauth2-token-command', '--a-oauth2-token-command', [CompletionResultType]::ParameterName, 'Log in to A with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token')
            [CompletionResult]::new('--b-oauth2-token-command', '--b-oauth2-token-command', [CompletionResultType]::ParameterName, 'Log in to B with an OAuth 2.0 access token (SASL OAUTHBEARER or XOAUTH2): run CMD with `sh -c`, its standard output is the token')
            [CompletionResult]::new('--prefer', '--prefer', [CompletionResultType]::ParameterName, 'Without a snapshot base, this side''s flags win instead of the union')
            [CompletionResult]::new('--max-delete', '--max-delete', [CompletionResultType]::ParameterName, 'Withhold a mailbox''s deletions on a side when they exceed N, or P% of its pairs (never fewer than 10) [default: 50%]')
            [CompletionResult]::new('--restored', '--restored', [CompletionResultType]::ParameterName, 'This side was restored from a backup: the other side''s flags win, and mail missing here is copied back, never taken as deleted')
            [CompletionResult]::new('--deletes', '--deletes', [CompletionResultType]::ParameterName, 'How proven deletions are carried out [default: expunge]')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'What a message is known by. `headers`, for servers that rebuild messages on FETCH (Exchange, Office 365): what content leaves unpaired pairs by a Message-ID unique among them on both sides, with Date, From and fetched size agreeing; such a pair never proves a deletion, and a changed RFC822.SIZE is no sign of a restore [default: content]')
            [CompletionResult]::new('--expunge-to', '--expunge-to', [CompletionResultType]::ParameterName, 'Move what would be expunged into MAILBOX on the same side instead (created on first use, left out of every run; a top-level name without delimiters). `imapmend log show` lists what went there')
            [CompletionResult]::new('--quarantine-days', '--quarantine-days', [CompletionResultType]::ParameterName, 'With --expunge-to: each sync expunges from the quarantine what imapmend moved there at least N days ago (under --max-delete)')
            [CompletionResult]::new('--one-way', '--one-way', [CompletionResultType]::ParameterName, 'Copy in one direction only; the target is never read as a source')
            [CompletionResult]::new('--tombstone-days', '--tombstone-days', [CompletionResultType]::ParameterName, 'How long the content of a proven expunge is remembered as a tombstone, in days (default 90; 0 forgets them at the next run)')
            [CompletionResult]::new('--max-size', '--max-size', [CompletionResultType]::ParameterName, 'Do not copy messages larger than SIZE (bytes, or 512K, 10M, 1G): they are skipped and reported, never taken as deleted')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'When a connection is lost or stalls during the run, reconnect and redo the work from a fresh listing up to N times (backoff 1 s, 2 s, 4 s …) before it fails [default: 2]')
            [CompletionResult]::new('--connections', '--connections', [CompletionResultType]::ParameterName, 'Connections per server: up to N mailboxes are listed and applied at once (1 to 16; a server that refuses more gets fewer, with a warning) [default: 4]')
            [CompletionResult]::new('--max-messages-per-second', '--max-messages-per-second', [CompletionResultType]::ParameterName, 'For providers that throttle: move at most N message bodies per second (fetched and appended, both servers together)')
            [CompletionResult]::new('--max-bytes-per-second', '--max-bytes-per-second', [CompletionResultType]::ParameterName, 'For providers that throttle: send and receive at most SIZE bytes per second (bytes, or 512K, 10M), both servers together')
            [CompletionResult]::new('--folder', '--folder', [CompletionResultType]::ParameterName, 'Only this mailbox (logical name, `/` between levels); repeatable')
            [CompletionResult]::new('--folderrec', '--folderrec', [CompletionResultType]::ParameterName, 'Only this mailbox and the ones below it; repeatable')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Only mailboxes whose name matches REGEX (unanchored); repeatable')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out mailboxes whose name matches REGEX (unanchored); repeatable')
            [CompletionResult]::new('--a-prefix', '--a-prefix', [CompletionResultType]::ParameterName, 'A''s folders live under this wire prefix, e.g. `INBOX.` (Courier, Cyrus): A''s `INBOX.Sent` is then the mailbox `Sent`')
            [CompletionResult]::new('--b-prefix', '--b-prefix', [CompletionResultType]::ParameterName, 'B''s folders live under this wire prefix (as --a-prefix)')
            [CompletionResult]::new('--map', '--map', [CompletionResultType]::ParameterName, 'A''s mailbox A_NAME is B''s mailbox B_NAME, and the ones below them alike, e.g. --map "Sent Items=Sent"; repeatable')
            [CompletionResult]::new('--host1', '--host1', [CompletionResultType]::ParameterName, 'Server A''s host (imapsync style; with --user1, instead of --a)')
            [CompletionResult]::new('--host2', '--host2', [CompletionResultType]::ParameterName, 'Server B''s host (with --user2, instead of --b)')
            [CompletionResult]::new('--user1', '--user1', [CompletionResultType]::ParameterName, 'Server A''s user')
            [CompletionResult]::new('--user2', '--user2', [CompletionResultType]::ParameterName, 'Server B''s user')
            [CompletionResult]::new('--port1', '--port1', [CompletionResultType]::ParameterName, 'Server A''s port [default: 143, or 993 with --ssl1]')
            [CompletionResult]::new('--port2', '--port2', [CompletionResultType]::ParameterName, 'Server B''s port [default: 143, or 993 with --ssl2]')
            [CompletionResult]::new('--passfile1', '--passfile1', [CompletionResultType]::ParameterName, 'As --a-password-file')
            [CompletionResult]::new('--passfile2', '--passfile2', [CompletionResultType]::ParameterName, 'As --b-password-file')
            [CompletionResult]::new('--password1', '--password1', [CompletionResultType]::ParameterName, 'Refused: passwords never go on the command line')
            [CompletionResult]::new('--password2', '--password2', [CompletionResultType]::ParameterName, 'Refused: passwords never go on the command line')
            [CompletionResult]::new('--run', '--run', [CompletionResultType]::ParameterName, 'The run to take back, as `log show` and --json reports name it')
            [CompletionResult]::new('--allow-plaintext-auth', '--allow-plaintext-auth', [CompletionResultType]::ParameterName, 'Send passwords without TLS (with --X-tls none) even to a host that is not loopback')
            [CompletionResult]::new('--delete-mailboxes', '--delete-mailboxes', [CompletionResultType]::ParameterName, 'Delete a mailbox on one side when it was proven deleted on the other')
            [CompletionResult]::new('--delete-extra', '--delete-extra', [CompletionResultType]::ParameterName, 'With --one-way: delete messages found only on the target side')
            [CompletionResult]::new('--no-tombstones', '--no-tombstones', [CompletionResultType]::ParameterName, 'On a restored side, copy back messages whose expunge was proven earlier (tombstones) instead of expunging them there again')
            [CompletionResult]::new('--drop-restored-extras', '--drop-restored-extras', [CompletionResultType]::ParameterName, 'Expunge messages found only on a restored side (they may be mail deleted since the backup) instead of copying them to the other side')
            [CompletionResult]::new('--retry-refused', '--retry-refused', [CompletionResultType]::ParameterName, 'Copy again the messages a server refused on an earlier run (by default they are skipped until they change)')
            [CompletionResult]::new('--no-compress', '--no-compress', [CompletionResultType]::ParameterName, 'Never use COMPRESS=DEFLATE, even where a server offers it')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Re-fetch every body and compare it with the fingerprint recorded when it was synced: `check` reports content damaged in place, `plan` and `sync` replace it from the other side (reads every message)')
            [CompletionResult]::new('--ssl1', '--ssl1', [CompletionResultType]::ParameterName, 'TLS from the first byte to A (imaps)')
            [CompletionResult]::new('--ssl2', '--ssl2', [CompletionResultType]::ParameterName, 'TLS from the first byte to B (imaps)')
            [CompletionResult]::new('--tls1', '--tls1', [CompletionResultType]::ParameterName, 'STARTTLS to A (the default without --ssl1 anyway)')
            [CompletionResult]::new('--tls2', '--tls2', [CompletionResultType]::ParameterName, 'STARTTLS to B (the default without --ssl2 anyway)')
            [CompletionResult]::new('--dry', '--dry', [CompletionResultType]::ParameterName, 'With sync: only show the Plan, as `plan` does')
            [CompletionResult]::new('--delete2', '--delete2', [CompletionResultType]::ParameterName, 'As --delete-extra: delete messages on B that A does not have')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the Plan (or the check result) as JSON on standard output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail: -v every action in the report and each mailbox''s decisions on standard error, -vv also the IMAP commands, -vvv also the responses (never a password or a message body; RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on standard error')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on standard error')
            [CompletionResult]::new('--apply', '--apply', [CompletionResultType]::ParameterName, 'Do it; without, only print what would be done (docs/AUDIT.md)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'imapmend;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'imapmend;man' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'imapmend;help' {
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Dry run: show the Plan, change nothing on either server')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Show the Plan, apply it to both servers and save the snapshot')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Read-only (EXAMINE): judge whether A and B hold the same mail and flags')
            [CompletionResult]::new('batch', 'batch', [CompletionResultType]::ParameterValue, 'Run plan, sync or check over a list of account pairs (CSV or TOML)')
            [CompletionResult]::new('snapshot', 'snapshot', [CompletionResultType]::ParameterValue, 'What a snapshot remembers (show), or delete it (forget)')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'What sync wrote to the servers: the action log beside the snapshot')
            [CompletionResult]::new('undo', 'undo', [CompletionResultType]::ParameterValue, 'Take back one sync (--run ID): quarantined messages moved back, its flag changes reverted; prints what it would do unless --apply')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions for SHELL on standard output')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print a man page (roff) on standard output: `imapmend man | man -l -`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'imapmend;help;plan' {
            break
        }
        'imapmend;help;sync' {
            break
        }
        'imapmend;help;check' {
            break
        }
        'imapmend;help;batch' {
            break
        }
        'imapmend;help;snapshot' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Which mailboxes the snapshot knows, pair counts, cached messages and sizes, pending copies, and whether a run holds it now')
            [CompletionResult]::new('forget', 'forget', [CompletionResultType]::ParameterValue, 'Delete the snapshot (and its -wal, -shm and .lock files); refused while a run holds it. The next run starts as a first meeting')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check the file: SQLite''s integrity check and the snapshot''s own invariants (every pair has its cache rows, levels and watermarks are valid); read-only. Exit 0 sound, 1 problems found, 3 cannot check')
            break
        }
        'imapmend;help;snapshot;show' {
            break
        }
        'imapmend;help;snapshot;forget' {
            break
        }
        'imapmend;help;snapshot;verify' {
            break
        }
        'imapmend;help;log' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Every write sync sent (APPEND, STORE, EXPUNGE, MOVE, CREATE, RENAME, DELETE, SUBSCRIBE), one row per command, with its outcome; "not confirmed" where the run ended before the answer was logged')
            break
        }
        'imapmend;help;log;show' {
            break
        }
        'imapmend;help;undo' {
            break
        }
        'imapmend;help;completions' {
            break
        }
        'imapmend;help;man' {
            break
        }
        'imapmend;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
