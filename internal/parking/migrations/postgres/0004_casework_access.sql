-- Access of clerks to cases: every read of the queue, every opened case,
-- every decision, with the API key that did it (casework keys until staff
-- sign-in exists). No personal data: the case is named by its id only, so
-- the log outlives the anonymisation of the case and stays free of it.
CREATE TABLE casework_access (
	at             TIMESTAMPTZ NOT NULL,
	api_key_id     TEXT NOT NULL REFERENCES api_keys (id),
	application_id TEXT REFERENCES parking_applications (id), -- NULL for a read of the queue
	action         TEXT NOT NULL CHECK (action IN ('view_queue', 'view_case', 'decide'))
);
CREATE INDEX casework_access_application ON casework_access (application_id, at);
CREATE INDEX casework_access_key ON casework_access (api_key_id, at);
