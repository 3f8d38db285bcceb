/**
 * The browser suite for one NGINX configuration: Debian's Chromium, headless, through a real NGINX
 * serving https://app.example.com:<port> (TLS, self-signed, trusted by the browser by public key), the
 * token-service and the authz-service on a real Postgres, and the development IdP at
 * http://idp.example.net:<port> — all on 127.0.0.1, the names mapped by the browser. Scenarios:
 * scenarios.ts. One stack per variant, started when its first scenario runs and stopped before the
 * next variant's starts (two cores); everything is stopped in teardown, also on failure.
 */
import t, { type Test } from 'tap';
import { generate } from 'selfsigned';
import { ALICE, startStack, type Stack } from '../e2e/fixture.js';
import { findModules, findNginx, nginxVersion, SET_MISC_MODULES, type ConfigName } from '../e2e/nginx.js';
import { findChromium, launchChromium, NetworkLog } from './chromium.js';
import { APP_HOST, ATTACKER_HOST, IDP_HOST, serveAttackerPage, type Profile, type ScenarioContext } from './profile.js';
import { SCENARIOS, VARIANTS, type BrowserScenario, type Variant, type VariantSettings } from './scenarios.js';
import { BOB, PARTNER_HOST } from './several-idps.js';

/** A certificate for app.example.com, as an operator's NGINX would have (the browser pins its key). */
async function appCertificate(): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: APP_HOST }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60_000),
    notAfterDate: new Date(Date.now() + 86_400_000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: APP_HOST }] }],
  });
  return { cert: pems.cert, key: pems.private };
}

/** The stack of the current variant; switching variants stops the previous stack first. */
class Stacks {
  private current: { variant: Variant; stack: Stack; stop: () => Promise<void> } | undefined;
  constructor(private readonly config: ConfigName, private readonly nginx: string, private readonly tls: { cert: string; key: string }) {}

  async get(variant: Variant, t: Test): Promise<Stack> {
    if (this.current?.variant === variant) return this.current.stack;
    await this.stop();
    const teardowns: (() => unknown)[] = [];
    const stop = async () => {
      for (const fn of teardowns.reverse()) await fn();
    };
    const started = Date.now();
    const v: VariantSettings = VARIANTS[variant];
    try {
      const stack = await startStack({ teardown: (fn) => teardowns.push(fn) }, this.config, this.nginx, {
        appHost: APP_HOST,
        tls: this.tls,
        devIdp: { host: IDP_HOST, user: ALICE, slo: v.slo === true, ...(v.partner === true ? { partner: { host: PARTNER_HOST, user: BOB } } : {}) },
        secondAuthz: v.secondAuthz === true,
        // The browser reaches NGINX from 127.0.0.1: that is the network allowed to redeem.
        tokenEnv: { ALLOWED_CIDRS: '127.0.0.1/32', ...v.tokenEnv },
      });
      this.current = { variant, stack, stop };
      t.comment(`${this.config} · ${VARIANTS[variant].title}: stack up in ${Date.now() - started} ms (NGINX on ${stack.base}, dev IdP on ${stack.idpUrl})`);
      return stack;
    } catch (err) {
      await stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    const c = this.current;
    this.current = undefined;
    await c?.stop();
  }
}

export function browserSuite(config: ConfigName): void {
  // Missing parts are one failing line, never a skip: npm test's preflight installs them.
  const chromiumBinary = findChromium();
  const nginx = findNginx();
  const missing =
    'missing' in chromiumBinary ? chromiumBinary.missing
    : nginx === null ? 'BROWSER SUITE NOT RUN: no `nginx` binary: apt-get install -y nginx'
    : config === 'ingress-nginx' && findModules(SET_MISC_MODULES) === null ? 'BROWSER SUITE NOT RUN: no set-misc module: apt-get install -y libnginx-mod-http-set-misc'
    : undefined;
  if (missing !== undefined) {
    t.fail(missing, { diagnostic: false });
    return;
  }
  const executable = (chromiumBinary as { path: string }).path;

  let stacks!: Stacks;
  let browser!: Awaited<ReturnType<typeof launchChromium>>;
  t.before(async () => {
    const tls = await appCertificate();
    stacks = new Stacks(config, nginx!, tls);
    t.teardown(() => stacks.stop());
    const started = Date.now();
    browser = await launchChromium(t, executable, { hosts: [APP_HOST, IDP_HOST, PARTNER_HOST, ATTACKER_HOST], trust: [tls.cert] });
    t.comment(`${config}: ${nginxVersion(nginx!)}, Chromium ${browser.version()} (${executable}) up in ${Date.now() - started} ms`);
  });

  // Grouped by variant so each stack starts once; todo rows (none today) last.
  const order = Object.keys(VARIANTS) as Variant[];
  const runnable = SCENARIOS.filter((s) => s.todo === undefined).sort((a, b) => order.indexOf(a.variant) - order.indexOf(b.variant));
  for (const scenario of runnable) t.test(`${config}: ${scenario.name}`, { timeout: 120_000 }, (tt) => runScenario(tt, config, scenario));
  // A failing assertion marked todo: `not ok … # TODO needs …` in the output and in npm test's summary.
  for (const scenario of SCENARIOS.filter((s) => s.todo !== undefined)) {
    t.fail(`${config}: ${scenario.name}`, { todo: scenario.todo! });
    t.comment(`  ↑ not written yet; it must show: ${scenario.shows ?? scenario.name}`);
  }

  async function runScenario(tt: Test, cfg: ConfigName, scenario: BrowserScenario): Promise<void> {
    const stack = await stacks.get(scenario.variant, tt);
    const started = Date.now();
    const s: ScenarioContext = {
      t: tt,
      config: cfg,
      stack,
      browser,
      profile: async (): Promise<Profile> => {
        const context = await browser.newContext();
        tt.teardown(() => context.close());
        const net = new NetworkLog(context);
        const page = await context.newPage();
        return { context, page, net };
      },
      attackerSite: (acsUrl, samlResponse, relayState) => serveAttackerPage(tt, acsUrl, samlResponse, relayState),
    };
    try {
      await scenario.run!(s);
    } finally {
      tt.comment(`${Date.now() - started} ms`);
      if (!tt.passing()) tt.comment(await stack.diagnostics());
    }
  }
}
