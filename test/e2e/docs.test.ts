/**
 * The NGINX and ingress-nginx snippets in the docs are the configurations the end-to-end suite runs:
 * every ```nginx block is byte-identical to examples/nginx/auth-request.conf.template (or a contiguous
 * part of a shipped template), and every ingress-nginx annotation block says what the ingress-nginx
 * template was generated from. Needs no NGINX.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIGS, ROOT } from './nginx.js';

const fences = (markdown: string, lang: string): string[] =>
  [...markdown.matchAll(new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm'))].map((m) => m[1]!);

const annotations = (text: string): Record<string, string> =>
  Object.fromEntries([...text.matchAll(/(nginx\.ingress\.kubernetes\.io\/[a-z-]+):\s*"([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));

const DOCS: Array<{ file: string; todo?: string }> = [
  { file: 'docs/e2e.md' },
  { file: 'README.md' },
];

t.test('doc snippets are the tested configurations', async (t) => {
  const templates = await Promise.all(Object.values(CONFIGS).map((f) => readFile(f, 'utf8')));
  const ingressTemplate = await readFile(CONFIGS['ingress-nginx'], 'utf8');
  const tested = annotations(ingressTemplate);
  t.same(Object.keys(tested).sort(), ['nginx.ingress.kubernetes.io/auth-response-headers', 'nginx.ingress.kubernetes.io/auth-signin', 'nginx.ingress.kubernetes.io/auth-url']);

  for (const { file, todo } of DOCS) {
    t.test(file, todo ? { todo } : {}, async (t) => {
      const text = await readFile(join(ROOT, file), 'utf8');
      const nginx = fences(text, 'nginx');
      if (file === 'docs/e2e.md') t.ok(nginx.length > 0, 'has the NGINX configuration');
      for (const [i, block] of nginx.entries()) {
        t.ok(templates.some((tpl) => tpl.includes(block)), `nginx block ${i + 1} is (part of) a shipped template, byte for byte`);
      }
      for (const [i, block] of fences(text, 'yaml').entries()) {
        const doc = annotations(block);
        if (!('nginx.ingress.kubernetes.io/auth-url' in doc)) continue;
        t.same(Object.keys(doc).sort(), Object.keys(tested).sort(), `yaml block ${i + 1}: the same three annotations`);
        t.equal(doc['nginx.ingress.kubernetes.io/auth-response-headers'], tested['nginx.ingress.kubernetes.io/auth-response-headers'], `yaml block ${i + 1}: the same response headers`);
        t.match(doc['nginx.ingress.kubernetes.io/auth-url'], /^https?:\/\/[^/?#]+\/auth$/, `yaml block ${i + 1}: auth-url is the authz-service's /auth`);
        t.match(doc['nginx.ingress.kubernetes.io/auth-signin'], /^https?:\/\/[^/?#]+\/saml\/login$/, `yaml block ${i + 1}: auth-signin is /saml/login, rd appended by the controller`);
      }
    });
  }
});
