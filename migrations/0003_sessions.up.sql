-- Sessions: one row per sign-in at the IdP. Tokens are short-lived; while its session lives, a browser
-- renews its token with the opaque session cookie (only its SHA-256 is stored here) without going back
-- to the IdP. A session ends at idle timeout, absolute expiry, sign-out, IdP logout or operator revocation.
CREATE TABLE sessions (
  sid               text        PRIMARY KEY,
  -- SHA-256 of the renewal secret held in the browser's session cookie (NULL: a session that cannot be renewed).
  secret_hash       bytea       UNIQUE,
  subject           text        NOT NULL,
  email             text,
  groups            text[]      NOT NULL DEFAULT '{}',
  idp_issuer        text        NOT NULL,
  session_index     text,
  name_id_format    text,
  client_address    text,
  created_at        timestamptz NOT NULL,
  last_seen_at      timestamptz NOT NULL,
  -- Idle deadline: last_seen_at + SESSION_IDLE_TIMEOUT_SECONDS (kept as a column so the sweep and
  -- the renewal compare one value; moved forward at each renewal).
  idle_expires_at   timestamptz NOT NULL,
  -- Absolute end: min(sign-in + SESSION_MAX_LIFETIME_SECONDS, the IdP's SessionNotOnOrAfter).
  expires_at        timestamptz NOT NULL,
  ended_at          timestamptz,
  end_reason        text,
  CONSTRAINT sessions_expiry_after_start CHECK (expires_at > created_at),
  CONSTRAINT sessions_end_has_reason CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);
-- IdP logout: the live sessions of one NameID (and SessionIndex) at one IdP; offboarding by subject.
CREATE INDEX sessions_live_subject_idx ON sessions (idp_issuer, subject) WHERE ended_at IS NULL;
CREATE INDEX sessions_live_by_subject_idx ON sessions (subject) WHERE ended_at IS NULL;
-- The sweep.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- Every token belongs to the session that issued it (NULL for tokens issued before this migration).
ALTER TABLE issued_tokens ADD COLUMN sid text;
CREATE INDEX issued_tokens_live_sid_idx ON issued_tokens (sid) WHERE revoked_at IS NULL;
