import { createHash } from 'node:crypto';
import { fileVersion } from '../../shared/file-version.js';
import { PolicyError, readPolicyFile } from './load.js';
import { compilePolicy, type CompiledPolicy } from '../policy/compile.js';
import { lintPolicy } from '../policy/lint.js';
import { ruleLabel, type LintFinding } from '../policy/types.js';
import type { Log } from '../../shared/log.js';

export interface LoadedPolicy {
  compiled: CompiledPolicy;
  hash: string;
  ruleCount: number;
  /** what `policy lint` says about it */
  findings: readonly LintFinding[];
}

export interface PolicyLoadOptions {
  /** POLICY_ALLOW_LINT_ERRORS: use a policy that lint rates an error (logged as an error each time) */
  allowLintErrors?: boolean;
  /** UPSTREAM_JWT_PRIVATE_KEY and _ISSUER are set: rules may ask for `upstreamJwt` */
  upstreamJwt?: boolean;
}

/**
 * Reads, validates, lints and compiles a policy file; throws PolicyError naming each bad rule, and
 * each lint error unless `allowLintErrors` (then they stay in `findings`).
 */
export async function compilePolicyFile(file: string, opts: PolicyLoadOptions = {}): Promise<LoadedPolicy> {
  const { policy, text } = await readPolicyFile(file);
  const wantsJwt = policy.rules.filter((r) => r.upstreamJwt);
  if (wantsJwt.length > 0 && !opts.upstreamJwt) {
    // Fail closed: an upstream that expects the assertion must not get an allow without one.
    throw new PolicyError(file, wantsJwt.map((r) => `${ruleLabel(r)}: upstreamJwt: true, but the service has no UPSTREAM_JWT_PRIVATE_KEY and UPSTREAM_JWT_ISSUER`));
  }
  const findings = lintPolicy(policy);
  const errors = findings.filter((f) => f.severity === 'error');
  if (errors.length > 0 && !opts.allowLintErrors) {
    throw new PolicyError(file, [
      ...errors.map((f) => `${f.code}: ${f.message}`),
      'policy lint rates these errors; fix them (or set POLICY_ALLOW_LINT_ERRORS=true to run this policy anyway)',
    ]);
  }
  return {
    compiled: compilePolicy(policy),
    hash: createHash('sha256').update(text).digest('hex').slice(0, 16),
    ruleCount: policy.rules.length,
    findings,
  };
}

/** Lint errors (when allowed) and warnings, logged whenever a policy comes into force. */
function logFindings(log: Log, loaded: LoadedPolicy): void {
  for (const f of loaded.findings) {
    if (f.severity === 'error') log.error({ code: f.code, rule: f.ruleId, hash: loaded.hash }, `policy in force despite a lint error (POLICY_ALLOW_LINT_ERRORS=true): ${f.message}`);
    else if (f.severity === 'warning') log.warn({ code: f.code, rule: f.ruleId, hash: loaded.hash }, `policy lint warning: ${f.message}`);
  }
}

/**
 * The live policy. The file is polled (a Kubernetes ConfigMap update swaps a symlink, which file
 * watchers miss); a changed file that validates (and has no lint error) replaces the policy
 * atomically, one that does not is refused and the last good policy stays (logged, counted).
 */
export class LivePolicy {
  private timer: NodeJS.Timeout | undefined;
  private lastStat = '';

  constructor(
    private readonly file: string,
    public current: LoadedPolicy,
    private readonly log: Log,
    private readonly onReload: (result: 'ok' | 'failed', loaded: LoadedPolicy) => void,
    private readonly opts: PolicyLoadOptions = {},
  ) {}

  /** The policy at start: throws PolicyError (the service refuses to start) on an invalid policy or a lint error. */
  static async open(file: string, log: Log, onReload: LivePolicy['onReload'], opts: PolicyLoadOptions = {}): Promise<LivePolicy> {
    const live = new LivePolicy(file, await compilePolicyFile(file, opts), log, onReload, opts);
    live.lastStat = await fileVersion(live.file);
    logFindings(log, live.current);
    onReload('ok', live.current);
    return live;
  }

  watch(intervalSeconds: number): void {
    if (intervalSeconds === 0) return;
    this.timer = setInterval(() => void this.reloadIfChanged(), intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Reloads when the file changed; returns whether a new policy is in force. */
  async reloadIfChanged(): Promise<boolean> {
    const key = await fileVersion(this.file);
    if (key === this.lastStat) return false;
    this.lastStat = key;
    try {
      const next = await compilePolicyFile(this.file, this.opts);
      if (next.hash === this.current.hash) return false;
      this.current = next;
      this.onReload('ok', next);
      this.log.info({ hash: next.hash, rules: next.ruleCount }, 'policy reloaded');
      logFindings(this.log, next);
      return true;
    } catch (err) {
      const problems = err instanceof PolicyError ? err.problems : [(err as Error).message];
      this.onReload('failed', this.current);
      this.log.warn({ problems, kept_hash: this.current.hash }, 'policy reload refused; keeping the last good policy');
      return false;
    }
  }
}
