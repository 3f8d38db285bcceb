/**
 * One end-to-end stack per NGINX configuration: a migrated Postgres database, the token-service and
 * the authz-service started as operators start them (entry point + environment), the echo upstream,
 * and a real NGINX rendered from examples/nginx/<config>.conf.template — all on loopback, all stopped
 * (children killed and awaited) in teardown.
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { buildDevIdp } from '../../services/dev-idp/app.js';
import { generateIdpKeys, generateSpEncryptionKeys } from '../../services/dev-idp/keys.js';
import { createTestDatabase } from '../helpers/db.js';
import { writePolicy } from '../helpers/authz.js';
import { startServiceProcess, type ServiceProcess } from '../helpers/process.js';
import { AUDIENCE, ISSUER, newSigningKey } from '../helpers/tokens.js';
import { startEchoUpstream } from './echo-upstream.js';
import { startPartnerIdp, writeIdpsFile, type PartnerIdp } from './several-idps.js';
import { CONFIGS, findModules, freePort, ingressSigninLocation, render, SET_MISC_MODULES, startNginx, type ConfigName } from './nginx.js';
import { E2E_POLICY, HOST, IDP_ISSUER, IDP_SSO_URL, REDEEM_NETWORK, UPSTREAM_ISSUER } from './policy.js';
import { makeStack, type Stack, type StackOptions } from './stack.js';

// The names, the policy and the stack's shape live beside this file; scenarios import them from here.
export * from './policy.js';
export { postAcs, type Stack, type StackOptions } from './stack.js';

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
