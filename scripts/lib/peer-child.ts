/**
 * One peer in its own process (forked by scripts/bench-peers.ts, run with --expose-gc): reads the data set, builds
 * the peer, measures memory around the build and the latency of each query, and reports over IPC. Its own process
 * so that its memory is measured alone and a peer over its time budget can be killed.
 *
 *   argv: <data set file> <peer name> <deadline, ms since epoch> <warm-up queries>
 *
 * Build time: wall clock, and the CPU time of the process (all its threads) during the build, which a busy machine
 * inflates less.
 * Memory: process.memoryUsage() after two forced GCs before and after the build. `rssMB` is the resident set
 * delta (everything: JS heap, typed arrays, wasm memory, native allocations); `jsMB` the delta of V8 heapUsed +
 * external (JS objects and ArrayBuffers, not wasm or native memory); `peakMB` is the peak resident set
 * (resourceUsage().maxRSS) during the build minus the resident set before it.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { readDataset } from "./peer-dataset.ts";
import { PEERS } from "./peers/index.ts";

export type ChildMessage =
  | { type: "built"; buildMs: number; buildCpuMs: number; rssMB: number; jsMB: number; peakMB: number; version?: string; label: string }
  | { type: "done"; latenciesMs: number[]; ids: number[][] }
  | { type: "error"; message: string };

const MB = 1024 * 1024;

function send(m: ChildMessage): Promise<void> {
  return new Promise((ok) => process.send!(m, () => ok()));
}

function collect(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("peer-child needs node --expose-gc");
  gc();
  gc();
  return process.memoryUsage();
}

/** The installed version of an npm package, from the nearest node_modules above this file. */
function packageVersion(pkg: string): string | undefined {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    const file = join(dir, "node_modules", pkg, "package.json");
    if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
    if (dirname(dir) === dir) return undefined;
  }
}

async function ids(result: ArrayLike<number> | Promise<ArrayLike<number>>): Promise<number[]> {
  return Array.from(result instanceof Promise ? await result : result);
}

async function main(path: string, name: string, deadline: number, warmup: number): Promise<void> {
  const { spec, base, queries } = readDataset(path);
  const { n, dims, k } = spec;
  const peer = await PEERS[name]();

  const before = collect();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await peer.build(base, n, dims);
  const buildMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const peakMB = (process.resourceUsage().maxRSS * 1024 - before.rss) / MB;
  const after = collect();
  await send({
    type: "built", buildMs, buildCpuMs: (cpu.user + cpu.system) / 1000, peakMB, label: peer.label,
    rssMB: (after.rss - before.rss) / MB,
    jsMB: (after.heapUsed + after.external - before.heapUsed - before.external) / MB,
    version: peer.package ? packageVersion(peer.package) : undefined,
  });

  for (let i = 0; i < Math.min(warmup, n); i++) await ids(peer.search(base.subarray(i * dims, (i + 1) * dims), k));
  const latenciesMs: number[] = [];
  const found: number[][] = [];
  for (let q = 0; q < spec.queries && Date.now() < deadline; q++) {
    const query = queries.subarray(q * dims, (q + 1) * dims);
    const t = performance.now();
    const hits = await ids(peer.search(query, k));
    latenciesMs.push(performance.now() - t);
    found.push(hits);
  }
  await send({ type: "done", latenciesMs, ids: found });
}

const [path, name, deadline, warmup] = process.argv.slice(2);
main(path, name, Number(deadline), Number(warmup)).then(
  () => process.exit(0),
  async (e: Error) => {
    await send({ type: "error", message: e.stack ?? String(e) });
    process.exit(1);
  },
);
