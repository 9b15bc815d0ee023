-- The rules whose result is open (to review, or failed), as ",a,b,":
-- what the queue filters by reason on, without reading the rule trace of
-- every case (store.go setDecision keeps it; cleared with the outcome).
ALTER TABLE parking_applications ADD COLUMN open_rules TEXT NOT NULL DEFAULT '';
UPDATE parking_applications SET open_rules = COALESCE((
	SELECT ',' || string_agg(r->>'Rule', ',') || ','
	FROM jsonb_array_elements(parking_applications.outcome::jsonb -> 'results') r
	WHERE r->>'Verdict' <> 'pass'), '')
WHERE outcome <> '';
