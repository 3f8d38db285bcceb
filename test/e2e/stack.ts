/** A started end-to-end stack as scenarios use it: how it may differ (StackOptions), what it holds, requests, signed responses, sign-in, diagnostics. */
import type { KeyPair } from '../../services/dev-idp/keys.js';
import { signSamlResponse, type SignSamlResponseOptions } from '../../services/dev-idp/sign.js';
import type { ServiceProcess } from '../helpers/process.js';
import type { EchoUpstream } from './echo-upstream.js';
import type { ConfigName, NginxProcess } from './nginx.js';
import { ALICE, HOST, IDP_ISSUER, REDEEM_NETWORK } from './policy.js';
import { rawRequest, type RawRequest, type RawResponse } from './raw-http.js';

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

type Parts = Pick<Stack, 'config' | 'port' | 'base' | 'idpUrl' | 'partnerIdpUrl' | 'signinUrl' | 'site' | 'echo' | 'nginx' | 'token' | 'authz' | 'authzReplicas' | 'idp' | 'idpRequests' | 'databaseUrl'>;

export function makeStack(s: Parts): Stack {
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
