-- Internal notes of the clerks on a case (issue #4): never shown to the
-- citizen, personal data possible, so they are deleted when the case is
-- anonymised.
CREATE TABLE parking_notes (
	application_id TEXT NOT NULL REFERENCES parking_applications (id),
	seq            INTEGER NOT NULL,
	at             TIMESTAMPTZ NOT NULL,
	actor          TEXT NOT NULL,
	actor_name     TEXT NOT NULL,
	text           TEXT NOT NULL,
	PRIMARY KEY (application_id, seq)
);
