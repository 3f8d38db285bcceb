/**
 * The README's "Try it" commands are the ones `npm start` prints (which test/dev/start.test.ts runs as
 * printed), and its quick start names the two commands that CI runs. Needs nothing but the files.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { devPorts, tryCommands } from '../../services/dev/banner.js';

const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
const shBlocks = [...readme.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);

t.test("the README's try-it block is the banner's commands with the default ports, line for line", async (t) => {
  const expected = tryCommands('127.0.0.1', devPorts(undefined)).join('\n') + '\n';
  t.ok(shBlocks.includes(expected), 'one ```sh block equals the banner commands');
});

t.test('the quick start is npm ci && npm start, then npm test, and .ci/run runs exactly npm test', async (t) => {
  t.match(shBlocks[0], /^npm ci && npm start\b.*\nnpm test\b/);
  const ci = await readFile(new URL('../../.ci/run', import.meta.url), 'utf8');
  const commands = ci.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l && !/^(set|cd|export)\b/.test(l));
  t.same(commands.filter((c) => c.startsWith('npm ')), ['npm ci --no-audit --no-fund', 'npm test'], 'npm ci, then the README test command');
});

t.test("the README's Traefik, Envoy and ingress-nginx snippets reach the authz chart's Service as installed", async (t) => {
  const values = await readFile(new URL('../../charts/authz-service/values.yaml', import.meta.url), 'utf8');
  const servicePort = Number(/^service:\n(?:.*\n)*?\s+port: (\d+)/m.exec(values)![1]);
  // `helm install authz-service charts/authz-service -n saml-authz`: the Service is named after the release.
  const host = 'authz-service.saml-authz.svc.cluster.local';
  const urls = [...readme.matchAll(/(?:auth-url: "|address: )(http:\/\/[^"\s]+)/g)].map((m) => new URL(m[1]!));
  t.ok(urls.length >= 2, 'the ingress-nginx and Traefik snippets name the authz-service URL');
  for (const url of urls) {
    t.equal(url.hostname, host, `${url.href}: the Service's in-cluster name`);
    t.equal(Number(url.port || 80), servicePort, `${url.href}: the Service's port (${servicePort})`);
    t.equal(url.pathname, '/auth');
  }
  const envoy = /backendRefs: \[\{ name: authz-service, namespace: saml-authz, port: (\d+) \}\]/.exec(readme);
  t.ok(envoy, 'the Envoy snippet names the Service');
  t.equal(Number(envoy?.[1]), servicePort, "Envoy's backendRef port is the Service's");
});
