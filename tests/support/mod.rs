//! The test bed shared by the integration tests: real Dovecot servers
//! ([`dovecot`]), Cyrus servers ([`cyrus`], unpacked by
//! `scripts/cyrus-setup`), Courier-IMAP ([`courier`], unpacked by
//! `scripts/courier-setup`, reached through a tunnel; [`pymap`] for the
//! long matrix), the Dovecot-against-`INBOX.`-prefix bed ([`prefixed`]),
//! the one way to run the binary between two users ([`imapmend`]), a proxy
//! that cuts, stalls and rewrites ([`proxy`]), an independent IMAP client
//! ([`mailclient`]), the strong oracle ([`oracle`]), and mail to feed them:
//! hand-named messages ([`mail`]), seeded volume ([`generator`]) and real
//! odd mail ([`corpus`]); what servers rewrite ([`rewrites`]) and the
//! first-meeting and restore repairs every server runs ([`repair`]).
//!
//! Each test binary includes this with `mod support;` and uses only part of
//! it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod corpus;
pub mod courier;
pub mod cyrus;
pub mod dovecot;
pub mod generator;
pub mod imapmend;
pub mod mail;
pub mod mailclient;
pub mod oracle;
pub mod prefixed;
pub mod process;
pub mod proxy;
pub mod pymap;
pub mod repair;
pub mod rewrites;
pub mod schema;
pub mod tls;
