import { KernelError } from "./errors";

const PAGE = 65536;
const ALIGN = 16;
/** Bytes never handed out at each end: offset 0 stays invalid, and kernels may read up to 15 bytes past a block. */
const GUARD = 16;

/**
 * A first-fit allocator over a `WebAssembly.Memory`, so decoded index data lives where the kernels read it.
 * Offsets are 16-byte aligned and stay valid for the life of the allocation; the memory grows on demand up to
 * `maxBytes`. Growing detaches every earlier view of the memory, so views are made per use from an offset
 * (`int8At`, `f32At`, `u8At`) and never kept across an `alloc`.
 *
 * @example
 * const arena = createArena({ maxBytes: 64 << 20 });
 * const at = arena.alloc(vectors.byteLength);
 * arena.int8At(at, vectors.length).set(vectors);
 */
export interface Arena {
  readonly memory: WebAssembly.Memory;
  /** Offset of `bytes` fresh bytes (contents unspecified); throws KernelError "arena_full" at the cap. */
  alloc(bytes: number): number;
  /** As alloc, but -1 at the cap (for callers that evict and retry). */
  tryAlloc(bytes: number): number;
  /** Returns an allocation; throws KernelError "bad_free" for an offset that is not a live allocation. */
  free(offset: number): void;
  /** Bytes reserved for a live allocation (its request rounded up to 16). */
  sizeOf(offset: number): number;
  int8At(offset: number, length: number): Int8Array;
  u8At(offset: number, length: number): Uint8Array;
  i16At(offset: number, length: number): Int16Array;
  u32At(offset: number, length: number): Uint32Array;
  f32At(offset: number, length: number): Float32Array;
  stats(): ArenaStats;
}

export interface ArenaStats {
  /** Bytes of the memory now. */
  memoryBytes: number;
  /** The most the memory may grow to. */
  maxBytes: number;
  /** Bytes held by live allocations. */
  usedBytes: number;
  allocations: number;
  /** Free blocks and the largest of them (fragmentation). */
  freeBlocks: number;
  largestFree: number;
}

export interface ArenaOptions {
  /** Cap on the memory, in bytes (rounded down to 64 KiB pages, at most 4 GiB). */
  maxBytes: number;
  /** Memory to start with (default one page). */
  initialBytes?: number;
}

interface Block {
  offset: number;
  size: number;
}

/** An arena over a new memory of at most `opts.maxBytes`. */
export function createArena(opts: ArenaOptions): Arena {
  const maxPages = Math.min(Math.floor(opts.maxBytes / PAGE), 65536);
  if (!(maxPages >= 1)) throw new KernelError("bad_size", `arena: maxBytes must be at least ${PAGE}, got ${opts.maxBytes}`);
  const initialPages = Math.min(Math.max(1, Math.ceil((opts.initialBytes ?? PAGE) / PAGE)), maxPages);
  const memory = new WebAssembly.Memory({ initial: initialPages, maximum: maxPages });
  const free: Block[] = [{ offset: GUARD, size: memory.buffer.byteLength - 2 * GUARD }];
  const live = new Map<number, number>();
  let used = 0;

  const tryAlloc = (bytes: number): number => {
    const size = roundSize(bytes);
    let i = free.findIndex((b) => b.size >= size);
    if (i < 0) i = grow(memory, free, size, maxPages);
    if (i < 0) return -1;
    const block = free[i];
    const offset = block.offset;
    if (block.size === size) free.splice(i, 1);
    else free[i] = { offset: offset + size, size: block.size - size };
    live.set(offset, size);
    used += size;
    return offset;
  };

  const view = <T>(make: (buf: ArrayBuffer, offset: number, length: number) => T, width: number) =>
    (offset: number, length: number): T => {
      if (!(offset >= 0 && length >= 0 && offset + length * width <= memory.buffer.byteLength)) {
        throw new KernelError("out_of_bounds", `arena: view of ${length} x ${width} bytes at ${offset} is outside memory (${memory.buffer.byteLength} bytes)`);
      }
      return make(memory.buffer, offset, length);
    };

  return {
    memory,
    tryAlloc,
    alloc(bytes) {
      const offset = tryAlloc(bytes);
      if (offset < 0) {
        throw new KernelError("arena_full", `arena: no room for ${bytes} bytes under the cap of ${maxPages * PAGE} (${used} in use)`);
      }
      return offset;
    },
    free(offset) {
      const size = live.get(offset);
      if (size === undefined) throw new KernelError("bad_free", `arena: ${offset} is not a live allocation`);
      live.delete(offset);
      used -= size;
      release(free, { offset, size });
    },
    sizeOf(offset) {
      const size = live.get(offset);
      if (size === undefined) throw new KernelError("bad_free", `arena: ${offset} is not a live allocation`);
      return size;
    },
    int8At: view((b, o, n) => new Int8Array(b, o, n), 1),
    u8At: view((b, o, n) => new Uint8Array(b, o, n), 1),
    i16At: view((b, o, n) => new Int16Array(b, o, n), 2),
    u32At: view((b, o, n) => new Uint32Array(b, o, n), 4),
    f32At: view((b, o, n) => new Float32Array(b, o, n), 4),
    stats: () => ({
      memoryBytes: memory.buffer.byteLength,
      maxBytes: maxPages * PAGE,
      usedBytes: used,
      allocations: live.size,
      freeBlocks: free.length,
      largestFree: free.reduce((m, b) => Math.max(m, b.size), 0),
    }),
  };
}

function roundSize(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new KernelError("bad_size", `arena: size must be a non-negative integer, got ${bytes}`);
  return Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
}

/** Grows the memory so that a free block of `size` ends at its top; the block's index, or -1 past the cap. */
function grow(memory: WebAssembly.Memory, free: Block[], size: number, maxPages: number): number {
  const top = memory.buffer.byteLength - GUARD;
  const last = free[free.length - 1];
  const tail = last && last.offset + last.size === top ? last.size : 0;
  const pages = Math.ceil((size - tail) / PAGE);
  if (memory.buffer.byteLength / PAGE + pages > maxPages) return -1;
  try {
    memory.grow(pages);
  } catch {
    return -1; // the engine could not reserve the pages
  }
  release(free, { offset: top, size: pages * PAGE });
  return free.length - 1;
}

/** Puts a block back in the offset-ordered free list, merged with the free neighbours it touches. */
function release(free: Block[], block: Block): void {
  let lo = 0, hi = free.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (free[mid].offset < block.offset) lo = mid + 1;
    else hi = mid;
  }
  const prev = free[lo - 1];
  const next = free[lo];
  if (prev && prev.offset + prev.size === block.offset) {
    prev.size += block.size;
    if (next && prev.offset + prev.size === next.offset) {
      prev.size += next.size;
      free.splice(lo, 1);
    }
  } else if (next && block.offset + block.size === next.offset) {
    free[lo] = { offset: block.offset, size: block.size + next.size };
  } else {
    free.splice(lo, 0, block);
  }
}
