-- Bewohnerparken: applications, their history, payments, permits, API keys.
-- Personal data lives only in parking_applications.data (JSON) and the
-- columns named "personal" below; the storage-limitation job clears them.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE parking_applications (
	id               TEXT PRIMARY KEY,
	municipality     TEXT NOT NULL REFERENCES municipalities (ars),
	reference        TEXT NOT NULL UNIQUE,
	access_code_hash TEXT NOT NULL,
	idempotency_key  TEXT,
	request_hash     TEXT NOT NULL,
	status           TEXT NOT NULL,
	applied_on       DATE NOT NULL,
	data             TEXT NOT NULL,
	plate            TEXT NOT NULL,
	person_hash      TEXT NOT NULL,
	zone_id          TEXT NOT NULL DEFAULT '',
	duration_months  INTEGER NOT NULL,
	fee_cents        BIGINT,
	outcome          TEXT NOT NULL DEFAULT '',
	kassenzeichen    TEXT NOT NULL DEFAULT '',
	created_at       TIMESTAMPTZ NOT NULL,
	updated_at       TIMESTAMPTZ NOT NULL,
	anonymised_at    TIMESTAMPTZ,
	UNIQUE (municipality, idempotency_key)
);
CREATE INDEX parking_applications_status ON parking_applications (municipality, status, created_at);

CREATE TABLE parking_events (
	application_id TEXT NOT NULL REFERENCES parking_applications (id),
	seq            INTEGER NOT NULL,
	at             TIMESTAMPTZ NOT NULL,
	actor          TEXT NOT NULL,
	from_status    TEXT NOT NULL,
	to_status      TEXT NOT NULL,
	note           TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (application_id, seq)
);

CREATE TABLE parking_payments (
	id             TEXT PRIMARY KEY,
	application_id TEXT NOT NULL REFERENCES parking_applications (id),
	provider       TEXT NOT NULL,
	amount_cents   BIGINT NOT NULL CHECK (amount_cents > 0),
	kassenzeichen  TEXT NOT NULL,
	status         TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'abandoned', 'expired')),
	created_at     TIMESTAMPTZ NOT NULL,
	updated_at     TIMESTAMPTZ NOT NULL,
	paid_at        TIMESTAMPTZ
);
CREATE INDEX parking_payments_application ON parking_payments (application_id);

CREATE TABLE payment_events (
	provider    TEXT NOT NULL,
	event_id    TEXT NOT NULL,
	payment_id  TEXT NOT NULL,
	received_at TIMESTAMPTZ NOT NULL,
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
	issued_at      TIMESTAMPTZ NOT NULL,
	CHECK (valid_until >= valid_from),
	-- A plate holds at most one active permit for any day in a municipality.
	CONSTRAINT parking_permits_no_overlap EXCLUDE USING gist (
		municipality WITH =, plate WITH =, daterange(valid_from, valid_until, '[]') WITH &&
	) WHERE (status = 'active')
);
CREATE INDEX parking_permits_plate ON parking_permits (municipality, plate);

-- Secrets this installation generates for itself (HMAC keys).
CREATE TABLE installation_secrets (
	name       TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
	id           TEXT PRIMARY KEY,
	municipality TEXT NOT NULL REFERENCES municipalities (ars),
	role         TEXT NOT NULL CHECK (role IN ('enforcement', 'casework')),
	name         TEXT NOT NULL,
	secret_hash  TEXT NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	revoked_at   TIMESTAMPTZ
);

CREATE TABLE enforcement_lookups (
	at         TIMESTAMPTZ NOT NULL,
	api_key_id TEXT NOT NULL,
	plate_hash TEXT NOT NULL,
	zone_id    TEXT NOT NULL DEFAULT '',
	purpose    TEXT NOT NULL,
	valid      BOOLEAN NOT NULL
);
