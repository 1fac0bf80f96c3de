// The worker served by `wrangler dev` (local workerd, local R2) as a child process: what benchmarks and the browser
// tests run against. The process group is killed on stop, so no workerd outlives its caller.
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LocalWorkerOptions {
  /** The project root (wrangler.toml, node_modules/.bin/wrangler). */
  root: string;
  /** Worker vars (`--var NAME:value`). */
  vars?: Record<string, string | number>;
  /** wrangler's state directory (`--persist-to`); default `.wrangler/state` under the root. */
  persistTo?: string;
  /** A wrangler.toml environment (`--env`, e.g. "lite": the worker without onnxruntime-web); default the top level. */
  env?: string;
  /** Port; default a free one. */
  port?: number;
  /** How long to wait for `/healthz` (ms, default 120000). */
  readyTimeoutMs?: number;
}

export interface LocalWorker {
  /** `http://127.0.0.1:<port>` */
  base: string;
  /** wrangler's output. */
  log: string;
  /** Peak resident memory of the workerd process (MB; null when /proc cannot tell). */
  peakRssMb(): number | null;
  /** Resident memory of the workerd processes now (MB; 0 when /proc cannot tell). */
  rssMb(): number;
  /**
   * Stops wrangler, workerd and every other process of the group; resolves once none is left (SIGKILL after 10 s), so
   * that the local state (R2, the colo cache) is no longer being written.
   */
  stop(): Promise<void>;
}

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer().once("error", fail).listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

/**
 * Starts `wrangler dev` and resolves once `GET /healthz` answers 200.
 *
 * @example
 * const w = await startLocalWorker({ root, vars: { POINTER_TTL_MS: 0 } });
 * try { await fetch(`${w.base}/healthz`); } finally { await w.stop(); }
 */
export async function startLocalWorker(opts: LocalWorkerOptions): Promise<LocalWorker> {
  const port = opts.port ?? (await freePort());
  const vars = Object.entries(opts.vars ?? {}).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
  const persist = opts.persistTo ? ["--persist-to", opts.persistTo] : [];
  const env = opts.env ? ["--env", opts.env] : [];
  const log = join(tmpdir(), `i3-wrangler-${port}.log`);
  const child = spawn(join(opts.root, "node_modules/.bin/wrangler"), ["dev", "--port", String(port), "--ip", "127.0.0.1", ...env, ...persist, ...vars], {
    cwd: opts.root,
    stdio: ["ignore", openSync(log, "w"), openSync(log, "a")],
    detached: true, // its own process group: stop() kills wrangler's shim, wrangler and workerd together
  });
  const alive = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false; // no process of the group is left
    }
  };
  const stop = async () => {
    if (!alive()) return;
    process.kill(-child.pid!, "SIGTERM");
    let killed = false;
    for (const end = Date.now() + 10_000; alive(); await new Promise((r) => setTimeout(r, 50))) {
      if (!killed && Date.now() > end) {
        process.kill(-child.pid!, "SIGKILL");
        killed = true; // then wait for the kernel to reap them, a moment at most
      }
      if (Date.now() > end + 5_000) break;
    }
  };
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}; see ${log}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer /healthz in time; see ${log}`);
    }
    if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return { base, log, stop, peakRssMb: () => workerdPeakMb(child), rssMb: () => workerdKb(child, "VmRSS") / 1024 };
}

/** The largest VmHWM of a workerd process under `child` (MB). */
function workerdPeakMb(child: ChildProcess): number | null {
  const kb = workerdKb(child, "VmHWM", Math.max);
  return kb ? Math.round(kb / 1024) : null;
}

/** A /proc status field (KiB) of the workerd processes under `child`, summed (or combined by `join`). */
function workerdKb(child: ChildProcess, field: "VmRSS" | "VmHWM", join = (a: number, b: number) => a + b): number {
  let total = 0;
  const read = (f: string) => {
    try {
      return readFileSync(f, "utf8");
    } catch {
      return "";
    }
  };
  const walk = (pid: string) => {
    const status = read(`/proc/${pid}/status`);
    if (/Name:\s+workerd/.test(status)) total = join(total, Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0));
    for (const c of read(`/proc/${pid}/task/${pid}/children`).split(/\s+/).filter(Boolean)) walk(c);
  };
  if (child.pid) walk(String(child.pid));
  return total;
}
