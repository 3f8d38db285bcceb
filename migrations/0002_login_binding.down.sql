DROP INDEX IF EXISTS saml_requests_client_network_idx;
ALTER TABLE saml_requests DROP COLUMN IF EXISTS client_network, DROP COLUMN IF EXISTS state_hash;
