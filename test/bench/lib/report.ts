/** The table on stdout and the JSON file under bench-results/. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Row {
  bench: string;
  measure: string;
  /** the candidate's figure(s) */
  value: string;
  /** the baseline's figure(s) in the same run */
  baseline: string;
  ratio: string;
  target: string;
  /** null: no target for this row */
  met: boolean | null;
}

export interface CaseResult {
  id: string;
  title: string;
  rows: Row[];
  data: unknown;
}

export function table(rows: readonly Row[]): string {
  const head = ['#', 'measure', 'value', 'baseline (same run)', 'ratio', 'target', 'met'];
  const body = rows.map((r) => [r.bench, r.measure, r.value, r.baseline, r.ratio, r.target, r.met === null ? '' : r.met ? 'yes' : 'NO']);
  const lines = [head, head.map(() => '---'), ...body];
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export async function writeJson(root: string, payload: unknown): Promise<string> {
  const dir = join(root, 'bench-results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(payload, null, 2)}\n`);
  return file;
}
