// Starts a real S3 endpoint for tests: moto in server mode on a free loopback port, stopped by `stop()`.
import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "../../offline/local-worker.ts";
import { AwsClient } from "aws4fetch";

export interface S3Server {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Creates a bucket (moto wants a us-east-1 signature for a bucket without a location constraint). */
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}


/**
 * Starts `python3 -m moto.server` on 127.0.0.1 and waits until it answers.
 *
 * @example
 * const s3 = await startS3Server(); await s3.createBucket("i3-test"); ... await s3.stop();
 */
export async function startS3Server(opts: { timeoutMs?: number } = {}): Promise<S3Server> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  let exited = false;
  child.on("exit", () => (exited = true));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (exited) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 3000).unref();
    });

  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (exited) throw new Error(`moto server exited before it answered:\n${stderr}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`moto server did not answer on ${endpoint} within ${opts.timeoutMs ?? 30_000} ms:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }

  const accessKeyId = "test";
  const secretAccessKey = "test";
  const admin = new AwsClient({ accessKeyId, secretAccessKey, region: "us-east-1", service: "s3", retries: 0 });
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    async createBucket(name) {
      const res = await admin.fetch(`${endpoint}/${name}`, { method: "PUT" });
      if (!res.ok) throw new Error(`create bucket ${name}: HTTP ${res.status} ${await res.text()}`);
    },
    stop,
  };
}
