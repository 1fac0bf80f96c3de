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
 * refine rows) and its plan (the cheapest probe and refine reaching recall@10 0.98), measured here on 200 plan
 * queries made from base rows plus noise of norm 0.33 (the benchmark's queries are drawn apart from both).
 */
export function i3IvfPeer(): Peer {
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
      const kernels = nodeKernels(n * (dims + 8) + (64 << 20), (m) => console.error(m));
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
      const chosen = await planProbe(source, plan, nq, truth, 0.98, true);
      options = { probe: chosen.probe, refine: chosen.refine };
      label = `partitioned (IVF): ${p.partitions} partitions, probe ${chosen.probe}, refine ${chosen.refine} (plan recall@10 ${chosen.recallAt10.toFixed(3)}), int8 scan on wasm kernels`;
    },
    async search(query, k) {
      if (!source) throw new Error("i3-ivf: search before build");
      return (await searchIvf(query, source, k, options)).hits.map((h) => h.ordinal);
    },
  };
}
