-- Municipalities (tenants). Every component's tables reference them, so
-- this set comes first. Instants are TIMESTAMPTZ.

CREATE TABLE municipalities (
	ars            TEXT PRIMARY KEY CHECK (length(ars) = 12),  -- Amtlicher Regionalschlüssel
	name           TEXT NOT NULL,
	geo_generation BIGINT NOT NULL DEFAULT 0,                   -- bumped on every zone/address import
	created_at     TIMESTAMPTZ NOT NULL
);
