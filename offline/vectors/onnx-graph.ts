// A tiny ONNX graph built in code (no model file, no Python): scores = X · Cᵀ followed by TopK along the last axis.
// onnxruntime-node runs it with its multi-threaded GEMM, which is what makes k-means and exact top-k over a million
// vectors practical offline. Only the few protobuf fields the graph needs are written (onnx.proto3 field numbers).

type Bytes = number[];

function varint(out: Bytes, v: number | bigint): void {
  let x = BigInt.asUintN(64, BigInt(v)); // negative int64: ten bytes of two's complement
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
}
const key = (out: Bytes, field: number, wire: number) => varint(out, (field << 3) | wire);
function bytesField(out: Bytes, field: number, payload: Bytes | Uint8Array): void {
  key(out, field, 2);
  varint(out, payload.length);
  for (const b of payload) out.push(b);
}
const str = (out: Bytes, field: number, s: string) => bytesField(out, field, new TextEncoder().encode(s));
function intField(out: Bytes, field: number, v: number): void {
  key(out, field, 0);
  varint(out, v);
}
function msg(build: (out: Bytes) => void): Bytes {
  const out: Bytes = [];
  build(out);
  return out;
}

const FLOAT = 1;
const INT64 = 7;

/** ValueInfoProto with a tensor type; a string dim is symbolic, a number fixed. */
function valueInfo(name: string, elemType: number, dims: Array<string | number>): Bytes {
  const shape = msg((s) => {
    for (const d of dims) bytesField(s, 1, msg((dm) => (typeof d === "number" ? intField(dm, 1, d) : str(dm, 2, d))));
  });
  const tensor = msg((t) => {
    intField(t, 1, elemType);
    bytesField(t, 2, shape);
  });
  return msg((v) => {
    str(v, 1, name);
    bytesField(v, 2, msg((tp) => bytesField(tp, 1, tensor)));
  });
}

function node(op: string, inputs: string[], outputs: string[], attrs: Array<{ name: string; i: number }> = []): Bytes {
  return msg((n) => {
    for (const i of inputs) str(n, 1, i);
    for (const o of outputs) str(n, 2, o);
    str(n, 3, `${op.toLowerCase()}0`);
    str(n, 4, op);
    for (const a of attrs) {
      bytesField(n, 5, msg((at) => {
        str(at, 1, a.name);
        intField(at, 3, a.i);
        intField(at, 20, 2); // AttributeType INT
      }));
    }
  });
}

/**
 * The ONNX model bytes of `topk_ip`: inputs `x` float32 [B, D], `c` float32 [K, D], `k` int64 [1]; outputs
 * `scores` float32 [B, k] and `indices` int64 [B, k]: for each row of x, the k rows of c with the largest inner
 * product, best first.
 */
export function topKInnerProductModel(dims: number): Uint8Array {
  const graph = msg((g) => {
    bytesField(g, 1, node("Gemm", ["x", "c"], ["s"], [{ name: "transB", i: 1 }]));
    bytesField(g, 1, node("TopK", ["s", "k"], ["scores", "indices"], [{ name: "axis", i: -1 }, { name: "largest", i: 1 }, { name: "sorted", i: 1 }]));
    str(g, 2, "topk_ip");
    bytesField(g, 11, valueInfo("x", FLOAT, ["B", dims]));
    bytesField(g, 11, valueInfo("c", FLOAT, ["K", dims]));
    bytesField(g, 11, valueInfo("k", INT64, [1]));
    bytesField(g, 12, valueInfo("scores", FLOAT, ["B", "n"]));
    bytesField(g, 12, valueInfo("indices", INT64, ["B", "n"]));
  });
  return Uint8Array.from(msg((m) => {
    intField(m, 1, 8); // ir_version
    str(m, 2, "i3-edge");
    bytesField(m, 7, graph);
    bytesField(m, 8, msg((o) => intField(o, 2, 17))); // opset 17, default domain
  }));
}
