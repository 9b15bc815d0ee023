-- Assignment of cases in review (issue #4): who works on a case, so that
-- two clerks never work the same case unknowingly. assignee is the actor
-- ("staff:<subject>" or "clerk:<key id>"), assignee_name what the pages
-- show; '' when nobody has taken the case.
ALTER TABLE parking_applications ADD COLUMN assignee TEXT NOT NULL DEFAULT '';
ALTER TABLE parking_applications ADD COLUMN assignee_name TEXT NOT NULL DEFAULT '';
ALTER TABLE parking_applications ADD COLUMN assigned_at TIMESTAMP;
