-- Zone files the Fachadministration checked in the workbench (issue #4),
-- kept until imported (zones_page.go). content is the GeoJSON as uploaded.
CREATE TABLE parking_zone_uploads (
	id           TEXT PRIMARY KEY,
	municipality TEXT NOT NULL,
	content      BLOB NOT NULL,
	sha256       TEXT NOT NULL,
	valid_from   DATE NOT NULL,
	checked_by   TEXT NOT NULL,
	checked_at   TIMESTAMP NOT NULL,
	imported_by  TEXT,
	imported_at  TIMESTAMP
);
