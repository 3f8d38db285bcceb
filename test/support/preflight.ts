import { spawnSync } from 'node:child_process';
import { findBinary } from '../helpers/binaries.js';
import { findModules, SET_MISC_MODULES } from '../e2e/nginx.js';

/**
 * What the suite needs from the system besides Node (Postgres is embedded): a real NGINX with the
 * set-misc module (as the ingress-nginx image has), Prometheus and promtool, PgBouncer, Chromium, curl
 * (the `npm start` banner's commands are run as printed) and pgrep. Debian package names.
 */
export interface Requirement {
  what: string;
  pkg: string;
  present(): boolean;
}

export const REQUIREMENTS: readonly Requirement[] = [
  { what: 'nginx', pkg: 'nginx', present: () => findBinary('nginx') !== undefined },
  { what: 'the NGINX set-misc module', pkg: 'libnginx-mod-http-set-misc', present: () => findModules(SET_MISC_MODULES) !== null },
  { what: 'prometheus', pkg: 'prometheus', present: () => findBinary('prometheus') !== undefined },
  { what: 'promtool', pkg: 'prometheus', present: () => findBinary('promtool') !== undefined },
  { what: 'pgbouncer', pkg: 'pgbouncer', present: () => findBinary('pgbouncer') !== undefined },
  { what: 'chromium', pkg: 'chromium', present: () => findBinary('chromium') !== undefined },
  { what: 'curl', pkg: 'curl', present: () => findBinary('curl') !== undefined },
  { what: 'pgrep', pkg: 'procps', present: () => findBinary('pgrep') !== undefined },
];

export type Preflight = { ok: true; installed: string[] } | { ok: false; line: string };

export interface PreflightDeps {
  requirements?: readonly Requirement[];
  isRoot?: boolean;
  hasAptGet?: boolean;
  /** Runs apt-get with these arguments (non-interactive), returns its exit code. */
  aptGet?: (args: string[]) => number;
  say?: (line: string) => void;
}

const missingPackages = (reqs: readonly Requirement[]) => [...new Set(reqs.filter((r) => !r.present()).map((r) => r.pkg))];

export function installCommand(pkgs: readonly string[], sudo: boolean): string {
  const s = sudo ? 'sudo ' : '';
  return `${s}apt-get update && ${s}apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

function runAptGet(args: string[]): number {
  // apt-get's own output goes to stderr so that stdout stays the test report. A fresh machine's daily
  // apt timers (or another npm test) may hold the dpkg lock for a while: wait for it rather than fail.
  return spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], { stdio: ['ignore', process.stderr, process.stderr], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status ?? 1;
}

/**
 * Installs what is missing when it can (root and apt-get: `apt-get update` once, then one
 * `apt-get install`); otherwise returns the one line that names the exact command to run.
 */
export function preflight(deps: PreflightDeps = {}): Preflight {
  const reqs = deps.requirements ?? REQUIREMENTS;
  const say = deps.say ?? ((l: string) => process.stdout.write(`${l}\n`));
  const missing = missingPackages(reqs);
  if (missing.length === 0) return { ok: true, installed: [] };
  const isRoot = deps.isRoot ?? process.getuid?.() === 0;
  const hasAptGet = deps.hasAptGet ?? findBinary('apt-get') !== undefined;
  const needs = `npm test needs ${reqs.filter((r) => !r.present()).map((r) => r.what).join(', ')}`;
  if (!hasAptGet) return { ok: false, line: `${needs}: install the packages ${missing.join(' ')} (Debian/Ubuntu names) with your package manager, then run npm test again` };
  if (!isRoot) return { ok: false, line: `${needs}: run \`${installCommand(missing, true)}\`, then npm test again` };
  say(`# installing ${missing.join(' ')} (apt-get, as root)`);
  const apt = deps.aptGet ?? runAptGet;
  const code = apt(['update', '-q']) || apt(['install', '-y', '-q', '--no-install-recommends', ...missing]);
  const still = missingPackages(reqs);
  if (code !== 0 || still.length > 0) {
    return { ok: false, line: `${needs}: apt-get failed (${code !== 0 ? `exit ${code}` : `still missing ${still.join(' ')}`}); run \`${installCommand(missing, false)}\` and read its errors` };
  }
  return { ok: true, installed: missing };
}
