/**
 * The one HTML helper of the token-service's pages: every value goes through `escapeHtml`, there is no
 * script, and each page is sent with a CSP that allows nothing but its own inline style and forms posting
 * back to this origin. Pure.
 */
export const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** A piece of a page: text (escaped) or markup built by this module's helpers. */
export type Part = string | { html: string };

const render = (p: Part): string => (typeof p === 'string' ? escapeHtml(p) : p.html);

export const paragraph = (...parts: Part[]): { html: string } => ({ html: `<p>${parts.map(render).join('')}</p>` });
export const code = (text: string): { html: string } => ({ html: `<code>${escapeHtml(text)}</code>` });
export const link = (href: string, text: string): { html: string } => ({ html: `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>` });

/** A POST form with one button (and hidden fields): the only way these pages change anything. */
export function postButton(action: string, label: string, hidden: Record<string, string> = {}): { html: string } {
  const fields = Object.entries(hidden).map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('');
  return { html: `<form method="post" action="${escapeHtml(action)}">${fields}<button type="submit">${escapeHtml(label)}</button></form>` };
}

/** A list of links (the IdP chooser): plain links, usable by keyboard and screen reader without script. */
export function linkList(label: string, items: { href: string; text: string }[]): { html: string } {
  return { html: `<nav aria-label="${escapeHtml(label)}"><ul>${items.map((i) => `<li>${link(i.href, i.text).html}</li>`).join('')}</ul></nav>` };
}

/** A definition list of label/value pairs (who is signed in). */
export function facts(rows: [string, string][]): { html: string } {
  return { html: `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>` };
}

export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** A whole page: language, viewport, title = heading, a main landmark. */
export function page(title: string, body: Part[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;line-height:1.5;max-width:36rem;margin:2rem auto;padding:0 1rem}dt{font-weight:600}button{font:inherit;padding:.4rem 1rem}</style>
</head><body><main><h1>${escapeHtml(title)}</h1>
${body.map(render).join('\n')}
</main></body></html>
`;
}
