/**
 * The local demo: a real NGINX on http://127.0.0.1:8000 in front of a small echo application, using
 * the plain `auth_request` configuration the end-to-end suite runs (examples/nginx/
 * auth-request.conf.template), with the services of an already running `npm start` (token-service
 * :8080, authz-service :8081, dev IdP :8079). Prints the URLs and curl lines for allow, deny and revoke.
 * Ctrl-C stops NGINX and the echo application. Development tooling only.
 *
 *   npm start                                  # first, in another terminal
 *   node --import tsx examples/demo/run.ts
 */
import { readFile } from 'node:fs/promises';
import { startEchoUpstream } from '../../test/e2e/echo-upstream.js';
import { CONFIGS, findNginx, nginxVersion, render, startNginx } from '../../test/e2e/nginx.js';
import { demoPort, devPorts } from '../../services/dev/banner.js';

const HOST = '127.0.0.1';
// npm start's ports (SAML_AUTHZ_DEV_PORTS when it was started with other ones); NGINX on 8000
// (SAML_AUTHZ_DEMO_PORT: give npm start the same, it allows the demo's return URLs).
const PORTS = { nginx: demoPort(process.env.SAML_AUTHZ_DEMO_PORT), ...devPorts(process.env.SAML_AUTHZ_DEV_PORTS) };
const say = (line = '') => process.stdout.write(`${line}\n`);

async function ready(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).status === 200;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const binary = findNginx();
  if (binary === null) {
    say('The demo needs NGINX: no `nginx` binary on PATH or in /usr/sbin (Debian/Ubuntu: apt-get install nginx).');
    process.exit(1);
  }
  for (const [name, port] of [['token-service', PORTS.token], ['authz-service', PORTS.authz]] as const) {
    if (!(await ready(`http://${HOST}:${port}/readyz`))) {
      say(`The ${name} is not answering on ${HOST}:${port}: run \`npm start\` in another terminal first.`);
      process.exit(1);
    }
  }

  const echo = await startEchoUpstream(HOST);
  const site = render(await readFile(CONFIGS['auth-request'], 'utf8'), {
    LISTEN: `${HOST}:${PORTS.nginx}`,
    TOKEN_SERVICE: `${HOST}:${PORTS.token}`,
    AUTHZ_SERVICE: `${HOST}:${PORTS.authz}`,
    APP: `${HOST}:${echo.port}`,
  });
  const nginx = await startNginx({ binary, site, listen: [{ host: HOST, port: PORTS.nginx }] });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await nginx.stop();
    await echo.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  nginx.child.once('exit', () => {
    if (!stopping) {
      say('NGINX exited; stopping.');
      void stop();
    }
  });

  const app = `http://${HOST}:${PORTS.nginx}`;
  const host = "-H 'host: app.example.com'"; // examples/policy.yaml grants by host name
  say(`
NGINX (${nginxVersion(binary)}) is running on ${app} with examples/nginx/auth-request.conf.template:
  ${app}/saml/…, ${app}/logout   → token-service ${HOST}:${PORTS.token}
  everything else                   → auth_request to authz-service ${HOST}:${PORTS.authz}, then the echo app (${HOST}:${echo.port}),
                                      which answers with the request it received, identity headers included.

In a browser on this machine (test/browser/demo.test.ts opens it in Chromium):
  ${app}/app/home
  → sign-in at the development IdP (${HOST}:${PORTS.idp}) → back to the page, which shows alice@example.com
  (examples/policy.yaml grants the application as app.example.com, 127.0.0.1 and localhost).

Sign in at the development IdP and redeem the response through NGINX:
  resp=$(curl -s ${HOST}:${PORTS.idp}/idp-initiated | grep -o 'name="SAMLResponse" value="[^"]*"' | sed 's/.*value="//; s/"$//')
  token=$(curl -s -H 'accept: application/json' --data-urlencode "SAMLResponse=$resp" ${app}/saml/acs \\
          | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')

Allow (200; the echo shows "user": "alice@example.com" and her groups):
  curl -s ${host} -H "authorization: Bearer $token" ${app}/app/home
Deny (403, rule reports-from-the-office-only: this is not the office network; the echo never sees it):
  curl -i ${host} -H "authorization: Bearer $token" ${app}/reports/q3
No token (302 to /saml/login?rd=…):
  curl -i ${host} ${app}/app/home
Revoke (204), then the same token is refused (302 to sign in) within a second:
  curl -i -X POST -H "authorization: Bearer $token" ${app}/logout
  curl -i ${host} -H "authorization: Bearer $token" ${app}/app/home

Ctrl-C stops NGINX and the echo app (npm start keeps running).`);
}

main().catch((err: unknown) => {
  say(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
