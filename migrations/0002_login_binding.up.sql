-- SP-initiated logins are bound to the browser that started them: the SHA-256 of the nonce held in that
-- browser's login-state cookie (NULL for rows written before this migration: such a request can no longer
-- finish a browser sign-in). The client network (IPv4 address or IPv6 /64) that started the login bounds
-- how many unused requests one network may hold at once.
ALTER TABLE saml_requests
  ADD COLUMN state_hash     bytea,
  ADD COLUMN client_network text;
CREATE INDEX saml_requests_client_network_idx ON saml_requests (client_network, expires_at);
