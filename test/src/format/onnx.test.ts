// The ONNX reader (src/format/onnx.ts): the shipped query model as the onnx package lists it, and hand-made
// protobuf for the encodings an exporter may choose (packed or unpacked dims, typed data fields, external data).
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { FormatError } from "../../../src/format/errors.ts";
import { ONNX_FLOAT, ONNX_INT64, ONNX_INT8, ONNX_UINT8, readOnnx } from "../../../src/format/onnx.ts";

const root = path.join(import.meta.dirname, "../../..");

// A protobuf writer for the tests: fields are [number, wire type, value].
const varint = (value: number): number[] => {
  let n = BigInt.asUintN(64, BigInt(value)); // negative: ten bytes of two's complement, as protobuf writes int64
  const out: number[] = [];
  do {
    let b = Number(n & 127n);
    n >>= 7n;
    if (n > 0n) b |= 0x80;
    out.push(b);
  } while (n > 0n);
  return out;
};
const field = (num: number, wire: number) => varint(num * 8 + wire);
const bytesField = (num: number, data: ArrayLike<number>) => [...field(num, 2), ...varint(data.length), ...Array.from(data)];
const stringField = (num: number, s: string) => bytesField(num, new TextEncoder().encode(s));
const varintField = (num: number, n: number) => [...field(num, 0), ...varint(n)];
const model = (graph: number[]) => new Uint8Array([...varintField(1, 8), ...bytesField(7, graph)]);

describe("readOnnx", () => {
  it("reads the shipped int8 query model: its nodes in order and its initializers with dims, types and bytes", () => {
    const g = readOnnx(new Uint8Array(readFileSync(path.join(root, "models/i3-scifact/query.int8.onnx"))));
    expect(g.nodes).toHaveLength(95);
    expect(g.nodes[0]).toEqual({ opType: "Mul", domain: "", inputs: ["input_ids", "attention_mask"], outputs: ["/enc/Mul_output_0"], attributes: {} });
    const norm = g.nodes.find((n) => n.opType === "LayerNormalization")!;
    expect(norm.attributes).toEqual({ axis: -1, epsilon: Math.fround(1e-6), stash_type: 1 });
    expect(g.nodes.filter((n) => n.opType === "FusedMatMul").map((n) => n.attributes.alpha)).toEqual([0.125, Math.fround(1 / Math.sqrt(128))]);
    const dq = g.nodes.filter((n) => n.opType === "DynamicQuantizeMatMul");
    expect(dq).toHaveLength(10);
    expect(dq.every((n) => n.domain === "com.microsoft")).toBe(true);
    expect(dq.at(-1)!.inputs).toEqual(["/enc/Div_output_0", "enc.tanh_layer.weight_quantized", "enc.tanh_layer.weight_scale", "enc.tanh_layer.weight_zero_point", "enc.tanh_layer.bias"]);
    expect(g.initializers.size).toBe(70);
    const table = g.initializers.get("enc.embeddings.weight_quantized")!;
    expect([table.dims, table.dataType, table.bytes.length]).toEqual([[8002, 256], ONNX_UINT8, 8002 * 256]);
    const w = g.initializers.get("enc.tanh_layer.weight_quantized")!;
    expect([w.dims, w.dataType]).toEqual([[512, 512], ONNX_INT8]);
    const scale = g.initializers.get("enc.embeddings.weight_scale")!;
    expect([scale.dims, new Float32Array(scale.bytes.slice().buffer)[0]]).toEqual([[], Math.fround(0.00652145)].map((v, i) => (i === 1 ? expect.closeTo(v as number, 7) : v)));
    const minusOne = g.initializers.get("/enc/Constant_output_0")!;
    expect([minusOne.dataType, new BigInt64Array(minusOne.bytes.slice().buffer)[0]]).toEqual([ONNX_INT64, -1n]);
  });

  it("reads unpacked float_data (one fixed32 a key), and refuses typed data that does not fill its dims", () => {
    const one = (x: number) => [...field(4, 5), ...new Uint8Array(new Float32Array([x]).buffer)];
    const unpacked = [...bytesField(1, varint(2)), ...varintField(2, ONNX_FLOAT), ...one(0.5), ...one(-4), ...stringField(8, "u")];
    expect(Array.from(new Float32Array(readOnnx(model(bytesField(5, unpacked))).initializers.get("u")!.bytes.slice().buffer))).toEqual([0.5, -4]);
    // dims of 50 million int32 values and no data: refused, nothing allocated for them
    const empty = [...bytesField(1, varint(50_000_000)), ...varintField(2, 6), ...stringField(8, "e")];
    expect(() => readOnnx(model(bytesField(5, empty)))).toThrow(/holds 0 values/);
    const short = [...bytesField(1, varint(3)), ...varintField(2, 6), ...bytesField(5, varint(7)), ...stringField(8, "s")];
    expect(() => readOnnx(model(bytesField(5, short)))).toThrow(FormatError);
  });

  it("reads unpacked dims, float_data and int32_data / int64_data (negative values as two's complement)", () => {
    const floats = new Uint8Array(new Float32Array([1.5, -2]).buffer);
    const t1 = [...varintField(1, 2), ...varintField(2, ONNX_FLOAT), ...bytesField(4, floats), ...stringField(8, "f")];
    const t2 = [...bytesField(1, [...varint(3)]), ...varintField(2, ONNX_INT8), ...bytesField(5, [...varint(5), ...varint(-3), ...varint(0)]), ...stringField(8, "i8")];
    const t3 = [...bytesField(1, varint(1)), ...varintField(2, ONNX_INT64), ...bytesField(7, varint(-7)), ...stringField(8, "i64")];
    const node = [...stringField(1, "a"), ...stringField(1, "b"), ...stringField(2, "c"), ...stringField(3, "n"), ...stringField(4, "Add"), ...stringField(7, "")];
    const g = readOnnx(model([...bytesField(1, node), ...bytesField(5, t1), ...bytesField(5, t2), ...bytesField(5, t3), ...stringField(2, "g")]));
    expect(g.nodes).toEqual([{ opType: "Add", domain: "", inputs: ["a", "b"], outputs: ["c"], attributes: {} }]);
    expect(Array.from(new Float32Array(g.initializers.get("f")!.bytes.slice().buffer))).toEqual([1.5, -2]);
    expect(Array.from(new Int8Array(g.initializers.get("i8")!.bytes.slice().buffer))).toEqual([5, -3, 0]);
    expect(new BigInt64Array(g.initializers.get("i64")!.bytes.slice().buffer)[0]).toBe(-7n);
  });

  it("refuses what it cannot read: truncation, groups, no graph, external data, data of the wrong size", () => {
    const code = (bytes: Uint8Array) => {
      try {
        readOnnx(bytes);
        return "read";
      } catch (e) {
        expect(e).toBeInstanceOf(FormatError);
        return (e as FormatError).code;
      }
    };
    const shipped = new Uint8Array(readFileSync(path.join(root, "models/i3-scifact/query.int8.onnx")));
    expect(code(shipped.subarray(0, shipped.length - 1000))).toBe("truncated");
    expect(code(new Uint8Array([...field(3, 3)]))).toBe("invalid_object"); // a group
    expect(code(new Uint8Array(varintField(1, 8)))).toBe("invalid_object"); // no graph
    const external = [...varintField(1, 4), ...varintField(2, ONNX_FLOAT), ...stringField(8, "w"), ...varintField(14, 1)];
    expect(code(model(bytesField(5, external)))).toBe("invalid_object");
    const short = [...varintField(1, 4), ...varintField(2, ONNX_FLOAT), ...bytesField(9, new Uint8Array(12)), ...stringField(8, "w")];
    expect(code(model(bytesField(5, short)))).toBe("invalid_object");
    expect(code(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe("invalid_object"); // an 11-byte varint
  });
});
