// Progress on stderr: passages done, passages/s and ETA; rewritten in place on a TTY, a plain line every few
// seconds otherwise.

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

export interface Progress {
  /** `encoded` passages done, `read` passages made from the `docs` documents read so far (read >= encoded). */
  update(encoded: number, read: number, docs: number): void;
  /** Clears the in-place line. */
  end(): void;
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  s = Math.round(s);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}h${String(m).padStart(2, "0")}m` : m ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
}

/**
 * @param totalDocs documents this build will read (for the ETA: remaining docs x passages per doc so far)
 * @param startPassages passages already done before this run (a resume), not counted in the rate
 */
export function createProgress(opts: {
  stream: ProgressStream;
  totalDocs: number;
  startPassages?: number;
  everyMs?: number;
}): Progress {
  const tty = !!opts.stream.isTTY;
  const every = opts.everyMs ?? (tty ? 250 : 5000);
  const t0 = performance.now();
  const p0 = opts.startPassages ?? 0;
  let last = t0;
  let shown = false;
  return {
    update(passages, read, docs) {
      const now = performance.now();
      if (now - last < every) return;
      last = now;
      const secs = (now - t0) / 1000;
      const rate = (passages - p0) / secs;
      const perDoc = docs > 0 ? read / docs : 1;
      const remaining = Math.max(0, (opts.totalDocs - docs) * perDoc + read - passages);
      const pct = opts.totalDocs ? ((100 * docs) / opts.totalDocs).toFixed(1) : "100";
      const line = `build: ${passages} passages, ${docs}/${opts.totalDocs} docs (${pct}%), ${rate.toFixed(0)} passages/s, ETA ${formatDuration(remaining / rate)}`;
      if (tty) {
        opts.stream.write(`\r\x1b[K${line}`);
        shown = true;
      } else opts.stream.write(line + "\n");
    },
    end() {
      if (shown) opts.stream.write("\r\x1b[K");
    },
  };
}
