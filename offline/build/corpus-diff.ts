// `i3 build --base <dir> --corpus <the whole new corpus>`: the changes that make a version's live documents the
// corpus's, so that CI (or `npm start`) need not know what changed.
import type { Doc, Manifest } from "../../src/format/index.ts";
import type { BuildDir } from "./build-dir.ts";
import { readCorpus } from "./corpus.ts";
import { contentHash, eachLiveDocument } from "./live-docs.ts";

/**
 * The corpus's documents that are new or differ from the version's (title, text or metadata), and the version's ids
 * the corpus no longer has. `skipEmpty`: the corpus's empty documents are left out (as the base's build left them).
 */
export async function diffCorpus(base: BuildDir, file: string, opts: { skipEmpty?: boolean } = {}): Promise<{ upserts: Doc[]; deletes: string[] }> {
  const m: Manifest = base.manifest;
  const live = new Map<string, string>();
  for await (const { doc } of eachLiveDocument(base)) live.set(doc.id, contentHash(doc));
  const upserts: Doc[] = [];
  const seen = new Set<string>();
  for await (const { doc } of readCorpus(file, { fields: m.fields?.schema, skipEmpty: opts.skipEmpty })) {
    seen.add(doc.id);
    if (live.get(doc.id) !== contentHash(doc)) upserts.push(doc);
  }
  return { upserts, deletes: [...live.keys()].filter((id) => !seen.has(id)) };
}
