//! The test bed shared by the integration tests: real Dovecot servers
//! ([`dovecot`]) and Cyrus servers ([`cyrus`], unpacked by
//! `scripts/cyrus-setup`), an independent IMAP client ([`mailclient`]), the strong
//! oracle ([`oracle`]), and mail to feed them ([`generator`], [`corpus`]).
//!
//! Each test binary includes this with `mod support;` and uses only part of
//! it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod corpus;
pub mod cyrus;
pub mod dovecot;
pub mod generator;
pub mod imapmend;
pub mod mail;
pub mod mailclient;
pub mod oracle;
pub mod process;
pub mod proxy;
pub mod pymap;
pub mod schema;
