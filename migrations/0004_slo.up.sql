-- SAML Single Logout (issue 13 parts 2 and 3).
-- LogoutRequest ids from the IdP already acted on: the replay store for IdP-initiated logout, kept
-- until the end of the request's acceptance window (IssueInstant + SAML_REQUEST_TTL_SECONDS + skew).
CREATE TABLE saml_logout_seen (
  idp_issuer   text        NOT NULL,
  request_id   text        NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  PRIMARY KEY (idp_issuer, request_id)
);
CREATE INDEX saml_logout_seen_expires_at_idx ON saml_logout_seen (expires_at);

-- Outstanding SP-initiated LogoutRequest ids (the InResponseTo of the IdP's LogoutResponse), single
-- use, with the allowed return URL the browser asked for (NULL: the signed-out page).
CREATE TABLE saml_logout_pending (
  request_id  text        PRIMARY KEY,
  return_url  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX saml_logout_pending_expires_at_idx ON saml_logout_pending (expires_at);

-- IdP-initiated logout names a NameID and, usually, a SessionIndex: find that session's live tokens.
CREATE INDEX issued_tokens_live_session_idx ON issued_tokens (idp_issuer, subject, session_index) WHERE revoked_at IS NULL;
