-- Bewohnerparken: applications, their history, payments, permits, API keys.
-- Personal data lives only in parking_applications.data (JSON) and the
-- columns named "personal" below; the storage-limitation job clears them.

CREATE TABLE parking_applications (
	id               TEXT PRIMARY KEY,
	municipality     TEXT NOT NULL REFERENCES municipalities (ars),
	reference        TEXT NOT NULL UNIQUE,          -- Aktenzeichen shown to the citizen
	access_code_hash TEXT NOT NULL,                 -- SHA-256 of the access code (high-entropy, random)
	idempotency_key  TEXT,                          -- as sent by the client
	request_hash     TEXT NOT NULL,                 -- SHA-256 of the canonical request: a reused key with another body is refused
	status           TEXT NOT NULL,
	applied_on       DATE NOT NULL,                 -- prices and rules of this day apply
	data             TEXT NOT NULL,                 -- personal: the form as JSON
	plate            TEXT NOT NULL,                 -- personal
	person_hash      TEXT NOT NULL,                 -- keyed hash of normalised name + birth date: "permits per person" without a person table
	zone_id          TEXT NOT NULL DEFAULT '',
	duration_months  INTEGER NOT NULL,
	fee_cents        INTEGER,
	outcome          TEXT NOT NULL DEFAULT '',      -- rule trace as JSON
	kassenzeichen    TEXT NOT NULL DEFAULT '',
	created_at       TIMESTAMP NOT NULL,
	updated_at       TIMESTAMP NOT NULL,
	anonymised_at    TIMESTAMP,
	UNIQUE (municipality, idempotency_key)
);
CREATE INDEX parking_applications_status ON parking_applications (municipality, status, created_at);

CREATE TABLE parking_events (
	application_id TEXT NOT NULL REFERENCES parking_applications (id),
	seq            INTEGER NOT NULL,
	at             TIMESTAMP NOT NULL,
	actor          TEXT NOT NULL,                   -- "citizen", "system", "clerk:<key id>", "payment:<provider>"
	from_status    TEXT NOT NULL,
	to_status      TEXT NOT NULL,
	note           TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (application_id, seq)
);

CREATE TABLE parking_payments (
	id             TEXT PRIMARY KEY,
	application_id TEXT NOT NULL REFERENCES parking_applications (id),
	provider       TEXT NOT NULL,
	amount_cents   INTEGER NOT NULL CHECK (amount_cents > 0),
	kassenzeichen  TEXT NOT NULL,
	status         TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'abandoned', 'expired')),
	created_at     TIMESTAMP NOT NULL,
	updated_at     TIMESTAMP NOT NULL,
	paid_at        TIMESTAMP
);
CREATE INDEX parking_payments_application ON parking_payments (application_id);

-- Each provider event is processed once: a replayed callback finds its row.
CREATE TABLE payment_events (
	provider    TEXT NOT NULL,
	event_id    TEXT NOT NULL,
	payment_id  TEXT NOT NULL,
	received_at TIMESTAMP NOT NULL,
	PRIMARY KEY (provider, event_id)
);

CREATE TABLE parking_permits (
	number         TEXT PRIMARY KEY,
	application_id TEXT NOT NULL UNIQUE REFERENCES parking_applications (id),
	municipality   TEXT NOT NULL REFERENCES municipalities (ars),
	plate          TEXT NOT NULL,
	zone_id        TEXT NOT NULL,
	valid_from     DATE NOT NULL,
	valid_until    DATE NOT NULL,                   -- inclusive
	status         TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
	token          TEXT NOT NULL,
	issued_at      TIMESTAMP NOT NULL,
	CHECK (valid_until >= valid_from)
);
CREATE INDEX parking_permits_plate ON parking_permits (municipality, plate);

-- A plate holds at most one active permit for any day in a municipality.
-- SQLite has no exclusion constraints: triggers enforce it inside the
-- writing transaction (SQLite has one writer, so there is no race).
CREATE TRIGGER parking_permits_no_overlap_insert BEFORE INSERT ON parking_permits
WHEN NEW.status = 'active' AND EXISTS (
	SELECT 1 FROM parking_permits p
	WHERE p.municipality = NEW.municipality AND p.plate = NEW.plate AND p.status = 'active'
	  AND p.valid_from <= NEW.valid_until AND NEW.valid_from <= p.valid_until)
BEGIN
	SELECT RAISE(ABORT, 'parking_permits_no_overlap: plate already has an active permit for that period');
END;
CREATE TRIGGER parking_permits_no_overlap_update BEFORE UPDATE OF status, plate, valid_from, valid_until ON parking_permits
WHEN NEW.status = 'active' AND EXISTS (
	SELECT 1 FROM parking_permits p
	WHERE p.number <> NEW.number AND p.municipality = NEW.municipality AND p.plate = NEW.plate AND p.status = 'active'
	  AND p.valid_from <= NEW.valid_until AND NEW.valid_from <= p.valid_until)
BEGIN
	SELECT RAISE(ABORT, 'parking_permits_no_overlap: plate already has an active permit for that period');
END;

-- Secrets this installation generates for itself (HMAC keys).
CREATE TABLE installation_secrets (
	name       TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
	id           TEXT PRIMARY KEY,                  -- public part, shown in logs
	municipality TEXT NOT NULL REFERENCES municipalities (ars),
	role         TEXT NOT NULL CHECK (role IN ('enforcement', 'casework')),
	name         TEXT NOT NULL,
	secret_hash  TEXT NOT NULL,                     -- SHA-256 of the secret part
	created_at   TIMESTAMP NOT NULL,
	revoked_at   TIMESTAMP
);

-- Every enforcement lookup with its purpose; the plate is stored as a keyed
-- hash, so the log proves the lookup without becoming a movement profile.
CREATE TABLE enforcement_lookups (
	at         TIMESTAMP NOT NULL,
	api_key_id TEXT NOT NULL,
	plate_hash TEXT NOT NULL,
	zone_id    TEXT NOT NULL DEFAULT '',
	purpose    TEXT NOT NULL,
	valid      INTEGER NOT NULL
);
