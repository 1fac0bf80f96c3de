// The Content-Security-Policy of a page the worker serves: its own inline scripts and styles, by hash, and nothing else.

const policies = new Map<string, Promise<string>>();

/**
 * The policy of `html`: no source but the page's own inline `<script>` and `<style>` elements, each allowed by its
 * sha256 (no inline event handlers, no style attributes, no other origin), `connect` for fetch, never framed.
 * Computed once per page.
 *
 * @example
 * c.html(PAGE, 200, { "content-security-policy": await pagePolicy(PAGE, { connect: "'self'" }) });
 */
export function pagePolicy(html: string, opts: { connect?: string } = {}): Promise<string> {
  const key = `${opts.connect ?? ""}\n${html}`;
  let p = policies.get(key);
  if (!p) {
    p = buildPolicy(html, opts);
    policies.set(key, p);
  }
  return p;
}

async function buildPolicy(html: string, opts: { connect?: string }): Promise<string> {
  const scripts = await Promise.all(inline(html, "script").map(sourceHash));
  const styles = await Promise.all(inline(html, "style").map(sourceHash));
  return [
    "default-src 'none'",
    ...(scripts.length ? [`script-src ${scripts.join(" ")}`] : []),
    ...(styles.length ? [`style-src ${styles.join(" ")}`] : []),
    ...(opts.connect ? [`connect-src ${opts.connect}`] : []),
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** The text of every `<tag>` element without attributes (what a CSP hash covers: exactly the element's content). */
export function inline(html: string, tag: "script" | "style"): string[] {
  return [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((m) => m[1]);
}

/** `'sha256-<base64>'` of a script's or style's text (UTF-8). */
export async function sourceHash(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return `'sha256-${btoa(String.fromCharCode(...digest))}'`;
}
