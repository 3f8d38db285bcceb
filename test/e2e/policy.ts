/** What every end-to-end scenario is written against: the hosts and addresses, the IdP, alice, and the policy of the stack's authz-service. */
import { PARTNER_ISSUER } from './several-idps.js';

export const HOST = '127.0.0.1';
/** The one network allowed to redeem (ALLOWED_CIDRS): the suite's "inside" client binds to it. */
export const REDEEM_NETWORK = '127.0.0.2';
export const IDP_ISSUER = 'http://idp.e2e.test/entity';
export const IDP_SSO_URL = 'http://idp.e2e.test/sso';
/** UPSTREAM_JWT_ISSUER of the stack's authz-service (X-Auth-Request-Jwt on the staff-app rule). */
export const UPSTREAM_ISSUER = 'http://authz.e2e.test';
export const ALICE = { nameId: 'alice@example.com', email: 'alice@example.com', groups: ['staff'] } as const;

/** The rules every scenario is written against. */
export const E2E_POLICY = `
rules:
  - id: root-public
    effect: allow
    public: true
    paths: ["/"]
    methods: [GET]
  - id: no-deletes-in-app
    effect: deny
    paths: ["/app/**"]
    methods: [DELETE]
  - id: drafts-not-readable
    effect: deny
    paths: ["/app/drafts/**"]
    methods: [GET]
  - id: docs-public
    effect: allow
    public: true
    paths: ["/docs/**"]
    methods: [GET, HEAD]
  - id: staff-app
    effect: allow
    paths: ["/app/**"]
    groups: [staff]
    upstreamJwt: true
  - id: admins-only
    effect: allow
    paths: ["/admin/**"]
    groups: [admins]
  - id: secrets-never
    effect: deny
    paths: ["/app/secrets/**"]
  - id: admin-host-admins-only
    effect: deny
    hosts: ["admin.e2e.test"]
    paths: ["/**"]
    notGroups: [admins]
  - id: partner-referrals
    effect: allow
    paths: ["/referrals/**"]
    idps: ["${PARTNER_ISSUER}"]
  - id: partners-never-admin
    effect: deny
    paths: ["/admin/**"]
    idps: ["${PARTNER_ISSUER}"]
`;
export const ADMIN_HOST = 'admin.e2e.test';
