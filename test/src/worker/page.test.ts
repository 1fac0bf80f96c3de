// The search page's inline script lives in a TypeScript template string, where an escaping slip gives a page that
// loads but whose script never runs. Compile it (workerd forbids eval, so here in Node).
import { describe, expect, it } from "vitest";
import { SEARCH_PAGE } from "../../../src/worker/routes/page.ts";

describe("search page script", () => {
  it("is one inline script that compiles", () => {
    const scripts = [...SEARCH_PAGE.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    expect(scripts).toHaveLength(1);
    expect(() => new Function(scripts[0])).not.toThrow();
    expect(scripts[0]).toContain("data.fusion");
  });
});
