// The lite worker's bundle (wrangler.toml [env.lite], src/index-lite.ts), as `wrangler deploy --env lite` would upload
// it: no onnxruntime-web, and within the Workers Free plan's 3 MB compressed; the full worker's holds onnxruntime's wasm.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../..");

/** The files `wrangler deploy --dry-run` writes for an environment (undefined: the top level), and their gzipped bytes. */
function dryRun(env?: string): { files: string[]; gzipBytes: number; js: string } {
  const out = mkdtempSync(join(tmpdir(), "i3-bundle-"));
  try {
    execFileSync(join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", out, ...(env ? ["--env", env] : [])], { cwd: root, stdio: "pipe" });
    const files = readdirSync(out).filter((f) => !f.endsWith(".map") && f !== "README.md");
    const js = files.filter((f) => f.endsWith(".js")).map((f) => readFileSync(join(out, f), "utf8")).join("\n");
    return { files, gzipBytes: files.reduce((n, f) => n + gzipSync(readFileSync(join(out, f))).byteLength, 0), js };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

describe("the lite worker's bundle", () => {
  it("holds no onnxruntime and fits 3 MB gzipped; the full worker's holds onnxruntime's wasm", () => {
    const lite = dryRun("lite");
    expect(lite.files.some((f) => f.includes("ort-wasm"))).toBe(false);
    expect(lite.js).not.toContain("InferenceSession"); // onnxruntime-web's JS API is not bundled either
    expect(lite.files.some((f) => f.endsWith("kernels.wasm"))).toBe(true);
    expect(lite.gzipBytes).toBeLessThan(3 * 1024 * 1024);
    const full = dryRun();
    expect(full.files.some((f) => f.includes("ort-wasm"))).toBe(true);
    expect(full.js).toContain("InferenceSession");
    expect(full.gzipBytes).toBeGreaterThan(lite.gzipBytes);
  }, 120_000);
});
