import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeFloatRows, encodeFloatRows, float16Table } from "../../../src/format/index.ts";
import { searchIvf, type IvfSource } from "../../../src/search/ivf.ts";
import { rng } from "../../../src/random.ts";
import { normalizeRows } from "../../../offline/vectors/kmeans.ts";
import {
  exactTopDocs, memorySource, partitionCount, partitionRefine, partitionRows, partitionVectors, planProbe,
} from "../../../offline/vectors/partition.ts";
import { nodeKernels } from "../../../offline/vectors/kernels.ts";
import { createTopKIp } from "../../../offline/vectors/topk-ip.ts";
import type { Peer } from "./index.ts";

/**
 * This project's partitioned index as the worker searches it (src/search/ivf.ts on the wasm kernels): the build's
 * partition step (spherical k-means, one partition per 1,024 vectors, int8 partitions in kernel memory, binary16
 * refine rows) and its plan (the cheapest probe and refine reaching recall@10 `target`, the build's 0.98 by default;
 * a higher one to compare with a peer at its recall), measured here on 200 plan
 * queries made from base rows plus noise of norm 0.33 (the benchmark's queries are drawn apart from both).
 * `refineFrom`: "memory" keeps the refine rows resident; "file" reads a probed partition's refine rows per query from
 * a file (the page cache), as the worker reads them per query from the colo cache, so only the scan data is resident.
 */
export function i3IvfPeer(refineFrom: "memory" | "file" = "memory", target = 0.98): Peer {
  let source: IvfSource | undefined;
  let options = { probe: 1, refine: 0 };
  let label = "";
  return {
    name: "i3-ivf",
    get label() {
      return label || "partitioned (IVF): k-means partitions, int8 scan on wasm kernels, binary16 refine";
    },
    async build(vectors, n, dims) {
      const floats = vectors.slice(0, n * dims);
      const topk = await createTopKIp(dims);
      const p = await partitionRows(topk, floats, n, dims, partitionCount(n));
      const docOf = Uint32Array.from({ length: n }, (_, i) => i);
      const parts = p.members.map((m) => partitionVectors(floats, dims, m, docOf));
      const refine = p.members.map((m) => partitionRefine(floats, dims, m));
      const kernels = nodeKernels(n * (dims + 8) + (1 << 20), (m) => console.error(m));
      source = memorySource(p, dims, parts, refine, kernels);
      // Drop the typed copies the kernels now hold.
      parts.forEach((s) => Object.assign(s, { vectors: new Int8Array(0), scales: new Float32Array(0), codes: new Uint8Array(0) }));
      const random = rng(7);
      const nq = 200;
      const plan = new Float32Array(nq * dims);
      for (let q = 0; q < nq; q++) {
        const row = Math.floor(random() * n);
        let norm = 0;
        const noise = Array.from({ length: dims }, () => Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random()));
        for (const x of noise) norm += x * x;
        for (let d = 0; d < dims; d++) plan[q * dims + d] = floats[row * dims + d] + (0.33 * noise[d]) / Math.sqrt(norm);
      }
      normalizeRows(plan, dims);
      const truth = await exactTopDocs(topk, plan, nq, floats, n, dims, docOf);
      await topk.close();
      const chosen = await planProbe(source, plan, nq, truth, target, true);
      options = { probe: chosen.probe, refine: chosen.refine };
      label = `partitioned (IVF): ${p.partitions} partitions, probe ${chosen.probe}, refine ${chosen.refine} (plan recall@10 ${chosen.recallAt10.toFixed(3)}), int8 scan on wasm kernels`;
      if (refineFrom === "file") {
        source = { ...source, refine: refineFile(refine, dims) };
        refine.length = 0; // memorySource's closures share one context that still holds the array: empty it
        label += `; refine rows read per query from a file`;
      }
    },
    async search(query, k) {
      if (!source) throw new Error("i3-ivf: search before build");
      return (await searchIvf(query, source, k, options)).hits.map((h) => h.ordinal);
    },
  };
}

/**
 * The refine rows of every partition written to one temporary file (unlinked at once, kept open): a partition's are
 * read back (one read of its binary16 object) whenever a query re-scores its candidates.
 */
function refineFile(refine: ReturnType<typeof partitionRefine>[], dims: number): NonNullable<IvfSource["refine"]> {
  const path = join(tmpdir(), `i3-peer-refine-${process.pid}.bin`);
  const fd = openSync(path, "w+");
  unlinkSync(path);
  const at: Array<{ offset: number; length: number }> = [];
  let offset = 0;
  for (const r of refine) {
    const rows = new Float32Array(r.count * dims);
    const table = float16Table();
    for (let i = 0; i < rows.length; i++) rows[i] = table[r.rows[i]];
    const bytes = encodeFloatRows("refine", dims, rows);
    writeSync(fd, bytes, 0, bytes.byteLength, offset);
    at.push({ offset, length: bytes.byteLength });
    offset += bytes.byteLength;
  }
  process.once("exit", () => closeSync(fd));
  return async (ids) => ids.map((i) => {
    const bytes = new Uint8Array(at[i].length);
    readSync(fd, bytes, 0, at[i].length, at[i].offset);
    return decodeFloatRows("refine", bytes);
  });
}
