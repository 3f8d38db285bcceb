-- Issued tokens: the authz-service accepts a well-signed JWT only while its row is here, unrevoked and unexpired.
CREATE TABLE issued_tokens (
  jti             text        PRIMARY KEY,
  subject         text        NOT NULL,
  email           text,
  groups          text[]      NOT NULL DEFAULT '{}',
  idp_issuer      text        NOT NULL,
  session_index   text,
  client_address  text,
  issued_at       timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL,
  revoked_at      timestamptz,
  revoked_reason  text,
  CONSTRAINT issued_tokens_expiry_after_issue CHECK (expires_at > issued_at)
);
-- The expiry sweep.
CREATE INDEX issued_tokens_expires_at_idx ON issued_tokens (expires_at);
-- Offboarding: every live token of one subject.
CREATE INDEX issued_tokens_live_subject_idx ON issued_tokens (subject) WHERE revoked_at IS NULL;

-- Replay store: an assertion id is redeemed at most once, across replicas.
CREATE TABLE saml_assertions (
  assertion_id  text        NOT NULL,
  idp_issuer    text        NOT NULL,
  jti           text,
  received_at   timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  PRIMARY KEY (idp_issuer, assertion_id)
);
CREATE INDEX saml_assertions_expires_at_idx ON saml_assertions (expires_at);

-- Outstanding SP-initiated AuthnRequest ids (InResponseTo), single use.
CREATE TABLE saml_requests (
  request_id  text        PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX saml_requests_expires_at_idx ON saml_requests (expires_at);

-- Every replica of the authz-service listens on this channel: a revoked or deleted live token is
-- announced by the database itself, whoever changed the row (logout, the revoke CLI, an operator's SQL).
CREATE FUNCTION notify_token_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    -- The expiry sweep deletes dead rows: only a live row's removal is news.
    IF OLD.revoked_at IS NULL AND OLD.expires_at > now() THEN
      PERFORM pg_notify('token_revoked', OLD.jti);
    END IF;
    RETURN OLD;
  END IF;
  IF NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL
     OR NEW.expires_at < OLD.expires_at
     OR NEW.jti <> OLD.jti THEN
    PERFORM pg_notify('token_revoked', OLD.jti);
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER issued_tokens_notify_revoked
  AFTER UPDATE OR DELETE ON issued_tokens
  FOR EACH ROW EXECUTE FUNCTION notify_token_revoked();
