// The live documents of a build directory's version: the base's not tombstoned, then the delta's, in version order
// (what `i3 compact` builds and what `i3 build --base --corpus` compares a corpus with).
import { createHash } from "node:crypto";
import { decodeDocBlock, decodeTombstones, isDeleted, type Doc } from "../../src/format/index.ts";
import { stableStringify } from "../../src/format/json.ts";
import type { BuildDir } from "./build-dir.ts";

/**
 * Each live document of the version with its version ordinal, in order.
 *
 * @example
 * for await (const { doc } of eachLiveDocument(await openBuildDir("out/v7"))) console.log(doc.id);
 */
export async function* eachLiveDocument(build: BuildDir): AsyncGenerator<{ doc: Doc; ordinal: number }> {
  const m = build.manifest;
  const tomb = m.tombstones && decodeTombstones(await build.readObject(m.tombstones));
  for (const b of m.docs.blocks) {
    const docs = decodeDocBlock(await build.readObject(b));
    for (let i = 0; i < docs.length; i++) if (!tomb || !isDeleted(tomb, b.first + i)) yield { doc: docs[i], ordinal: b.first + i };
  }
  const d = m.delta;
  if (!d) return;
  for (const b of d.docs.blocks) {
    const docs = decodeDocBlock(await build.readObject(b));
    for (let i = 0; i < docs.length; i++) yield { doc: docs[i], ordinal: d.first + b.first + i };
  }
}

/**
 * A document's content as an update compares it (title, text, metadata with its keys in order; an absent title is
 * an empty one), hashed: a corpus of millions is compared without holding its text.
 */
export function contentHash(d: Doc): string {
  return createHash("sha256").update(stableStringify([d.title ?? "", d.text, d.metadata ?? null])).digest("base64");
}
