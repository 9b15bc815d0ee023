-- The staff directory: everyone who signed in, with name, roles and
-- municipality as of their latest sign-in, so that a case can be handed
-- over to a colleague by name. The identity provider stays the source of
-- truth; an entry is only as fresh as its last_sign_in.
CREATE TABLE identity_staff (
	subject      TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	roles        TEXT NOT NULL,
	municipality TEXT NOT NULL,
	last_sign_in TIMESTAMP NOT NULL
);
CREATE INDEX identity_staff_municipality ON identity_staff (municipality, last_sign_in);
