-- Renewals and reminders.
--
-- A renewal is an application that names the permit it renews: the rule
-- "permits per person" does not count that permit, and the new term is
-- appended to it. A permit has at most one open renewal (rejected and
-- withdrawn ones do not count).
ALTER TABLE parking_applications ADD COLUMN renews_permit TEXT REFERENCES parking_permits (number);
CREATE UNIQUE INDEX parking_applications_open_renewal ON parking_applications (renews_permit)
	WHERE renews_permit IS NOT NULL AND status NOT IN ('rejected', 'withdrawn');

-- The reminders sent before a permit ends (30 and 7 days): one row per
-- permit and reminder, written with the e-mail, so a job that runs twice
-- sends nothing twice. No personal data.
CREATE TABLE parking_reminders (
	permit_number TEXT NOT NULL REFERENCES parking_permits (number),
	days          INTEGER NOT NULL,
	sent_on       DATE NOT NULL,
	PRIMARY KEY (permit_number, days)
);
