-- Municipalities (tenants). Every component's tables reference them, so
-- this set comes first.
-- Instants are TIMESTAMP in UTC; SQLite stores them as text in one fixed
-- format, so comparisons work.

CREATE TABLE municipalities (
	ars            TEXT PRIMARY KEY CHECK (length(ars) = 12),  -- Amtlicher Regionalschlüssel
	name           TEXT NOT NULL,
	geo_generation INTEGER NOT NULL DEFAULT 0,                  -- bumped on every zone/address import
	created_at     TIMESTAMP NOT NULL
);
