-- Rule and fee files the Fachadministration uploads in the workbench
-- (issue #4): each checked file is kept; an activated one replaces the
-- deployed configuration of its municipality (the newest activated
-- wins). Versions already in force cannot be changed this way, only new
-- ones added from tomorrow on (rules_activate.go).
CREATE TABLE parking_rule_uploads (
	id           TEXT PRIMARY KEY,
	municipality TEXT NOT NULL,
	content      TEXT NOT NULL,
	sha256       TEXT NOT NULL,
	checked_by   TEXT NOT NULL,
	checked_at   TIMESTAMP NOT NULL,
	activated_by TEXT,
	activated_at TIMESTAMP
);
CREATE INDEX parking_rule_uploads_active ON parking_rule_uploads (municipality, activated_at);
