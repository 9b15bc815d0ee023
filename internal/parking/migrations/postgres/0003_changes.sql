-- Changes of an issued permit: replacement vehicle, move, loss, cancellation.
--
-- A change (new plate and/or new address) and a reissue after loss or
-- damage are applications of their own that name the permit they replace:
-- when issued, the replaced permit ends ("replaced") and the new one runs
-- to the same last day. A permit has at most one open change or reissue.
-- A cancellation ends a permit at once and orders the refund the fee
-- schedule allows.
ALTER TABLE parking_applications ADD COLUMN kind TEXT NOT NULL DEFAULT 'new'
	CHECK (kind IN ('new', 'renewal', 'change', 'reissue'));
ALTER TABLE parking_applications ADD COLUMN replaces_permit TEXT REFERENCES parking_permits (number);
UPDATE parking_applications SET kind = 'renewal' WHERE renews_permit IS NOT NULL;
CREATE UNIQUE INDEX parking_applications_open_change ON parking_applications (replaces_permit)
	WHERE replaces_permit IS NOT NULL AND status NOT IN ('rejected', 'withdrawn');

-- How a permit ended before its last day, and the paid term it belongs to
-- (a replacement carries the term of the permit it replaces, so that a
-- later cancellation refunds from the fee actually paid).
ALTER TABLE parking_permits ADD COLUMN ended_on DATE;
ALTER TABLE parking_permits ADD COLUMN end_reason TEXT NOT NULL DEFAULT ''
	CHECK (end_reason IN ('', 'replaced', 'cancelled'));
ALTER TABLE parking_permits ADD COLUMN replaced_by TEXT;
ALTER TABLE parking_permits ADD COLUMN term_fee_cents INTEGER;
ALTER TABLE parking_permits ADD COLUMN term_from DATE;
ALTER TABLE parking_permits ADD COLUMN term_months INTEGER;

-- Refunds ordered at the treasury on cancellation; one per permit. The
-- treasury's answer (its booking reference) is recorded by a job.
CREATE TABLE parking_refunds (
	permit_number  TEXT PRIMARY KEY REFERENCES parking_permits (number),
	application_id TEXT NOT NULL REFERENCES parking_applications (id),
	amount_cents   INTEGER NOT NULL CHECK (amount_cents > 0),
	rule           TEXT NOT NULL,                  -- the refund rule applied, with its legal source
	status         TEXT NOT NULL CHECK (status IN ('ordered', 'booked')),
	booking        TEXT NOT NULL DEFAULT '',       -- the treasury's reference of the payout
	created_at     TIMESTAMP NOT NULL,
	updated_at     TIMESTAMP NOT NULL
);

-- The idempotency lookup (WHERE municipality = $1 AND idempotency_key = $2)
-- got a generic plan on parking_applications_status while the table had no
-- statistics (see BENCHMARKS.md); an index led by the selective column is
-- chosen without them.
CREATE UNIQUE INDEX parking_applications_idempotency ON parking_applications (idempotency_key, municipality);
