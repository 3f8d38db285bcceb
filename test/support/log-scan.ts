import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What must never appear in a log line: a compact JWS (a token), the session cookie with a value, or a
 * SAML document (raw XML or its base64, which starts with `<saml…`, `<?xml` or `<Response`).
 */
export const FORBIDDEN: readonly { what: string; re: RegExp }[] = [
  { what: 'a JWT', re: /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/ },
  { what: 'the session cookie', re: /saml_authz=[A-Za-z0-9_-]{8,}/ },
  { what: 'a SAML document (XML)', re: /<(?:[A-Za-z0-9_]+:)?(?:Response|Assertion|EncryptedAssertion)[\s>]/ },
  { what: 'a SAML document (base64)', re: /PHNhbWw|PD94bWwg|PFJlc3BvbnNl|PHNhbWwycDpSZXNwb25z/ },
];

export interface ScanResult {
  files: number;
  lines: number;
  findings: string[];
}

/** Scans every log file the suite's services wrote (LogCapture and service processes). */
export async function scanLogs(dir: string): Promise<ScanResult> {
  const result: ScanResult = { files: 0, lines: 0, findings: [] };
  for (const file of await readdir(dir)) {
    result.files++;
    const lines = (await readFile(join(dir, file), 'utf8')).split('\n');
    for (const line of lines) {
      if (!line) continue;
      result.lines++;
      for (const { what, re } of FORBIDDEN) {
        if (re.test(line)) result.findings.push(`${file}: ${what}: ${line.slice(0, 300)}`);
      }
    }
  }
  return result;
}
