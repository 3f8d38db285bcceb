/**
 * Reading the policy file, outside policy/ so that the policy layer stays pure (parse, compile, evaluate):
 * this folder is the file and its reloading.
 */
import { readFile } from 'node:fs/promises';
import { parsePolicy } from '../policy/parse.js';
import type { Policy } from '../policy/types.js';

/** A policy that cannot be used; `problems` holds every reason, each naming its rule. */
export class PolicyError extends Error {
  readonly code = 'POLICY_INVALID';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid policy ${file}:\n  ${problems.join('\n  ')}`);
    this.name = 'PolicyError';
  }
}

/**
 * The validated policy and the text it came from (the live policy is identified by its hash); throws
 * {@link PolicyError}, also when the file cannot be read.
 */
export async function readPolicyFile(path: string): Promise<{ policy: Policy; text: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PolicyError(path, [`cannot read: ${err instanceof Error ? err.message : String(err)}`]);
  }
  const result = parsePolicy(text);
  if (!result.ok) throw new PolicyError(path, result.problems);
  return { policy: result.policy, text };
}
