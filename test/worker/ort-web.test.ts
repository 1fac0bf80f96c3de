import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createWasmSession, ort } from "../../src/worker/encoder/ort-web";

describe("onnxruntime-web in workerd", () => {
  it("runs a model from bytes", async () => {
    const res = await (env as any).REPO_FILES.fetch("http://files/test/fixtures/tiny-encoder.onnx");
    expect(res.status).toBe(200);
    const session = await createWasmSession(new Uint8Array(await res.arrayBuffer()));
    const out = await session.run({
      input_ids: new ort.Tensor("int64", BigInt64Array.from([1n, 2n, 3n]), [1, 3]),
      attention_mask: new ort.Tensor("int64", BigInt64Array.from([1n, 1n, 0n]), [1, 3]),
    });
    expect(Array.from(out.embedding.data as Float32Array)).toEqual([6, 8]);
  });
});
