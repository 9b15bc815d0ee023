-- The e-mail outbox: every message Rathaus sends is stored here, in the
-- transaction of the change that causes it, and sent by a job. Addresses
-- and bodies are personal data; the mail retention job deletes messages
-- after 90 days, and a case's anonymisation deletes its messages at once.
-- Instants are TIMESTAMP in UTC.

CREATE TABLE mail_outbox (
	id         TEXT PRIMARY KEY,                 -- "mail_…": the only thing logs name
	to_addr    TEXT NOT NULL,                    -- personal
	subject    TEXT NOT NULL,
	body       TEXT NOT NULL,                    -- personal: German plain text
	reference  TEXT NOT NULL DEFAULT '',         -- the case (Aktenzeichen), to delete with it
	status     TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'kept', 'failed')),
	note       TEXT NOT NULL DEFAULT '',         -- why kept or failed; never an address
	attempts   INTEGER NOT NULL DEFAULT 0,
	created_at TIMESTAMP NOT NULL,
	updated_at TIMESTAMP NOT NULL,
	sent_at    TIMESTAMP                         -- set once, when the SMTP server accepted it
);
CREATE INDEX mail_outbox_created ON mail_outbox (created_at);
CREATE INDEX mail_outbox_reference ON mail_outbox (reference);
