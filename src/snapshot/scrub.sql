-- What scrubs found damaged or undeliverable, kept for a while so the
-- mass-deletion guard can count damage across runs (one row per finding).
CREATE TABLE IF NOT EXISTS scrub_finding (
    mailbox      INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
    side         TEXT NOT NULL CHECK (side IN ('A', 'B')),
    uidvalidity  INTEGER NOT NULL,
    uid          INTEGER NOT NULL,
    found_at     INTEGER NOT NULL,
    finding      TEXT NOT NULL CHECK (finding IN ('damaged', 'undeliverable'))
);
CREATE INDEX IF NOT EXISTS message_by_verification ON message (side, verified_at);
