-- The e-mail outbox: every message Rathaus sends is stored here, in the
-- transaction of the change that causes it, and sent by a job. Addresses
-- and bodies are personal data; the mail retention job deletes messages
-- after 90 days, and a case's anonymisation deletes its messages at once.

CREATE TABLE mail_outbox (
	id         TEXT PRIMARY KEY,
	to_addr    TEXT NOT NULL,
	subject    TEXT NOT NULL,
	body       TEXT NOT NULL,
	reference  TEXT NOT NULL DEFAULT '',
	status     TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'kept', 'failed')),
	note       TEXT NOT NULL DEFAULT '',
	attempts   INTEGER NOT NULL DEFAULT 0,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	sent_at    TIMESTAMPTZ
);
CREATE INDEX mail_outbox_created ON mail_outbox (created_at);
CREATE INDEX mail_outbox_reference ON mail_outbox (reference);
