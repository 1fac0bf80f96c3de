import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
describe("healthz", () => {
  it("answers", async () => {
    const res = await exports.default.fetch("http://x/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });
});
