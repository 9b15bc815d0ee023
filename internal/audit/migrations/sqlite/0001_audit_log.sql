-- The tamper-evident audit log (internal/audit): one row per event, each
-- carrying the SHA-256 of its content and of the entry before it. Entries
-- hold references (key ids, application ids), never personal data, so the
-- log is kept without a retention period: deleting old entries would
-- break the chain. Instants are TIMESTAMP in UTC, to the microsecond.

CREATE TABLE audit_log (
	seq          INTEGER PRIMARY KEY,      -- 1, 2, 3, … without gaps
	at           TIMESTAMP NOT NULL,
	actor        TEXT NOT NULL,            -- "clerk:key_…", "staff:…", "system"
	action       TEXT NOT NULL,            -- "view_case", "decide", …
	object       TEXT NOT NULL DEFAULT '', -- a reference: "parking_application:app_…"
	municipality TEXT NOT NULL DEFAULT '', -- ARS
	origin       TEXT NOT NULL DEFAULT '', -- where from (client address, "cli")
	reason       TEXT NOT NULL DEFAULT '', -- why
	prev_hash    TEXT NOT NULL,            -- hex SHA-256 of the previous entry
	hash         TEXT NOT NULL             -- hex SHA-256 of this one (audit.hashEntry)
);

-- The head: the last entry's seq and hash, in one row that every append
-- updates (on PostgreSQL its row lock orders concurrent appends).
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Signed checkpoints: the head at a moment, signed with the installation's
-- audit key (ECDSA P-256). Rewriting the chain behind a checkpoint needs
-- that key.
CREATE TABLE audit_checkpoints (
	seq       INTEGER PRIMARY KEY,
	hash      TEXT NOT NULL,
	at        TIMESTAMP NOT NULL,
	key_id    TEXT NOT NULL,
	signature TEXT NOT NULL                -- base64 ASN.1 ECDSA signature
);
