/**
 * Node-side setup of the browser tests: builds a small index (test/fixtures/scifact-mini, the zero-shot model, no
 * passage splitting; cached in test/.cache/browser-index), publishes it to a fresh local R2, makes a search key,
 * and serves the worker with `wrangler dev` on a free port. The tests get the address and key through `inject`.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestProject } from "vitest/node";
import { runBuildCommand } from "../../offline/build/command.ts";
import { runKeysCommand } from "../../offline/keys/cli.ts";
import { startLocalWorker } from "../../offline/local-worker.ts";
import { runPublishCommand } from "../../offline/publish/cli.ts";
import { fingerprint, importClosure } from "../helpers/fingerprint.ts";
import { BROWSER_INDEX } from "./page-fixture.ts";

const root = resolve(import.meta.dirname, "../..");
const FIXTURE = "test/fixtures/scifact-mini";
const MODEL = "models/use-lite";
const OUT = "test/.cache/browser-index";

declare module "vitest" {
  export interface ProvidedContext {
    base: string;
    key: string;
  }
}

async function run(command: (args: string[], io: { out(l: string): void; err(l: string): void }) => Promise<number>, args: string[]): Promise<string[]> {
  const out: string[] = [], err: string[] = [];
  const code = await command(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  if (code !== 0) throw new Error(`${args.slice(0, 2).join(" ")} exited ${code}: ${err.join("\n")}`);
  return out;
}

export default async function setup(project: TestProject) {
  const dir = join(root, OUT);
  const stamp = fingerprint(root, [...importClosure([join(root, "offline/build/command.ts")]), MODEL, FIXTURE, "package-lock.json"], "browser");
  const stampFile = join(dir, `.stamp-${stamp}`);
  if (!existsSync(stampFile)) {
    rmSync(dir, { recursive: true, force: true });
    await run(runBuildCommand, ["--corpus", join(root, FIXTURE, "corpus.jsonl"), "--model", join(root, MODEL), "--out", dir, "--no-split", "--device", "cpu", "--default-mode", "hybrid"]);
    await import("node:fs/promises").then((fs) => fs.writeFile(stampFile, ""));
  }
  const persist = mkdtempSync(join(tmpdir(), "i3-browser-"));
  const target = ["--to", "local", "--persist-to", persist];
  await run(runPublishCommand, [dir, "--tenant", BROWSER_INDEX.tenant, "--index", BROWSER_INDEX.index, ...target]);
  const [line] = await run(runKeysCommand, ["create", "--tenant", BROWSER_INDEX.tenant, "--roles", "search", "--json", ...target]);
  const worker = await startLocalWorker({ root, persistTo: persist, vars: { POINTER_TTL_MS: 0, KEY_CACHE_TTL_MS: 0 } });
  project.provide("base", worker.base);
  project.provide("key", JSON.parse(line).key);
  return () => {
    worker.stop();
    rmSync(persist, { recursive: true, force: true });
  };
}
