/**
 * `npm start` then `npm run demo`, as the README says, and the URL the demo prints opened in headless
 * Chromium: the sign-in goes through the development IdP and lands on the application's page showing
 * who signed in. On free ports (SAML_AUTHZ_DEV_PORTS, SAML_AUTHZ_DEMO_PORT), so that it runs beside a
 * developer's own stack; both process groups are stopped in teardown, also on failure.
 */
import t from 'tap';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../e2e/nginx.js';
import { findChromium, launchChromium, NetworkLog } from './chromium.js';
import { STEP_MS } from './profile.js';

/** A command in its own process group, its output collected; SIGTERM to the group in teardown (SIGKILL after 20 s). */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string; printed(text: string, ms: number): Promise<string> } {
  const child = spawn(command, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  void exited.then(() => {
    for (const w of waiters) w();
  });
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const group = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        /* gone */
      }
    };
    group('SIGTERM');
    const timer = setTimeout(() => group('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  });
  /** Resolves with the output once it contains `text`; rejects when the process exits first or after `ms`. */
  const printed = (text: string, ms: number) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (out.includes(text)) done(() => resolve(out));
        else if (child.exitCode !== null || child.signalCode !== null) done(() => reject(new Error(`${command} ${args.join(' ')} exited before printing ${JSON.stringify(text)}:\n${out}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`${command} ${args.join(' ')} did not print ${JSON.stringify(text)} within ${ms / 1000} s:\n${out}`))), ms);
      const done = (f: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        f();
      };
      waiters.add(check);
      check();
    });
  return { child, output: () => out, printed };
}

const chromium = findChromium();
if ('missing' in chromium) t.fail(chromium.missing, { diagnostic: false });
else t.test('npm run demo: the URL it prints, opened in Chromium, signs in at the dev IdP and shows the signed-in page; its curl lines work as printed', { timeout: 300_000 }, async (t) => {

  const state = await mkdtemp(join(tmpdir(), 'saml-authz-demo-'));
  t.teardown(() => rm(state, { recursive: true, force: true }));
  const ports = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const demoPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SAML_AUTHZ_DEV_DIR: state,
    SAML_AUTHZ_DEV_PORTS: ports.join(','),
    SAML_AUTHZ_DEMO_PORT: String(demoPort),
    LOG_LEVEL: 'warn',
  };

  const started = Date.now();
  const stack = run('npm', ['start'], env);
  const banner = await stack.printed('Ctrl-C stops everything.', 240_000);
  t.comment(`npm start ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const dataDir = /data in (\S+)\)\./.exec(banner)?.[1];
  if (process.getuid?.() === 0 && dataDir?.startsWith('/var/lib/saml-authz/')) t.teardown(() => rm(dataDir, { recursive: true, force: true }));

  const demo = run('npm', ['run', 'demo'], env);
  const printed = await demo.printed('Ctrl-C stops NGINX', 60_000);
  const lines = printed.split('\n');
  const at = lines.findIndex((l) => l.startsWith('In a browser on this machine'));
  const url = lines[at + 1]?.trim() ?? '';
  t.equal(url, `http://127.0.0.1:${demoPort}/app/home`, 'the demo prints a URL to open in a browser');

  const browser = await launchChromium(t, chromium.path);
  const context = await browser.newContext();
  t.teardown(() => context.close());
  const net = new NetworkLog(context);
  t.teardown(async () => {
    if (!t.passing()) t.comment(`the browser's requests:\n${(await net.settled()).map((e) => `${e.method} ${e.url} → ${e.status ?? 'failed'}${e.location ? ` ${e.location}` : ''}`).join('\n')}\n--- npm start\n${stack.output().slice(-3000)}`);
  });
  const page = await context.newPage();
  await page.goto(url, { timeout: STEP_MS });
  t.equal(new URL(page.url()).origin, `http://127.0.0.1:${ports[0]}`, 'the browser is at the development IdP');
  const landed = page.waitForResponse((r) => r.url() === url && r.request().isNavigationRequest(), { timeout: STEP_MS });
  await page.getByRole('button', { name: 'Sign in' }).click();
  const res = await landed;
  t.equal(res.status(), 200, 'back at the printed URL: 200');
  const echoed = (await res.json()) as { reached: string; user?: string; groups?: string };
  t.equal(echoed.reached, 'upstream', 'the page is the demo application');
  t.equal(echoed.user, 'alice@example.com', 'which shows who signed in');
  t.equal(echoed.groups, 'employees,admins', 'and her groups');
  const acs = (await net.settled()).find((e) => e.url.endsWith('/saml/acs'));
  t.equal(acs?.status, 303, 'the IdP’s form post was redeemed (303 back)');
  t.comment(`demo signed in, in ${((Date.now() - started) / 1000).toFixed(1)} s from npm start`);

  // The curl lines it prints, run as printed: sign in, allow, deny, no token, revoke, refused.
  const from = lines.findIndex((l) => l.startsWith('Sign in at the development IdP'));
  const script = lines
    .slice(from, lines.findIndex((l) => l.startsWith('Ctrl-C stops NGINX')))
    .filter((l) => /^ {2}\S/.test(l) && /^(resp=|token=|curl )/.test(l.trim()) || /^ {4,}\| /.test(l))
    .join('\n');
  t.equal(script.split('\n').filter((l) => /^ {2}(resp|token)=|^ {2}curl /.test(l)).length, 7, 'seven commands');
  const shell = execFileSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 60_000 });
  // (the allow line's JSON ends without a newline: the next status line follows it directly)
  t.same([...shell.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])), [403, 302, 204, 302], 'deny 403, no token 302, logout 204, the revoked token 302');
  t.match(shell, /"user": "alice@example\.com"/, 'allow: the application sees alice@example.com');
});
