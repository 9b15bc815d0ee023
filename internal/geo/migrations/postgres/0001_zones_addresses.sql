-- Parking zones, address points and address import runs.
-- Dates that are legal dates are DATE; instants are TIMESTAMPTZ.

CREATE TABLE zones (
	municipality TEXT NOT NULL REFERENCES municipalities (ars),
	zone_id      TEXT NOT NULL,
	valid_from   DATE NOT NULL,
	valid_to     DATE,                -- exclusive; NULL while in force
	name         TEXT NOT NULL,
	district     TEXT NOT NULL DEFAULT '',
	geometry     TEXT NOT NULL,       -- GeoJSON geometry, WGS84
	properties   TEXT NOT NULL DEFAULT '{}',
	source       TEXT NOT NULL,
	imported_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (municipality, zone_id, valid_from)
);

CREATE TABLE addresses (
	municipality TEXT NOT NULL REFERENCES municipalities (ars),
	street_key   TEXT NOT NULL,
	number_key   TEXT NOT NULL,
	postcode     TEXT NOT NULL DEFAULT '',
	street       TEXT NOT NULL,
	house_number TEXT NOT NULL,
	district     TEXT NOT NULL DEFAULT '',
	lon          DOUBLE PRECISION NOT NULL,
	lat          DOUBLE PRECISION NOT NULL,
	source       TEXT NOT NULL,
	PRIMARY KEY (municipality, street_key, number_key, postcode)
);

CREATE TABLE imports (
	id           TEXT PRIMARY KEY,
	municipality TEXT NOT NULL REFERENCES municipalities (ars),
	kind         TEXT NOT NULL CHECK (kind IN ('addresses')),
	source       TEXT NOT NULL,
	content      BYTEA NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
	rows_read    INTEGER NOT NULL DEFAULT 0,
	stats        TEXT NOT NULL DEFAULT '{}',
	error        TEXT NOT NULL DEFAULT '',
	created_at   TIMESTAMPTZ NOT NULL,
	updated_at   TIMESTAMPTZ NOT NULL
);
