// The parts of an ONNX model (protobuf ModelProto) the query model engine reads: the graph's nodes (op type,
// domain, inputs, outputs) and its initializers (name, dims, data type, bytes). Attributes, value infos and
// metadata are skipped. Written by onnx / torch.onnx (offline/train/export*.py); this module only reads.
//
// Protobuf fields read (onnx.proto3):
//   ModelProto  7 graph
//   GraphProto  1 node (repeated), 5 initializer (repeated)
//   NodeProto   1 input, 2 output (repeated string), 4 op_type, 5 attribute (repeated), 7 domain
//   AttributeProto 1 name, 2 f (float), 3 i (int64)
//   TensorProto 1 dims (repeated int64, packed or not), 2 data_type, 4 float_data, 5 int32_data, 7 int64_data (packed),
//               8 name, 9 raw_data, 14 data_location (1 = external: refused)
import { FormatError } from "./errors.ts";

const WHAT = "ONNX model";
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** ONNX TensorProto.DataType values this reader gives bytes for. */
export const ONNX_FLOAT = 1;
export const ONNX_UINT8 = 2;
export const ONNX_INT8 = 3;
export const ONNX_INT32 = 6;
export const ONNX_INT64 = 7;

const ELEMENT_BYTES: Record<number, number> = { [ONNX_FLOAT]: 4, [ONNX_UINT8]: 1, [ONNX_INT8]: 1, [ONNX_INT32]: 4, [ONNX_INT64]: 8 };

export interface OnnxNode {
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  /** The node's float and int attributes by name (others, e.g. lists and tensors, are left out). */
  attributes: Record<string, number>;
}

/** An initializer: its little-endian element bytes (a view into the model's bytes where stored raw). */
export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  bytes: Uint8Array;
}

export interface OnnxGraph {
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
}

/** A protobuf reader over one message's bytes. */
class Reader {
  pos: number;
  constructor(readonly bytes: Uint8Array, start: number, readonly end: number) {
    this.pos = start;
  }

  /** A varint as a signed 64-bit value (negative numbers take ten bytes); refused past 2^53 in magnitude. */
  varint(): number {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) throw truncated();
      const b = this.bytes[this.pos++];
      value += (b & 0x7f) * mul;
      if (b < 0x80) return value;
      mul *= 128;
    }
    // past 49 bits: the rest exactly, in BigInt
    let big = BigInt(value);
    let shift = 49n;
    for (let i = 7; i < 10; i++) {
      if (this.pos >= this.end) throw truncated();
      const b = this.bytes[this.pos++];
      big |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        const signed = BigInt.asIntN(64, big);
        if (signed > BigInt(Number.MAX_SAFE_INTEGER) || signed < -BigInt(Number.MAX_SAFE_INTEGER)) throw bad("a varint past 2^53");
        return Number(signed);
      }
      shift += 7n;
    }
    throw bad("a varint longer than 10 bytes");
  }

  /** The field number and wire type of the next key. */
  key(): [field: number, wire: number] {
    const k = this.varint();
    return [Math.floor(k / 8), k % 8];
  }

  /** The bounds of a length-delimited field's bytes (and moves past them). */
  span(): [start: number, end: number] {
    const n = this.varint();
    const start = this.pos;
    if (n > this.end - start) throw truncated();
    this.pos = start + n;
    return [start, start + n];
  }

  string(): string {
    const [s, e] = this.span();
    try {
      return UTF8.decode(this.bytes.subarray(s, e));
    } catch {
      throw bad("a string that is not UTF-8");
    }
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.advance(8);
    else if (wire === 2) this.span();
    else if (wire === 5) this.advance(4);
    else throw bad(`wire type ${wire} (groups are not used by ONNX)`);
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw truncated();
    this.pos += n;
  }
}

function bad(what: string): FormatError {
  return new FormatError("invalid_object", `${WHAT}: ${what}`);
}

function truncated(): FormatError {
  return new FormatError("truncated", `${WHAT}: a field runs past the end of its message`);
}

/** Repeated varints (dims, int32_data, int64_data): packed (wire 2) or one per key (wire 0). */
function readVarints(r: Reader, wire: number, into: number[]): void {
  if (wire === 0) {
    into.push(r.varint());
    return;
  }
  const [s, e] = r.span();
  const inner = new Reader(r.bytes, s, e);
  while (inner.pos < e) into.push(inner.varint());
}

function readNode(bytes: Uint8Array, start: number, end: number): OnnxNode {
  const r = new Reader(bytes, start, end);
  const node: OnnxNode = { opType: "", domain: "", inputs: [], outputs: [], attributes: {} };
  while (r.pos < end) {
    const [field, wire] = r.key();
    if (field === 1 && wire === 2) node.inputs.push(r.string());
    else if (field === 2 && wire === 2) node.outputs.push(r.string());
    else if (field === 4 && wire === 2) node.opType = r.string();
    else if (field === 5 && wire === 2) readAttribute(bytes, ...r.span(), node.attributes);
    else if (field === 7 && wire === 2) node.domain = r.string();
    else r.skip(wire);
  }
  return node;
}

/** An attribute's float (f) or int (i) value, under its name; attributes of other kinds are left out. */
function readAttribute(bytes: Uint8Array, start: number, end: number, into: Record<string, number>): void {
  const r = new Reader(bytes, start, end);
  let name = "";
  let value: number | undefined;
  while (r.pos < end) {
    const [field, wire] = r.key();
    if (field === 1 && wire === 2) name = r.string();
    else if (field === 2 && wire === 5) {
      if (end - r.pos < 4) throw truncated();
      value = new DataView(bytes.buffer, bytes.byteOffset + r.pos, 4).getFloat32(0, true);
      r.skip(5);
    } else if (field === 3 && wire === 0) value = r.varint();
    else r.skip(wire);
  }
  if (value !== undefined && name) into[name] = value;
}

function readTensor(bytes: Uint8Array, start: number, end: number): OnnxTensor {
  const r = new Reader(bytes, start, end);
  const dims: number[] = [];
  let name = "";
  let dataType = 0;
  let raw: Uint8Array | undefined;
  const floats: Uint8Array[] = []; // float_data: packed runs, or one fixed32 a key
  const ints: number[] = [];
  let external = false;
  while (r.pos < end) {
    const [field, wire] = r.key();
    if (field === 1) readVarints(r, wire, dims);
    else if (field === 2 && wire === 0) dataType = r.varint();
    else if (field === 4 && (wire === 2 || wire === 5)) {
      const [s, e] = wire === 2 ? r.span() : [r.pos, r.pos + 4];
      if (wire === 5) r.skip(5);
      floats.push(bytes.subarray(s, e));
    } else if ((field === 5 || field === 7) && (wire === 0 || wire === 2)) readVarints(r, wire, ints);
    else if (field === 8 && wire === 2) name = r.string();
    else if (field === 9 && wire === 2) {
      const [s, e] = r.span();
      raw = bytes.subarray(s, e);
    } else if (field === 14 && wire === 0) external = r.varint() === 1;
    else r.skip(wire);
  }
  if (external) throw bad(`initializer "${name}" keeps its data outside the model file`);
  if (dims.some((d) => d < 0)) throw bad(`initializer "${name}" has dims [${dims}]`);
  const size = ELEMENT_BYTES[dataType];
  const count = dims.reduce((a, d) => a * d, 1);
  let data: Uint8Array;
  if (raw) data = raw;
  else if (size === undefined) data = new Uint8Array(0); // a type no engine here reads: kept by name, without data
  else if (dataType === ONNX_FLOAT) data = floats.length === 1 ? floats[0] : concat(floats);
  else {
    // int32_data holds int8/uint8/int32 values one per varint, int64_data int64 ones (negative: ten-byte varints);
    // never more bytes than the values the model holds (dims alone allocate nothing)
    if (ints.length !== count) throw bad(`initializer "${name}" of dims [${dims}] holds ${ints.length} values`);
    data = new Uint8Array(count * size);
    const v = new DataView(data.buffer);
    for (let i = 0; i < count; i++) {
      const x = ints[i];
      if (size === 1) data[i] = x & 0xff;
      else if (size === 4) v.setInt32(4 * i, x, true);
      else v.setBigInt64(8 * i, BigInt(x), true);
    }
  }
  if (size !== undefined && data.byteLength !== count * size) {
    throw bad(`initializer "${name}" of dims [${dims}] holds ${data.byteLength} bytes, expected ${count * size}`);
  }
  return { name, dims, dataType, bytes: data };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The nodes and initializers of an ONNX model's graph. Throws FormatError ("truncated", "invalid_object") on bytes
 * that are not a model protobuf or keep their weights in external files.
 *
 * @example
 * const { nodes, initializers } = readOnnx(modelBytes);
 * const w = initializers.get("enc.tanh_layer.weight_quantized"); // dims [512, 512], dataType ONNX_INT8
 */
export function readOnnx(bytes: Uint8Array): OnnxGraph {
  const r = new Reader(bytes, 0, bytes.byteLength);
  let graph: [number, number] | undefined;
  while (r.pos < bytes.byteLength) {
    const [field, wire] = r.key();
    if (field === 7 && wire === 2) graph = r.span();
    else r.skip(wire);
  }
  if (!graph) throw bad("no graph");
  const g = new Reader(bytes, graph[0], graph[1]);
  const nodes: OnnxNode[] = [];
  const initializers = new Map<string, OnnxTensor>();
  while (g.pos < graph[1]) {
    const [field, wire] = g.key();
    if (field === 1 && wire === 2) nodes.push(readNode(bytes, ...g.span()));
    else if (field === 5 && wire === 2) {
      const t = readTensor(bytes, ...g.span());
      initializers.set(t.name, t);
    } else g.skip(wire);
  }
  return { nodes, initializers };
}
