import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { PolicyError, readPolicyFile } from './load.js';
import { compilePolicy, type CompiledPolicy } from './compile.js';

export interface LoadedPolicy {
  compiled: CompiledPolicy;
  hash: string;
  ruleCount: number;
}

/** Reads, validates and compiles a policy file; throws PolicyError naming each bad rule. */
export async function compilePolicyFile(file: string): Promise<LoadedPolicy> {
  const { policy, text } = await readPolicyFile(file);
  return {
    compiled: compilePolicy(policy),
    hash: createHash('sha256').update(text).digest('hex').slice(0, 16),
    ruleCount: policy.rules.length,
  };
}

interface Log {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/**
 * The live policy. The file is polled (a Kubernetes ConfigMap update swaps a symlink, which file
 * watchers miss); a changed file that validates replaces the policy atomically, one that does not
 * is refused and the last good policy stays (logged, counted).
 */
export class PolicyStore {
  private timer: NodeJS.Timeout | undefined;
  private lastStat = '';

  constructor(
    private readonly file: string,
    public current: LoadedPolicy,
    private readonly log: Log,
    private readonly onReload: (result: 'ok' | 'failed', loaded: LoadedPolicy) => void,
  ) {}

  static async open(file: string, log: Log, onReload: PolicyStore['onReload']): Promise<PolicyStore> {
    const store = new PolicyStore(file, await compilePolicyFile(file), log, onReload);
    store.lastStat = await store.statKey();
    onReload('ok', store.current);
    return store;
  }

  watch(intervalSeconds: number): void {
    if (intervalSeconds === 0) return;
    this.timer = setInterval(() => void this.reloadIfChanged(), intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async statKey(): Promise<string> {
    try {
      const s = await stat(this.file);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }

  /** Reloads when the file changed; returns whether a new policy is in force. */
  async reloadIfChanged(): Promise<boolean> {
    const key = await this.statKey();
    if (key === this.lastStat) return false;
    this.lastStat = key;
    try {
      const next = await compilePolicyFile(this.file);
      if (next.hash === this.current.hash) return false;
      this.current = next;
      this.onReload('ok', next);
      this.log.info({ hash: next.hash, rules: next.ruleCount }, 'policy reloaded');
      return true;
    } catch (err) {
      const problems = err instanceof PolicyError ? err.problems : [(err as Error).message];
      this.onReload('failed', this.current);
      this.log.warn({ problems, kept_hash: this.current.hash }, 'policy reload refused; keeping the last good policy');
      return false;
    }
  }
}
