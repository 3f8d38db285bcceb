/**
 * One end-to-end stack per NGINX configuration: a migrated Postgres database, the token-service and
 * the authz-service started as operators start them (entry point + environment), the echo upstream,
 * and a real NGINX rendered from examples/nginx/<config>.conf.template — all on loopback, all stopped
 * (children killed and awaited) in teardown.
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { buildDevIdp } from '../../services/dev-idp/app.js';
import { generateIdpKeys, generateSpEncryptionKeys, type KeyPair } from '../../services/dev-idp/keys.js';
import { signSamlResponse, type SignSamlResponseOptions } from '../../services/dev-idp/sign.js';
import { createTestDatabase } from '../helpers/db.js';
import { writePolicy } from '../helpers/authz.js';
import { startServiceProcess, type ServiceProcess } from '../helpers/process.js';
import { AUDIENCE, ISSUER, newSigningKey } from '../helpers/tokens.js';
import { startEchoUpstream, type EchoUpstream } from './echo-upstream.js';
import { PARTNER_ISSUER, startPartnerIdp, writeIdpsFile, type PartnerIdp } from './several-idps.js';
import {
  CONFIGS,
  findModules,
  freePort,
  ingressSigninLocation,
  render,
  SET_MISC_MODULES,
  startNginx,
  type ConfigName,
  type NginxProcess,
} from './nginx.js';
import { rawRequest, type RawRequest, type RawResponse } from './raw-http.js';

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

/**
 * How a stack differs from the default one (everything on http://127.0.0.1, no IdP server): what the
 * browser suite (test/browser) needs. Environment overrides have the last word.
 */
export interface StackOptions {
  /** the host name clients use for NGINX (a browser maps it to 127.0.0.1); default 127.0.0.1 */
  appHost?: string;
  /** NGINX serves TLS with this certificate (PEM): the base URL is https:// */
  tls?: { cert: string; key: string };
  /** also run the development IdP (services/dev-idp) at http://<host>:<port>; SAML_IDP_SSO_URL points at it */
  devIdp?: {
    host: string;
    user?: { nameId: string; email: string; groups: readonly string[] };
    /**
     * SAML Single Logout both ways, wired as `npm start` wires it: an SP signing key pair for the
     * token-service (SAML_SP_SIGNING_KEY/CERT), SAML_IDP_SLO_URL = the dev IdP's /slo, and the dev IdP
     * verifying with the SP certificate and answering to <base>/saml/slo (its sign-in sessions on).
     */
    slo?: boolean;
    /**
     * Several IdPs: a second development IdP (a partner clinic's, its own key and entity id) on this
     * host, and the token-service configured with SAML_IDPS_FILE listing both (several-idps.ts).
     */
    partner?: { host: string; user?: { nameId: string; email: string; groups: readonly string[] } };
  };
  /** a second authz-service process on the same database, not behind NGINX (asked directly: Stack.authzReplicas) */
  secondAuthz?: boolean;
  tokenEnv?: Readonly<Record<string, string>>;
  authzEnv?: Readonly<Record<string, string>>;
}

export interface Stack {
  config: ConfigName;
  port: number;
  /** http://127.0.0.1:<nginx port> (https://<appHost>:<port> with StackOptions) */
  base: string;
  /** the development IdP's origin (with StackOptions.devIdp) */
  idpUrl: string | undefined;
  /** the partner's development IdP's origin (with StackOptions.devIdp.partner) */
  partnerIdpUrl: string | undefined;
  /** where a 401 sends the browser (the token-service's /saml/login through NGINX) */
  signinUrl: string;
  site: string;
  echo: EchoUpstream;
  nginx: NginxProcess;
  token: ServiceProcess;
  authz: ServiceProcess;
  /** every authz-service process: [authz] or, with StackOptions.secondAuthz, [authz, second] (ask each with authUrl) */
  authzReplicas: ServiceProcess[];
  idp: KeyPair;
  /** what reached the development IdP (with StackOptions.devIdp), in order */
  idpRequests: { method: string; url: string }[];
  /** the stack's database (for scenarios that age rows, as time would) */
  databaseUrl: string;
  /** a request to NGINX (raw request-target, Host = 127.0.0.1:<port> unless given) */
  request(r: RawRequest): Promise<RawResponse>;
  /** a SAML Response for this stack, signed by the test IdP */
  sign(over?: Partial<SignSamlResponseOptions>): Promise<string>;
  /** redeems a fresh SAML response through NGINX from the allowed network: the access token */
  signIn(over?: Partial<SignSamlResponseOptions>): Promise<string>;
  /** the last lines the services and NGINX logged (for failure messages) */
  diagnostics(): Promise<string>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Starts the stack; retries with new ports when NGINX loses its port to a race. */
export async function startStack(t: Teardown, config: ConfigName, nginxBinary: string, options: StackOptions = {}): Promise<Stack> {
  const { url: databaseUrl } = await createTestDatabase(t);
  const idp = await generateIdpKeys();
  const jwtKey = newSigningKey('ES256');
  const upstreamKey = newSigningKey('ES256');
  const policyFile = await writePolicy(E2E_POLICY);
  const echo = await startEchoUpstream(HOST);
  t.teardown(() => echo.close());
  const modules = config === 'ingress-nginx' ? findModules(SET_MISC_MODULES) : [];
  if (modules === null) throw new Error('the ingress-nginx configuration needs set-misc (Debian: libnginx-mod-http-set-misc)');
  const template = await readFile(CONFIGS[config], 'utf8');

  for (let attempt = 1; ; attempt++) {
    const port = await freePort(HOST);
    const base = `${options.tls ? 'https' : 'http'}://${options.appHost ?? HOST}:${port}`;
    const common = { DATABASE_URL: databaseUrl, HOST, PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info', SHUTDOWN_DELAY_SECONDS: '0', TRUSTED_PROXIES: `${HOST}/32` };
    const started: ServiceProcess[] = [];
    let devIdp: Awaited<ReturnType<typeof buildDevIdp>> | undefined;
    const idpRequests: { method: string; url: string }[] = [];
    const spSigning = options.devIdp?.slo ? await generateSpEncryptionKeys('e2e SP signing') : undefined;
    let partner: PartnerIdp | undefined;
    const stopAll = () => Promise.all([...started.map(stopService), devIdp?.close(), partner?.close()]);
    try {
      let idpUrl: string | undefined;
      if (options.devIdp) {
        const app = await buildDevIdp({
          idp,
          issuer: IDP_ISSUER,
          acsUrl: `${base}/saml/acs`,
          spEntityId: `${base}/saml/metadata`,
          ...(options.devIdp.user ? { defaultUser: options.devIdp.user } : {}),
          ...(spSigning ? { slo: { spCert: spSigning.cert, spSloUrl: `${base}/saml/slo` } } : {}),
        });
        app.addHook('onRequest', async (req) => {
          idpRequests.push({ method: req.method, url: req.url });
        });
        devIdp = app;
        await app.listen({ host: HOST, port: 0 });
        idpUrl = `http://${options.devIdp.host}:${(app.server.address() as AddressInfo).port}`;
      }
      const several = options.devIdp?.partner && idpUrl
        ? { SAML_IDPS_FILE: await writeIdpsFile({ issuer: IDP_ISSUER, cert: idp.cert, url: idpUrl, slo: spSigning !== undefined }, (partner = await startPartnerIdp({ ...options.devIdp.partner, listenHost: HOST, base }))) }
        : undefined;
      const authzEnv = {
        ...common,
        FRONT_END: config === 'ingress-nginx' ? 'ingress-nginx' : 'nginx',
        POLICY_FILE: policyFile,
        POLICY_RELOAD_SECONDS: '0',
        JWT_PUBLIC_KEYS: jwtKey.publicPem,
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
        UPSTREAM_JWT_PRIVATE_KEY: upstreamKey.privatePem,
        UPSTREAM_JWT_ISSUER: UPSTREAM_ISSUER,
        ...options.authzEnv,
      };
      const startAuthz = () => startServiceProcess('services/authz-service/main.ts', authzEnv).then((p) => (started.push(p), p));
      const [token, authz, second] = await Promise.all([
        startServiceProcess('services/token-service/main.ts', {
          ...common,
          ...(several ?? { SAML_IDP_CERT: idp.cert, SAML_IDP_ISSUER: IDP_ISSUER, SAML_IDP_SSO_URL: idpUrl ? `${idpUrl}/sso` : IDP_SSO_URL }),
          SAML_SP_ENTITY_ID: `${base}/saml/metadata`,
          SAML_ACS_URL: `${base}/saml/acs`, // the URL as the IdP posts to it: through NGINX
          JWT_PRIVATE_KEY: jwtKey.privatePem,
          JWT_ISSUER: ISSUER,
          JWT_AUDIENCE: AUDIENCE,
          ALLOWED_CIDRS: `${REDEEM_NETWORK}/32`,
          ALLOWED_RETURN_URLS: `${base}/`,
          RATE_LIMIT_MAX: '10000',
          SWEEP_INTERVAL_SECONDS: '0',
          SAML_ALLOW_IDP_INITIATED: 'true', // signIn() redeems unsolicited responses
          ...(spSigning && idpUrl ? { SAML_SP_SIGNING_KEY: spSigning.key, SAML_SP_SIGNING_CERT: spSigning.cert, ...(several ? {} : { SAML_IDP_SLO_URL: `${idpUrl}/slo` }) } : {}),
          ...options.tokenEnv,
        }).then((p) => (started.push(p), p)),
        startAuthz(),
        options.secondAuthz ? startAuthz() : undefined,
      ]);
      const signinUrl = `${base}/saml/login`;
      const authUrl = `http://${HOST}:${authz.port}/auth`;
      const site = render(template, {
        LISTEN: `${HOST}:${port}${options.tls ? ' ssl' : ''}`,
        TOKEN_SERVICE: `${HOST}:${token.port}`,
        AUTHZ_SERVICE: `${HOST}:${authz.port}`,
        APP: `${HOST}:${echo.port}`,
        AUTH_URL: authUrl,
        AUTH_HOST: new URL(authUrl).hostname,
        SIGNIN_URL: signinUrl,
        SIGNIN_LOCATION: ingressSigninLocation('/', signinUrl),
      });
      const nginx = await startNginx({ binary: nginxBinary, site, listen: [{ host: HOST, port }], modules, ...(options.tls ? { tls: options.tls } : {}) });
      t.teardown(async () => {
        await nginx.stop();
        await stopAll();
      });
      const authzReplicas = second ? [authz, second] : [authz];
      return makeStack({ config, port, base, idpUrl, partnerIdpUrl: partner?.url, signinUrl, site, echo, nginx, token, authz, authzReplicas, idp, idpRequests, databaseUrl });
    } catch (err) {
      await stopAll();
      if (attempt < 3 && /Address already in use/.test(String(err))) continue;
      throw err;
    }
  }
}

async function stopService(p: ServiceProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await p.exited;
  clearTimeout(timer);
}

type Parts = Pick<Stack, 'config' | 'port' | 'base' | 'idpUrl' | 'partnerIdpUrl' | 'signinUrl' | 'site' | 'echo' | 'nginx' | 'token' | 'authz' | 'authzReplicas' | 'idp' | 'idpRequests' | 'databaseUrl'>;

function makeStack(s: Parts): Stack {
  const request = (r: RawRequest) => {
    if (s.base.startsWith('https:')) throw new Error('stack.request() speaks plain HTTP; this stack serves TLS (drive it with a browser)');
    return rawRequest(HOST, s.port, r);
  };
  const sign = async (over: Partial<SignSamlResponseOptions> = {}) =>
    (
      await signSamlResponse({
        idp: s.idp,
        issuer: IDP_ISSUER,
        acsUrl: `${s.base}/saml/acs`,
        audience: `${s.base}/saml/metadata`,
        nameId: ALICE.nameId,
        email: ALICE.email,
        groups: ALICE.groups,
        ...over,
      })
    ).samlResponse;
  const signIn = async (over: Partial<SignSamlResponseOptions> = {}) => {
    const res = await postAcs(request, await sign(over), { localAddress: REDEEM_NETWORK });
    if (res.status !== 200) throw new Error(`redemption through NGINX: ${res.status} ${res.body}`);
    return res.json<{ access_token: string }>().access_token;
  };
  const diagnostics = async () =>
    [
      `--- token-service\n${[...s.token.logs, ...s.token.stderr].slice(-15).join('\n')}`,
      ...s.authzReplicas.map((a, i) => `--- authz-service${s.authzReplicas.length > 1 ? ` #${i + 1}` : ''}\n${[...a.logs, ...a.stderr].slice(-15).join('\n')}`),
      `--- nginx error.log\n${(await s.nginx.errorLog()).split('\n').slice(-15).join('\n')}`,
    ].join('\n');
  return { ...s, request, sign, signIn, diagnostics };
}

/** POST /saml/acs as a form through NGINX. */
export function postAcs(
  request: (r: RawRequest) => Promise<RawResponse>,
  samlResponse: string,
  o: { relayState?: string; accept?: string; localAddress?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const form = new URLSearchParams({ SAMLResponse: samlResponse, ...(o.relayState !== undefined ? { RelayState: o.relayState } : {}) });
  return request({
    method: 'POST',
    target: '/saml/acs',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: o.accept ?? 'application/json', ...o.headers },
    body: form.toString(),
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
  });
}
