/**
 * Passage encoding in PyTorch, for GPU machines without onnxruntime's CUDA provider: a child process
 * (`python -m offline.train.encode_server`, the protocol is documented there) runs the shipped passage tower with the
 * weights of its passage.onnx, on CUDA or the CPU. Same contract as the onnxruntime encoder (NodeEncoder): token id
 * batches in, unit vectors out, equal to onnxruntime's within float rounding (checked in test/offline/encoder).
 * The interpreter is `$I3_PYTHON`, else `python3`.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import type { NodeEncoder } from "./node-encoder.ts";

const root = resolve(import.meta.dirname, "../..");

export interface TorchEncoderOptions {
  /** The model directory (model.json, passage.onnx). */
  modelDir: string;
  /** "cuda", "cuda:N" or "cpu". */
  device: string;
  /** Truncation window in tokens. */
  maxLen: number;
  /** CPU threads of PyTorch (default: its choice). */
  threads?: number;
  log?: (msg: string) => void;
}

/** A byte queue over a readable stream: `take(n)` resolves with exactly n bytes. */
function byteReader(stream: NodeJS.ReadableStream, failed: () => Error | null) {
  const chunks: Buffer[] = [];
  let have = 0;
  let waiting: { n: number; ok: (b: Buffer) => void; fail: (e: Error) => void } | null = null;
  const pump = () => {
    if (!waiting || have < waiting.n) return;
    const all = Buffer.concat(chunks);
    const { n, ok } = waiting;
    waiting = null;
    chunks.length = 0;
    if (all.length > n) chunks.push(all.subarray(n));
    have = all.length - n;
    ok(all.subarray(0, n));
  };
  stream.on("data", (c: Buffer) => {
    chunks.push(c);
    have += c.length;
    pump();
  });
  return {
    take: (n: number) => new Promise<Buffer>((ok, fail) => {
      const err = failed();
      if (err) return fail(err);
      waiting = { n, ok, fail };
      pump();
    }),
    fail(e: Error) {
      waiting?.fail(e);
      waiting = null;
    },
  };
}

/**
 * Starts the PyTorch encoder and waits for its hello.
 *
 * @example
 * const enc = await createTorchEncoder({ modelDir: "models/i3-scifact", device: "cuda", maxLen: 128 });
 */
export async function createTorchEncoder(opts: TorchEncoderOptions): Promise<NodeEncoder> {
  const python = process.env.I3_PYTHON || "python3";
  const args = ["-m", "offline.train.encode_server", "--model", resolve(opts.modelDir), "--device", opts.device];
  if (opts.threads) args.push("--threads", String(opts.threads));
  const child = spawn(python, args, { cwd: root, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, PYTHONPATH: root } });
  let stderr = "";
  let error: Error | null = null;
  child.stderr.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const reader = byteReader(child.stdout, () => error);
  const die = (why: string) => {
    error ??= new Error(`PyTorch encoder (${python} ${args.join(" ")}) ${why}${stderr.trim() ? `:\n${stderr.trim()}` : ""}`);
    reader.fail(error);
  };
  child.on("error", (e) => die(`could not start: ${e.message}`));
  child.on("exit", (code, signal) => die(`exited with ${signal ?? code}`));
  child.stdin.on("error", () => {}); // a dead child: reported by "exit"

  const hello = await reader.take(16);
  if (hello.toString("latin1", 0, 4) !== "I3TS" || hello.readUInt32LE(4) !== 1) throw new Error(`PyTorch encoder: unexpected hello ${hello.toString("hex")}`);
  const dim = hello.readUInt32LE(8);
  const name = (await reader.take(hello.readUInt32LE(12))).toString();
  opts.log?.(`encoder: PyTorch on ${name}`);

  let queue: Promise<unknown> = Promise.resolve();
  const run = async (batch: number[][]): Promise<Float32Array> => {
    const L = Math.max(1, Math.min(opts.maxLen, Math.max(...batch.map((r) => r.length))));
    const frame = Buffer.alloc(8 + 4 * batch.length * L + 4 * batch.length);
    frame.writeUInt32LE(batch.length, 0);
    frame.writeUInt32LE(L, 4);
    const ids = new Int32Array(frame.buffer, frame.byteOffset + 8, batch.length * L);
    const lengths = new Int32Array(frame.buffer, frame.byteOffset + 8 + 4 * batch.length * L, batch.length);
    batch.forEach((row, i) => {
      const n = Math.min(row.length, L);
      if (n === 0) throw new Error("PyTorch encoder: an empty passage");
      for (let j = 0; j < n; j++) ids[i * L + j] = row[j];
      lengths[i] = n;
    });
    child.stdin.write(frame);
    const head = await reader.take(8);
    if (head.readUInt32LE(0) !== batch.length || head.readUInt32LE(4) !== dim) throw new Error(`PyTorch encoder: answered ${head.readUInt32LE(0)} x ${head.readUInt32LE(4)} for ${batch.length} x ${dim}`);
    const body = await reader.take(4 * batch.length * dim);
    return new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
  };

  return {
    dim,
    provider: opts.device.startsWith("cuda") ? "cuda" : "cpu",
    encode(batch) {
      if (batch.length === 0) return Promise.resolve(new Float32Array(0));
      const next = queue.then(() => run(batch)); // one request on the pipe at a time
      queue = next.catch(() => {});
      return next;
    },
    async close() {
      if (child.exitCode !== null || error) return;
      const end = Buffer.alloc(8);
      child.stdin.end(end);
      await new Promise((ok) => child.once("exit", ok));
    },
  };
}
