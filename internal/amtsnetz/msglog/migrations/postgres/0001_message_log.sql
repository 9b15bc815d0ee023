-- The message log of an Amtsnetz node (internal/amtsnetz/msglog): one
-- record per message sent or received, in the order of a Merkle tree
-- (seq = leaf index + 1). leaf_hash is kept for ever; the record's other
-- columns are cleared when its retention ends (forgotten_at), so the tree
-- stays verifiable without the content.
CREATE TABLE amtsnetz_log (
	seq          BIGINT PRIMARY KEY,
	leaf_hash    TEXT NOT NULL,             -- hex merkle.LeafHash of the record (record.go)
	at           TIMESTAMPTZ NOT NULL,
	direction    TEXT NOT NULL,             -- 'in' or 'out' (or '' once forgotten)
	message_id   TEXT NOT NULL,
	client       TEXT NOT NULL,
	service      TEXT NOT NULL,
	purpose      TEXT NOT NULL,
	reference    TEXT NOT NULL,
	reply_to     TEXT NOT NULL,
	status       INTEGER NOT NULL,          -- HTTP status of a response; 0 for a request
	signature    TEXT NOT NULL,             -- the message's JWS (detached)
	body_sha256  TEXT NOT NULL,
	body         BYTEA,                      -- sealed (internal/vault) when bodies are kept; NULL otherwise
	forgotten_at TIMESTAMPTZ
);
CREATE INDEX amtsnetz_log_message ON amtsnetz_log (message_id);

-- Signed tree heads: the size and root of the tree at a moment, signed
-- with the node's member key.
CREATE TABLE amtsnetz_log_heads (
	size      BIGINT PRIMARY KEY,
	root      TEXT NOT NULL,
	at        TIMESTAMPTZ NOT NULL,
	signature TEXT NOT NULL                 -- base64 of the signature over HeadBytes
);
