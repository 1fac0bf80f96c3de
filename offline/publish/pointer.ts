import { parsePointer, serializePointer, type Pointer } from "../../src/format/pointer.ts";
import { pointerKey } from "../../src/format/r2-keys.ts";
import { PublishError, isPublishError, type PublishTarget } from "./target.ts";

/** The pointer as read, with the etag a conditional write must match. `pointer` is null when it does not parse. */
export interface PointerState {
  key: string;
  etag: string;
  pointer: Pointer | null;
  /** Why `pointer` is null (the object exists but is not a valid pointer). */
  invalid?: string;
}

/**
 * Reads `tenants/<tenant>/indexes/<index>/current`; null when the index was never published.
 *
 * @example
 * const state = await readPointer(target, "demo", "scifact"); // state?.pointer?.version
 */
export async function readPointer(target: PublishTarget, tenant: string, index: string): Promise<PointerState | null> {
  const key = pointerKey(tenant, index);
  const got = await target.get(key);
  if (!got) return null;
  try {
    const pointer = parsePointer(JSON.parse(new TextDecoder().decode(got.bytes)), { tenant, index });
    return { key, etag: got.etag, pointer };
  } catch (e) {
    return { key, etag: got.etag, pointer: null, invalid: (e as Error).message };
  }
}

/**
 * Writes the pointer only if it is still what `expected` says (its etag, or absent when `expected` is null).
 * A lost race is `PublishError("conflict")`. A precondition failure whose current pointer is byte-for-byte ours
 * (a retried PUT whose first answer was lost) counts as success.
 */
export async function writePointer(
  target: PublishTarget,
  tenant: string,
  index: string,
  next: Pointer,
  expected: PointerState | null,
): Promise<void> {
  const key = pointerKey(tenant, index);
  const bytes = new TextEncoder().encode(serializePointer(next));
  try {
    await target.put(key, bytes, {
      contentType: "application/json",
      ...(expected ? { ifMatch: expected.etag } : { ifNoneMatch: "*" as const }),
    });
  } catch (e) {
    if (!isPublishError(e, "precondition_failed")) throw e;
    const now = await target.get(key);
    if (now && equalBytes(now.bytes, bytes)) return;
    const was = expected ? `version ${expected.pointer?.version ?? "(invalid pointer)"}` : "no pointer";
    let is = "no pointer";
    if (now) {
      try {
        is = `version ${parsePointer(JSON.parse(new TextDecoder().decode(now.bytes))).version}`;
      } catch {
        is = "an invalid pointer";
      }
    }
    throw new PublishError(
      "conflict",
      `${key} changed while this command ran (it read ${was}, it is now ${is}): another publish or rollback won the race. ` +
        `Nothing was overwritten; the objects and manifest of version ${next.version} are in place, so rerunning is cheap.`,
      { cause: e },
    );
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
