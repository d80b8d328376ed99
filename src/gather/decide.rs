//! The last step before the Plan is final: the pure core's answer for what
//! was gathered, with the per-mailbox APPENDLIMITs a listing could not give
//! asked for the mailboxes that will receive copies, and the core run again
//! with them (RFC 7889: a bare `APPENDLIMIT` limits per mailbox).

use crate::imap::Connection;
use crate::model::Side;
use crate::plan::Plan;
use crate::pool::Lane;
use crate::reconcile::skips::{limits_to_ask, LimitQuery};
use crate::reconcile::{reconcile, Policy, ReconcileInput};

/// The Plan for what was gathered, final: the pure core's answer. Where a
/// server limits per mailbox and its listing did not say how much, the
/// mailboxes that would receive copies are asked (STATUS) and the core
/// runs again with their limits, so the Plan is still exactly what
/// [`reconcile`] returns for `input`, which is left holding those limits.
pub async fn decide(input: &mut ReconcileInput, policy: &Policy, conns: &mut Lane) -> Plan {
    decide_with(input, policy, async |wanted| {
        ask_limits(conns, wanted).await
    })
    .await
}

/// [`decide`], with the asking given (`ask` answers each query with the
/// mailbox's limit, None for none or not known).
async fn decide_with(
    input: &mut ReconcileInput,
    policy: &Policy,
    ask: impl AsyncFnOnce(Vec<LimitQuery>) -> Vec<(LimitQuery, Option<u64>)>,
) -> Plan {
    let plan = reconcile(input, policy);
    let wanted = limits_to_ask(&plan, &input.limits);
    if wanted.is_empty() {
        return plan;
    }
    for (query, limit) in ask(wanted).await {
        // Not known (the STATUS failed) counts as no limit, as it always
        // did: the server's refusal, if any, is recorded against the copy.
        input
            .limits
            .mailbox_limit
            .insert((query.mailbox, query.side), limit);
    }
    reconcile(input, policy)
}

/// `STATUS … (APPENDLIMIT)` for each query, both sides at once.
async fn ask_limits(conns: &mut Lane, wanted: Vec<LimitQuery>) -> Vec<(LimitQuery, Option<u64>)> {
    let (for_a, for_b): (Vec<_>, Vec<_>) = wanted.into_iter().partition(|q| q.side == Side::A);
    let ask_side = async |conn: &mut Connection, queries: Vec<LimitQuery>| {
        let mut answers = Vec::with_capacity(queries.len());
        for query in queries {
            let limit = conn
                .mailbox_append_limit(&query.wire)
                .await
                .unwrap_or_else(|e| {
                    eprintln!("imapmend: warning: {e}; its size limit is not known");
                    None
                });
            answers.push((query, limit));
        }
        answers
    };
    let [a, b] = conns;
    let (mut answers, from_b) = tokio::join!(ask_side(a, for_a), ask_side(b, for_b));
    answers.extend(from_b);
    answers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Fingerprint, FlagSet, InternalDate, MailboxStatus, MessageMeta, Uid};
    use crate::plan::SkipReason;
    use crate::reconcile::mailboxes::Naming;
    use crate::reconcile::skips::{CopyLimits, Refusal};
    use crate::reconcile::{MailboxBase, MailboxInput, SideListing};

    fn side(sizes: &[u32]) -> SideListing {
        SideListing {
            wire_name: "INBOX".into(),
            status: MailboxStatus {
                uidvalidity: 7,
                uidnext: 100,
                exists: sizes.len() as u32,
                highestmodseq: None,
                permanent_flags: None,
            },
            messages: sizes
                .iter()
                .enumerate()
                .map(|(i, size)| MessageMeta {
                    uid: 1 + i as Uid,
                    size: *size,
                    internal_date: InternalDate::new(0, 0),
                    flags: FlagSet::new(),
                    fingerprint: Fingerprint([i as u8; 32]),
                    normalised: crate::model::Normalised::UNKNOWN,
                })
                .collect(),
            ..SideListing::default()
        }
    }

    /// INBOX with messages of 100, 5000 and 300 bytes on A, empty on B; B
    /// limits per mailbox; A's UID 3 was refused by B on an earlier run.
    fn input() -> ReconcileInput {
        ReconcileInput {
            naming: Naming {
                delimiters: [Some('/'), Some('/')],
                ..Naming::default()
            },
            mailboxes: vec![MailboxInput {
                name: "INBOX".into(),
                sides: [Some(side(&[100, 5000, 300])), Some(side(&[]))],
                base: MailboxBase::default(),
            }],
            limits: CopyLimits {
                per_mailbox: [false, true],
                ..CopyLimits::default()
            },
            refusals: vec![Refusal {
                mailbox: "INBOX".into(),
                side: Side::A,
                uidvalidity: 7,
                uid: 3,
                reason: "NO [LIMIT] no".into(),
            }],
            ..ReconcileInput::default()
        }
    }

    fn skipped(plan: &Plan) -> Vec<(Uid, SkipReason)> {
        plan.mailboxes[0]
            .skipped
            .iter()
            .map(|s| (s.uid, s.why))
            .collect()
    }

    /// The Plan `plan` and `sync` print is exactly the core's answer for
    /// the input as finally gathered — per-mailbox limits asked included —
    /// and only the mailbox that receives copies is asked, once.
    #[tokio::test]
    async fn the_plan_is_reconciles_answer_with_the_limits_asked() {
        let mut input = input();
        let mut asked = Vec::new();
        let plan = decide_with(&mut input, &Policy::default(), async |wanted| {
            asked.extend(wanted.clone());
            wanted.into_iter().map(|q| (q, Some(1000))).collect()
        })
        .await;
        assert_eq!(
            asked,
            [LimitQuery {
                mailbox: "INBOX".into(),
                side: Side::B,
                wire: "INBOX".into()
            }]
        );
        assert_eq!(plan, reconcile(&input, &Policy::default()));
        assert_eq!(
            skipped(&plan),
            [(2, SkipReason::AppendLimit), (3, SkipReason::Refused)]
        );
        let copied: Vec<Uid> = plan.mailboxes[0].copies.iter().map(|c| c.uid).collect();
        assert_eq!(copied, [1]);
        assert!(plan.mailboxes[0].expunges.is_empty());
    }

    /// Where the listing gave the mailbox's limit (LIST-STATUS), or the
    /// server announced one for every mailbox, nothing is asked.
    #[tokio::test]
    async fn a_limit_already_known_is_not_asked() {
        let never = async |_: Vec<LimitQuery>| -> Vec<(LimitQuery, Option<u64>)> {
            panic!("asked although known")
        };
        let mut listed = input();
        listed
            .limits
            .mailbox_limit
            .insert(("INBOX".into(), Side::B), Some(1000));
        let plan = decide_with(&mut listed, &Policy::default(), never).await;
        assert_eq!(
            skipped(&plan),
            [(2, SkipReason::AppendLimit), (3, SkipReason::Refused)]
        );
        let mut server_wide = input();
        server_wide.limits.append_limit = [None, Some(1000)];
        let plan = decide_with(&mut server_wide, &Policy::default(), never).await;
        assert_eq!(plan, reconcile(&server_wide, &Policy::default()));
        assert_eq!(
            skipped(&plan),
            [(2, SkipReason::AppendLimit), (3, SkipReason::Refused)]
        );
        // No limit anywhere: nothing to ask either.
        let mut unlimited = input();
        unlimited.limits.per_mailbox = [false, false];
        let plan = decide_with(&mut unlimited, &Policy::default(), never).await;
        assert_eq!(skipped(&plan), [(3, SkipReason::Refused)]);
    }

    /// Round trips, counted on scripted servers: a run with nothing to
    /// copy asks nothing; a first sync into a mailbox of a server that
    /// limits per mailbox, whose LIST answer did not say, asks that one
    /// mailbox once (one STATUS) — and nothing more.
    #[tokio::test]
    async fn limits_cost_a_round_trip_only_where_copies_go_and_the_listing_did_not_say() {
        use crate::imap::fake_server::{limits, logged_in, run_script, send, spec, Step};
        use crate::imap::TlsMode;
        let lane = async |scripts: [Vec<Step>; 2]| {
            let mut lane = Vec::new();
            let mut servers = Vec::new();
            for (side, script) in Side::BOTH.into_iter().zip(scripts) {
                let (port, server) = run_script(script).await;
                let spec = crate::imap::ConnectSpec {
                    side,
                    ..spec(port, TlsMode::None)
                };
                lane.push(Connection::connect_with(&spec, &limits()).await.unwrap());
                servers.push(server);
            }
            let lane: Lane = lane.try_into().ok().unwrap();
            (lane, servers)
        };
        let quiet = |caps: &str| {
            let mut steps = logged_in(caps);
            steps.extend([Step::Silence(300), Step::Close]);
            steps
        };

        // First sync: B is asked about INBOX, once.
        let mut b = logged_in("APPENDLIMIT");
        b.extend([
            Step::Expect("A0002 STATUS \"INBOX\" (APPENDLIMIT)"),
            send("* STATUS INBOX (APPENDLIMIT 1000)\r\nA0002 OK done\r\n"),
            Step::Silence(300),
            Step::Close,
        ]);
        let (mut conns, servers) = lane([quiet(""), b]).await;
        let mut first = input();
        let plan = decide(&mut first, &Policy::default(), &mut conns).await;
        assert_eq!(
            skipped(&plan),
            [(2, SkipReason::AppendLimit), (3, SkipReason::Refused)]
        );
        for server in servers {
            server.await.unwrap().unwrap();
        }
        drop(conns);

        // Nothing to copy (B holds the same): nothing asked.
        let (mut conns, servers) = lane([quiet(""), quiet("APPENDLIMIT")]).await;
        let mut noop = input();
        noop.mailboxes[0].sides[1] = noop.mailboxes[0].sides[0].clone();
        noop.refusals.clear();
        let plan = decide(&mut noop, &Policy::default(), &mut conns).await;
        assert!(plan.mailboxes[0].copies.is_empty() && plan.mailboxes[0].skipped.is_empty());
        for server in servers {
            server.await.unwrap().unwrap();
        }
        drop(conns);
    }
}
