/**
 * The scorers the peer benchmark compares. Adding one: write a factory returning a Peer (one small file here) and
 * list it in PEERS. Factories import their library lazily, so a run loads only the peers it runs.
 */

export interface Peer {
  /** Its key in PEERS, as given to --peers. */
  name: string;
  /** What it is and with which parameters, for the table. */
  label: string;
  /** The npm package whose installed version the table reports (none for this project's own code). */
  package?: string;
  /**
   * Indexes rows 0..n-1 of `vectors` (unit-length float32, row-major, `dims` wide; row i gets id i). The caller owns
   * `vectors`: copy what you keep, so the memory measured around build is what this peer holds.
   */
  build(vectors: Float32Array, n: number, dims: number): void | Promise<void>;
  /** Ids of the `k` best rows for `query` by inner product (cosine), best first. Called one query at a time. */
  search(query: Float32Array, k: number): ArrayLike<number> | Promise<ArrayLike<number>>;
}

export const PEERS: Record<string, () => Promise<Peer>> = {
  float32: async () => (await import("./float32.ts")).float32Peer(),
  i3: async () => (await import("./i3.ts")).i3Peer("i3", 1000),
  "i3-exact": async () => (await import("./i3.ts")).i3Peer("i3-exact", 0),
  "i3-ivf": async () => (await import("./i3-ivf.ts")).i3IvfPeer(),
  "i3-ivf-file": async () => (await import("./i3-ivf.ts")).i3IvfPeer("file"),
  // planned for recall@10 0.999 instead of the build's 0.98, to stand beside an HNSW graph at its recall
  "i3-ivf-0.999": async () => (await import("./i3-ivf.ts")).i3IvfPeer("memory", 0.999),
  "i3-ivf-file-0.999": async () => (await import("./i3-ivf.ts")).i3IvfPeer("file", 0.999),
  orama: async () => (await import("./orama.ts")).oramaPeer(),
  edgevec: async () => (await import("./edgevec.ts")).edgevecPeer(),
  hnswlib: async () => (await import("./hnswlib.ts")).hnswlibPeer(),
  // the same graph searched with a smaller beam: HNSW at the recall the partitioned index reaches, to compare at equal recall
  "hnswlib-ef16": async () => (await import("./hnswlib.ts")).hnswlibPeer(16),
  "hnswlib-ef24": async () => (await import("./hnswlib.ts")).hnswlibPeer(24),
  "hnswlib-ef32": async () => (await import("./hnswlib.ts")).hnswlibPeer(32),
  voy: async () => (await import("./voy.ts")).voyPeer(),
  usearch: async () => (await import("./usearch.ts")).usearchPeer(),
};

/** HNSW parameters shared by every graph peer, so their numbers compare. */
export const HNSW = { m: 16, efConstruction: 200, efSearch: 64 } as const;
