/** The policy engine's public surface. */
export type * from './types.js';
export { ruleLabel } from './types.js';
export { parsePolicy, validatePolicy, type PolicyParseResult } from './parse.js';
export { compilePolicy, type CompiledPolicy } from './compile.js';
export { evaluate, candidates } from './evaluate.js';
export { explainDecision, type Explanation, type RuleTrace } from './explain.js';
export { lintPolicy, LINT_CODES, type LintCode } from './lint.js';
