-- Documents citizens upload (issue #4) and the clerks' requests for
-- missing information. A document's content is sealed (internal/vault,
-- AES-256-GCM under a key outside the database); the row names the key.
-- Both go, with their text, when the case is anonymised.
CREATE TABLE parking_info_requests (
	id                TEXT PRIMARY KEY,
	application_id    TEXT NOT NULL REFERENCES parking_applications (id),
	kind              TEXT NOT NULL,                -- the document asked for (documentKinds)
	message           TEXT NOT NULL,                -- the clerk's words to the citizen
	requested_by      TEXT NOT NULL,
	requested_by_name TEXT NOT NULL,
	requested_at      TIMESTAMPTZ NOT NULL,
	due_on            DATE NOT NULL,                -- last day to answer
	reminded_at       TIMESTAMPTZ,                    -- the reminder before the deadline went out
	closed_at         TIMESTAMPTZ,
	outcome           TEXT NOT NULL DEFAULT '' CHECK (outcome IN ('', 'answered', 'expired')),
	answer            TEXT NOT NULL DEFAULT ''      -- the citizen's message with the answer
);
-- At most one open request per case.
CREATE UNIQUE INDEX parking_info_requests_open ON parking_info_requests (application_id) WHERE closed_at IS NULL;
CREATE INDEX parking_info_requests_due ON parking_info_requests (due_on) WHERE closed_at IS NULL;

CREATE TABLE parking_documents (
	id             TEXT PRIMARY KEY,
	application_id TEXT NOT NULL REFERENCES parking_applications (id),
	request_id     TEXT REFERENCES parking_info_requests (id),
	kind           TEXT NOT NULL,
	media_type     TEXT NOT NULL CHECK (media_type IN ('application/pdf', 'image/jpeg', 'image/png')),
	size           BIGINT NOT NULL CHECK (size > 0),
	sha256         TEXT NOT NULL,                   -- of the content: the same file twice is one document
	key_id         TEXT NOT NULL,                   -- the vault key that sealed it
	content        BYTEA NOT NULL,                   -- sealed: nonce, ciphertext, tag
	uploaded_at    TIMESTAMPTZ NOT NULL,
	UNIQUE (application_id, sha256)
);
CREATE INDEX parking_documents_application ON parking_documents (application_id, uploaded_at);
