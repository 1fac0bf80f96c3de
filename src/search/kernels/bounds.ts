import type { Arena } from "./arena";
import { KernelError } from "./errors";
import { INT4_GROUP, int4Dims } from "./int4";
import type { Int4Block, Int8Block } from "./types";

/** Throws KernelError "out_of_bounds" unless [offset, offset + bytes) lies in the arena's memory at `align`. */
export function checkRange(arena: Arena, what: string, offset: number, bytes: number, align: number): void {
  const size = arena.memory.buffer.byteLength;
  if (!(Number.isInteger(offset) && offset >= 0 && offset % align === 0 && offset + bytes <= size)) {
    throw new KernelError("out_of_bounds", `kernels: ${what} [${offset}, +${bytes}) is not ${align}-aligned within memory (${size} bytes)`);
  }
}

/** Throws KernelError "out_of_bounds" unless the block's vectors and scales lie in memory. */
export function checkInt8Block(arena: Arena, block: Int8Block, dims: number): void {
  checkRange(arena, "vectors", block.vectors, block.count * dims, 1);
  checkRange(arena, "scales", block.scales, block.count * 4, 4);
}

/** Throws KernelError "out_of_bounds" unless the block's int4 rows and scales lie in memory (or "bad_size" for dims not a multiple of 32). */
export function checkInt4Block(arena: Arena, block: Int4Block, dims: number): void {
  if (!int4Dims(dims)) throw new KernelError("bad_size", `kernels: int4 rows need dims a multiple of ${INT4_GROUP}, got ${dims}`);
  checkRange(arena, "packed", block.packed, block.count * (dims >>> 1), 1);
  checkRange(arena, "scales", block.scales, block.count * 4, 4);
}

/** Throws KernelError "out_of_bounds" unless every row is below `count`. */
export function checkRows(rows: Uint32Array, count: number): void {
  for (let j = 0; j < rows.length; j++) {
    if (rows[j] >= count) throw new KernelError("out_of_bounds", `kernels: row ${rows[j]} (at ${j}) is not below the block's ${count}`);
  }
}
