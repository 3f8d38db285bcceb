// What the A/B probes share: a bench context, one live token, and two authz-services — the previous
// build (bench-results/ab-old, see README.md) and this one — started with the same flags.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { authHeaders, BenchContext, type Service } from '../lib/context.js';
import { LOAD_CORE, pin } from '../lib/proc.js';

export const root = fileURLToPath(new URL('../../..', import.meta.url));
export const log = (l: string): void => void process.stdout.write(`${l}\n`);

/**
 * A variant argument of the probes ('ACCESS_LOG=false,LOG_BUFFER_BYTES=4096'; '' is the default): its
 * environment, and with ROOT=<dir> (relative to the repository) the build to start instead of dist/.
 */
export function variant(arg: string): { env: Record<string, string>; build?: string } {
  const env = Object.fromEntries(arg.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const));
  const { ROOT: build, ...rest } = env;
  return build === undefined ? { env: rest } : { env: rest, build: join(root, build) };
}

/** Runs `fn` with both services; everything is stopped afterwards, also on failure. */
export async function withOldAndNew(label: string, flags: string[], fn: (s: { ctx: BenchContext; headers: Record<string, string>; old: Service; cur: Service }) => Promise<void>): Promise<void> {
  pin(process.pid, LOAD_CORE);
  const ctx = await BenchContext.open(root, true, log);
  try {
    const [live] = await ctx.mintTokens(1);
    const headers = authHeaders(live!.token);
    const old = await ctx.startAuthz(`${label}-old`, {}, flags, { build: join(root, 'bench-results', 'ab-old') });
    const cur = await ctx.startAuthz(`${label}-new`, {}, flags);
    await fn({ ctx, headers, old, cur });
  } finally {
    await ctx.close();
  }
}
