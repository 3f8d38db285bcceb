/**
 * The end-to-end scenarios, run once per shipped NGINX configuration (auth-request.test.ts,
 * ingress-nginx.test.ts): one stack per file, started in t.before, stopped in teardown. Every
 * "never reaches the application" claim is checked on the echo upstream's record.
 * The scenarios, by theme: scenarios-config.ts, scenarios-access.ts, scenarios-tricks.ts,
 * scenarios-session.ts, scenarios-network.ts; what they work with: scenario-kit.ts.
 */
import t from 'tap';
import { startStack, type Stack } from './fixture.js';
import { findModules, findNginx, nginxVersion, SET_MISC_MODULES, type ConfigName } from './nginx.js';
import { scenarioKit } from './scenario-kit.js';
import { accessScenarios } from './scenarios-access.js';
import { configScenarios } from './scenarios-config.js';
import { networkScenarios } from './scenarios-network.js';
import { sessionScenarios } from './scenarios-session.js';
import { trickScenarios } from './scenarios-tricks.js';

export function e2eSuite(config: ConfigName): void {
  const binary = findNginx();
  const missing = binary === null ? 'no `nginx` binary on PATH or in /usr/sbin' : config === 'ingress-nginx' && findModules(SET_MISC_MODULES) === null ? 'the set-misc module (Debian: libnginx-mod-http-set-misc) is not installed' : null;
  if (missing !== null) {
    const message = `END-TO-END SUITE NOT RUN for ${config}: ${missing}. Install it (apt-get install nginx libnginx-mod-http-set-misc) — npm test installs it when run as root.`;
    if (process.env.CI && process.env.CI !== 'false') {
      t.fail(`${message} CI must run it.`);
    } else {
      process.stderr.write(`\n${'!'.repeat(100)}\n${message}\n${'!'.repeat(100)}\n\n`);
      t.test(`${config} through a real NGINX`, { skip: message }, () => {});
    }
    return;
  }
  const version = nginxVersion(binary!);
  t.comment(`${config}: ${version} (${binary})`);

  let stack!: Stack;
  t.before(async () => {
    const started = Date.now();
    stack = await startStack(t, config, binary!);
    // registered after the stack's own teardown, so it runs first, while the logs are still there
    t.teardown(async () => {
      if (t.counts.fail > 0) t.comment(await stack.diagnostics());
    });
    t.comment(`${config}: stack up in ${Date.now() - started} ms (NGINX on ${stack.base})`);
  });

  // Registered in this order, and run in it.
  const kit = scenarioKit(config, () => stack);
  configScenarios(kit, version);
  accessScenarios(kit);
  trickScenarios(kit);
  sessionScenarios(kit);
  networkScenarios(kit);
}
