import { readFileSync } from 'node:fs';

/** The raw environment: values are strings, never anything else (converted only by config loading). */
export type Env = Readonly<Record<string, string | undefined>>;

/** Thrown when configuration is invalid: one line per problem, each naming its variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Collects problems while reading variables, so that start-up reports all of them at once.
 * Every reader takes the variable name first and returns undefined after recording a problem.
 */
export class EnvReader {
  readonly problems: string[] = [];
  private readonly failed = new Set<string>();
  constructor(private readonly env: Env) {}

  /** A variable, or its `_FILE` twin (the file's content, one trailing newline trimmed). */
  raw(name: string, opts: { file?: boolean } = {}): string | undefined {
    const direct = this.env[name];
    const fileVar = `${name}_FILE`;
    const path = opts.file ? this.env[fileVar] : undefined;
    if (direct !== undefined && direct !== '' && path) {
      this.fail(name, `set either ${name} or ${fileVar}, not both`);
      return undefined;
    }
    if (path) {
      try {
        return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        this.failed.add(name);
        this.problems.push(`${fileVar}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
        return undefined;
      }
    }
    return direct === '' ? undefined : direct;
  }

  /** Whether the variable or its `_FILE` twin is given (non-empty), without reading it. */
  isSet(name: string): boolean {
    return (this.env[name] ?? '') !== '' || (this.env[`${name}_FILE`] ?? '') !== '';
  }

  string(name: string, opts: { default?: string; file?: boolean; required?: boolean } = {}): string | undefined {
    const value = this.raw(name, opts) ?? opts.default;
    if (value === undefined && opts.required && !this.failed.has(name)) {
      this.problems.push(`${name}: required${opts.file ? ` (or ${name}_FILE)` : ''}`);
    }
    return value;
  }

  required(name: string, opts: { file?: boolean } = {}): string {
    return this.string(name, { ...opts, required: true }) ?? '';
  }

  int(name: string, opts: { default: number; min?: number; max?: number }): number {
    const value = this.raw(name);
    if (value === undefined) return opts.default;
    const n = /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
    const min = opts.min ?? Number.MIN_SAFE_INTEGER;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      this.problems.push(`${name}: expected an integer between ${min} and ${max}, got ${JSON.stringify(value)}`);
      return opts.default;
    }
    return n;
  }

  port(name: string, fallback: number): number {
    return this.int(name, { default: fallback, min: 0, max: 65535 });
  }

  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!(choices as readonly string[]).includes(value)) {
      this.problems.push(`${name}: expected one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value as T;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (/^(true|1|yes)$/i.test(value)) return true;
    if (/^(false|0|no)$/i.test(value)) return false;
    this.problems.push(`${name}: expected true or false, got ${JSON.stringify(value)}`);
    return fallback;
  }

  /** A comma- or whitespace-separated list; empty entries dropped. */
  list(name: string, fallback: readonly string[] = []): string[] {
    const value = this.raw(name);
    if (value === undefined) return [...fallback];
    return value.split(/[\s,]+/).filter((s) => s.length > 0);
  }

  url(name: string, opts: { required?: boolean; protocols?: readonly string[]; file?: boolean } = {}): string | undefined {
    const value = this.string(name, opts);
    if (value === undefined) return undefined;
    const protocols = opts.protocols ?? ['http:', 'https:'];
    try {
      const parsed = new URL(value);
      if (!protocols.includes(parsed.protocol)) throw new Error('protocol');
      return value;
    } catch {
      this.problems.push(`${name}: expected a URL (${protocols.join(' or ')}), got an unusable value`);
      return undefined;
    }
  }

  /** Adds a problem found by a caller's own check. */
  fail(name: string, message: string): void {
    this.failed.add(name);
    this.problems.push(`${name}: ${message}`);
  }

  /** Throws one ConfigError with every problem recorded, if any. */
  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}
