import type { Arena } from "./arena";
import { KernelError } from "./errors";
import type { Int8Block } from "./types";

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

/** Throws KernelError "out_of_bounds" unless every row is below `count`. */
export function checkRows(rows: Uint32Array, count: number): void {
  for (let j = 0; j < rows.length; j++) {
    if (rows[j] >= count) throw new KernelError("out_of_bounds", `kernels: row ${rows[j]} (at ${j}) is not below the block's ${count}`);
  }
}
