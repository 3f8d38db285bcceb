/**
 * `npm run policy -- lint FILE` and `npm run policy -- explain FILE --method GET --url https://host/p
 * [--groups a,b] [--subject s] [--idp entity-id] [--ip 1.2.3.4] [--anonymous]`.
 * Exit codes: lint 0 clean (warnings and notes allowed), 1 error findings; 2 invalid policy or usage.
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { HTTP_TOKEN } from '../../shared/http-token.js';
import { compilePolicy, explainDecision, lintPolicy, parsePolicy, ruleLabel } from '../policy/index.js';
import type { Decision, Identity, Policy } from '../policy/index.js';
import { splitAbsoluteUrl } from '../request/headers.js';
import { normalizePath } from '../request/path.js';

const USAGE = `usage:
  policy --help
  policy lint FILE
  policy explain FILE --method GET --url https://host/path [--groups a,b] [--subject s] [--idp entity-id] [--ip 1.2.3.4] [--anonymous]`;

type Write = (line: string) => void;

class UsageError extends Error {}

export async function runPolicyCli(args: readonly string[], write: Write): Promise<number> {
  try {
    if (args.includes('--help') || args.includes('-h') || args[0] === 'help') {
      write(USAGE);
      return 0;
    }
    const [command, file, ...rest] = args;
    if (command === 'lint' && file !== undefined && rest.length === 0) return await lint(file, write);
    if (command === 'explain' && file !== undefined) return await explain(file, rest, write);
    throw new UsageError(command === undefined ? 'no command' : `cannot run "${args.join(' ')}"`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    write(`${err.message}\n${USAGE}`);
    return 2;
  }
}

async function load(file: string, write: Write): Promise<Policy | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    write(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
  const result = parsePolicy(text);
  if (result.ok) return result.policy;
  write(`invalid policy ${file}:`);
  for (const p of result.problems) write(`  ${p}`);
  return null;
}

async function lint(file: string, write: Write): Promise<number> {
  const policy = await load(file, write);
  if (!policy) return 2;
  const findings = lintPolicy(policy);
  for (const f of findings) write(`${f.severity.padEnd(7)} ${f.code}: ${f.message}`);
  const count = (s: string) => findings.filter((f) => f.severity === s).length;
  const errors = count('error');
  write(`${file}: ${policy.rules.length} rules, ${errors} errors, ${count('warning')} warnings, ${count('info')} notes`);
  return errors > 0 ? 1 : 0;
}

async function explain(file: string, rest: string[], write: Write): Promise<number> {
  const opts = explainOptions(rest);
  const policy = await load(file, write);
  if (!policy) return 2;
  const url = splitAbsoluteUrl(opts.url);
  if (!url.ok) throw new UsageError(`--url: ${opts.url} is not an absolute http(s) URL with a valid host (${url.reason})`);
  write(`request   ${opts.method} ${url.host} ${url.rawPath}`);
  const path = normalizePath(url.rawPath);
  if (!path.ok) {
    write(`decision  refused before any rule: the path is ambiguous (${path.reason}) → HTTP 403`);
    return 0;
  }
  if (path.path !== url.rawPath) write(`path      normalised to ${path.path}`);
  const identity: Identity | null = opts.anonymous ? null : { subject: opts.subject ?? '', groups: opts.groups, idp: opts.idp ?? null };
  const idp = identity?.idp === null ? 'none (idps of allow rules do not hold, of deny rules do)' : JSON.stringify(identity?.idp);
  write(`identity  ${identity ? `subject ${JSON.stringify(identity.subject)}, groups [${identity.groups.join(', ')}], idp ${idp}` : 'anonymous (no token)'}`);
  write(`client    ${opts.ip ?? 'unknown: network conditions of allow rules do not hold, of deny rules do'}`);
  const request = { method: opts.method, host: url.host, path: path.path, clientIp: opts.ip ?? '' };
  const { decision, rules } = explainDecision(compilePolicy(policy), request, identity);
  write(`decision  ${describe(decision)}`);
  const by = decision.outcome === 'allow' && identity !== null && !decision.public && decision.ruleId !== undefined ? policy.rules.find((r) => r.id === decision.ruleId) : undefined;
  if (by?.upstreamJwt) write(`upstream  X-Auth-Request-Jwt, aud ${JSON.stringify(by.audience ?? url.host.replace(/:\d+$/, ''))}`);
  write(rules.length === 0 ? 'no rule matches this path' : 'rules whose path matches:');
  for (const r of rules) {
    const state = r.applies ? 'applies' : r.matched ? 'matches, does not apply' : 'does not match';
    write(`  ${ruleLabel(r)} ${r.effect}${r.public ? ' (public)' : ''}: ${state}`);
    for (const note of r.notes) write(`      ${note}`);
  }
  return 0;
}

function describe(d: Decision): string {
  const status = d.outcome === 'allow' ? 200 : d.outcome === 'deny' ? 403 : 401;
  return `${d.outcome} (${d.reason})${d.ruleId ? ` by rule "${d.ruleId}"` : ''} → HTTP ${status}`;
}

function explainOptions(rest: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        method: { type: 'string' },
        url: { type: 'string' },
        groups: { type: 'string' },
        subject: { type: 'string' },
        idp: { type: 'string' },
        ip: { type: 'string' },
        anonymous: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.method === undefined || values.url === undefined) throw new UsageError('explain needs --method and --url');
  if (!HTTP_TOKEN.test(values.method)) throw new UsageError(`--method: "${values.method}" is not a method`);
  if (values.anonymous && (values.subject !== undefined || values.groups !== undefined || values.idp !== undefined)) {
    throw new UsageError('--anonymous cannot be combined with --subject, --groups or --idp');
  }
  // A token never carries an empty idp (the verifier refuses it): leave --idp out for a token without one.
  if (values.idp !== undefined && values.idp.trim() === '') throw new UsageError('--idp: an entity id, not empty (leave --idp out for a token without idp)');
  const groups = (values.groups ?? '').split(',').map((g) => g.trim()).filter((g) => g !== '');
  return { method: values.method.toUpperCase(), url: values.url, groups, subject: values.subject, idp: values.idp, ip: values.ip, anonymous: values.anonymous ?? false };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `policy explain … | head`: a closed pipe ends the output, not with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  runPolicyCli(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`policy: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
