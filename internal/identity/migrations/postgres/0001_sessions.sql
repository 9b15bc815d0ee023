-- Staff sign-in (internal/identity): the sessions of signed-in staff and
-- the short-lived state of sign-ins under way. Tokens are stored as
-- SHA-256 hashes only. Instants are TIMESTAMPTZ.

CREATE TABLE identity_sessions (
	token_hash   TEXT PRIMARY KEY,       -- hex SHA-256 of the cookie's token
	subject      TEXT NOT NULL,          -- the identity provider's "sub"
	name         TEXT NOT NULL,          -- display name from the ID token
	roles        TEXT NOT NULL,          -- comma-separated: clerk, lead, admin
	municipality TEXT NOT NULL,          -- ARS the staff member works for
	csrf         TEXT NOT NULL,          -- token every state-changing form carries
	created_at   TIMESTAMPTZ NOT NULL,
	last_seen    TIMESTAMPTZ NOT NULL
);
CREATE INDEX identity_sessions_created ON identity_sessions (created_at);

CREATE TABLE identity_login_states (
	state_hash TEXT PRIMARY KEY,         -- hex SHA-256 of the OAuth state
	verifier   TEXT NOT NULL,            -- PKCE code verifier
	nonce      TEXT NOT NULL,
	next       TEXT NOT NULL,            -- where to go after sign-in (a path)
	created_at TIMESTAMPTZ NOT NULL
);
