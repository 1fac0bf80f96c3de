// `i3 pull`: argv -> options -> download a published version; return the exit code (0 done, 1 failed: not found,
// a bad object, storage; 2 bad usage or configuration).
import { validateVersion } from "../../src/format/r2-keys.ts";
import { parseFlags, required, UsageError } from "../command.ts";
import { pullIndex } from "./pull.ts";
import { nameFlag, openTarget, runStorageCommand, storageIO, TARGET_FLAGS, targetUsage, withTarget, type StorageIO, type TargetKind } from "./target-flags.ts";

const KINDS: readonly TargetKind[] = ["local", "s3"];

export const PULL_USAGE = `usage: i3 pull --tenant <t> --index <i> --out <dir> [--version <version>] [options]

Downloads a published version (default: the current one) into a build directory: its manifest, every object
(checked against its sha256) and a build-info.json made from the manifest. Then \`i3 build --base <dir> --upsert
... --delete ...\` updates it incrementally and \`i3 publish\` uploads only the new objects (what CI does).

options:
${targetUsage(KINDS, "local")}
  --force               replace <dir> if it exists
  --verbose             stack traces on errors`;

const FLAGS = {
  ...TARGET_FLAGS,
  tenant: { type: "string" }, index: { type: "string" }, out: { type: "string" }, version: { type: "string" },
  force: { type: "boolean" }, verbose: { type: "boolean" }, help: { type: "boolean", short: "h" },
} as const;

/** `i3 pull ...` (argv: the words after "pull"). */
export async function runPullCommand(argv: string[], io: Partial<StorageIO> = {}): Promise<number> {
  const sio = storageIO(io);
  return runStorageCommand("pull", PULL_USAGE, argv, sio, async () => {
    const { values: v, positionals } = parseFlags(argv, FLAGS);
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const tenant = nameFlag("tenant", v.tenant);
    const index = nameFlag("index", v.index);
    const out = required("out", v.out);
    if (v.version) validateVersion(v.version);
    await withTarget(openTarget(v, sio, KINDS, "local"), (target) =>
      pullIndex({ target, tenant, index, out, version: v.version, force: !!v.force, log: (l) => sio.out(l) }));
  });
}
