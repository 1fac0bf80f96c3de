/**
 * Node-side setup of the browser tests: builds a small index (test/fixtures/scifact-mini with two filterable fields
 * derived from each line, `n` = line % 7 and `kind` = even | odd; the zero-shot model, no passage splitting; cached in
 * test/.cache/browser-index), publishes it to a fresh local R2, makes a search key, and serves the worker with
 * `wrangler dev` on a free port. The tests get the address and key through `inject`.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
const CORPUS = "test/.cache/browser-corpus.jsonl";
export const FIELDS = "n:int,kind:keyword";

/** The fixture corpus with each document's `metadata`: n = line % 7, kind = even | odd. */
function writeCorpus(): void {
  const lines = readFileSync(join(root, FIXTURE, "corpus.jsonl"), "utf8").split("\n").filter(Boolean);
  const out = lines.map((l, i) => JSON.stringify({ ...JSON.parse(l), metadata: { n: i % 7, kind: i % 2 ? "odd" : "even" } }));
  mkdirSync(join(root, "test/.cache"), { recursive: true });
  writeFileSync(join(root, CORPUS), out.join("\n") + "\n");
}

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
  const stamp = fingerprint(root, [...importClosure([join(root, "offline/build/command.ts")]), MODEL, FIXTURE, "package-lock.json"], `browser ${FIELDS}`);
  const stampFile = join(dir, `.stamp-${stamp}`);
  if (!existsSync(stampFile)) {
    rmSync(dir, { recursive: true, force: true });
    writeCorpus();
    await run(runBuildCommand, ["--corpus", join(root, CORPUS), "--model", join(root, MODEL), "--out", dir, "--no-split", "--device", "cpu", "--default-mode", "hybrid", "--fields", FIELDS]);
    await import("node:fs/promises").then((fs) => fs.writeFile(stampFile, ""));
  }
  const persist = mkdtempSync(join(tmpdir(), "i3-browser-"));
  const target = ["--to", "local", "--persist-to", persist];
  await run(runPublishCommand, [dir, "--tenant", BROWSER_INDEX.tenant, "--index", BROWSER_INDEX.index, ...target]);
  const [line] = await run(runKeysCommand, ["create", "--tenant", BROWSER_INDEX.tenant, "--roles", "search", "--json", ...target]);
  const worker = await startLocalWorker({ root, persistTo: persist, vars: { POINTER_TTL_MS: 0, KEY_CACHE_TTL_MS: 0 } });
  project.provide("base", worker.base);
  project.provide("key", JSON.parse(line).key);
  return async () => {
    await worker.stop();
    rmSync(persist, { recursive: true, force: true });
  };
}
