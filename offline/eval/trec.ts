/** TREC run files: `qid Q0 docid rank score tag`, one line per hit, ranks from 1 in trec_eval order. */
import { createReadStream, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import { sortHits, type Run } from "./metrics.ts";

export function formatRun(run: Run, tag: string): string {
  if (/\s/.test(tag) || tag === "") throw new Error(`run tag must be non-empty without whitespace, got "${tag}"`);
  const out: string[] = [];
  for (const [qid, hits] of run) {
    sortHits(hits).forEach((h, i) => {
      if (/\s/.test(h.id) || /\s/.test(qid)) throw new Error(`ids with whitespace cannot be written to a TREC run: "${qid}" / "${h.id}"`);
      out.push(`${qid} Q0 ${h.id} ${i + 1} ${h.score} ${tag}`);
    });
  }
  return out.length ? out.join("\n") + "\n" : "";
}

export function writeRun(path: string, run: Run, tag: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, formatRun(run, tag));
}

export async function readRun(path: string): Promise<Run> {
  const run: Run = new Map();
  const rl = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() === "") continue;
    const f = line.trim().split(/\s+/);
    if (f.length !== 6) throw new Error(`${path}:${n}: expected 6 fields "qid Q0 docid rank score tag", got ${f.length}`);
    const score = Number(f[4]);
    if (!Number.isFinite(score)) throw new Error(`${path}:${n}: score is not a number: "${f[4]}"`);
    let hits = run.get(f[0]);
    if (!hits) run.set(f[0], (hits = []));
    hits.push({ id: f[2], score });
  }
  return run;
}
