/** What `npm start` prints once everything is ready: where things are, and commands that work as printed. */
export interface Ports {
  idp: number;
  token: number;
  authz: number;
  tokenMetrics: number;
  authzMetrics: number;
}

/**
 * The stack's ports: 8079 (dev IdP), 8080 (token-service), 8081 (authz-service), 9464/9465 (metrics),
 * or SAML_AUTHZ_DEV_PORTS="idp,token,authz,token-metrics,authz-metrics" (tests run beside a running one).
 */
export function devPorts(value: string | undefined): Ports {
  if (!value) return { idp: 8079, token: 8080, authz: 8081, tokenMetrics: 9464, authzMetrics: 9465 };
  const p = value.split(',').map(Number);
  if (p.length !== 5 || p.some((n) => !Number.isInteger(n) || n < 1 || n > 65535)) throw new Error('SAML_AUTHZ_DEV_PORTS: expected five ports: idp,token,authz,token-metrics,authz-metrics');
  return { idp: p[0]!, token: p[1]!, authz: p[2]!, tokenMetrics: p[3]!, authzMetrics: p[4]! };
}

/** The demo's NGINX port (`npm run demo`): 8000, or SAML_AUTHZ_DEMO_PORT (a return URL allowed by npm start). */
export function demoPort(value: string | undefined): number {
  if (!value) return 8000;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error('SAML_AUTHZ_DEMO_PORT: expected a port');
  return n;
}

export interface BannerInput {
  host: string;
  ports: Ports;
  /** One line on the database in use. */
  database: string;
  /** The embedded database's URL, for the CLIs and psql (undefined when DATABASE_URL was given). */
  databaseUrl: string | undefined;
}

/**
 * The "Try it" commands, one per line, each runnable in a POSIX shell as printed (test/dev/start.test.ts
 * runs them). `--data-urlencode`: the SAMLResponse is base64, whose `+` and `/` a plain `-d` would send
 * raw, and the form decoding then turns every `+` into a space.
 */
export function tryCommands(host: string, p: Ports): string[] {
  const token = `http://${host}:${p.token}`;
  return [
    `resp=$(curl -s http://${host}:${p.idp}/idp-initiated | grep -o 'name="SAMLResponse" value="[^"]*"' | sed 's/.*value="//; s/"$//')`,
    `token=$(curl -s -H 'accept: application/json' --data-urlencode "SAMLResponse=$resp" ${token}/saml/acs | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
    `curl -i -H "authorization: Bearer $token" -H 'x-original-uri: /app/home' -H 'x-original-method: GET' -H 'host: app.example.com' http://${host}:${p.authz}/auth   # 200, X-Auth-Request-User: alice@example.com`,
    `curl -i -X POST -H "authorization: Bearer $token" ${token}/logout   # 204; the next /auth is 401`,
  ];
}

export function banner({ host, ports: p, database, databaseUrl }: BannerInput): string {
  const base = `http://${host}`;
  return `
saml-authz is running (development; ${database}).
  token-service   ${base}:${p.token}   (/saml/acs, /saml/login, /saml/metadata, /.well-known/jwks.json, /logout)
  authz-service   ${base}:${p.authz}   (/auth: point NGINX auth_request here; policy examples/policy.yaml)
  metrics         ${base}:${p.tokenMetrics}/metrics, ${base}:${p.authzMetrics}/metrics
  dev IdP         ${base}:${p.idp}/idp-initiated   (signs in alice@example.com like an Okta tile)
                  ${base}:${p.idp}/dev/logout-all?nameId=alice@example.com   (IdP-initiated Single Logout)
${databaseUrl ? `  DATABASE_URL    ${databaseUrl}   (npm run migrate / npm run revoke find it by themselves while this runs)\n` : ''}
Try it (in a shell; or open ${base}:${p.token}/saml/login in a browser):
${tryCommands(host, p).map((c) => `  ${c}`).join('\n')}

Ctrl-C stops everything.`;
}
