// `i3 versions | rollback | gc`: argv -> options -> run against the target; return the exit code (0 done, 1 failed:
// conflict, not found; 2 bad usage or configuration).
import { validateVersion } from "../../src/format/r2-keys.ts";
import { intFlag, numberFlag, parseFlags, required, UsageError } from "../command.ts";
import { GC_GRACE_MS, gcIndex } from "./gc.ts";
import { nameFlag, openTarget, runStorageCommand, storageIO, TARGET_FLAGS, targetUsage, withTarget, type StorageIO, type TargetKind } from "./target-flags.ts";
import type { PublishTarget } from "./target.ts";
import { listVersions, rollback } from "./versions.ts";

const KINDS: readonly TargetKind[] = ["local", "s3"];

export const VERSIONS_USAGE = `usage: i3 versions --tenant <t> --index <i> [--json]
       i3 rollback --tenant <t> --index <i> --to-version <version>
       i3 gc       --tenant <t> --index <i> --keep <n> [--grace-minutes <m>] [--yes]

versions   the published versions, newest first; * marks the current one
rollback   moves the pointer to a published version (conditional write: a concurrent publish wins, exit 1)
gc         deletes manifests older than the <n> newest (never the current one) and the objects no kept
           version lists, except objects written less than --grace-minutes ago (default 60: they may belong
           to a publish still uploading); a dry run that prints the plan unless --yes

storage:
${targetUsage(KINDS, "local")}
  --verbose             stack traces on errors`;

const FLAGS = {
  ...TARGET_FLAGS,
  tenant: { type: "string" }, index: { type: "string" }, "to-version": { type: "string" },
  keep: { type: "string" }, "grace-minutes": { type: "string" }, yes: { type: "boolean" }, json: { type: "boolean" },
  verbose: { type: "boolean" }, help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parseFlags<typeof FLAGS>>["values"];

/** Where a command acts: the tenant and index, and how they are named in what it prints. */
interface Scope {
  tenant: string;
  index: string;
  where: string;
}

/** `i3 versions | rollback | gc`. Exit codes: 0 done, 1 failed (conflict, not found), 2 bad usage. */
export async function runVersionsCommand(cmd: "versions" | "rollback" | "gc", argv: string[], io: Partial<StorageIO> = {}): Promise<number> {
  const sio = storageIO(io);
  return runStorageCommand(cmd, VERSIONS_USAGE, argv, sio, async () => {
    const { values: v, positionals } = parseFlags(argv, FLAGS);
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const tenant = nameFlag("tenant", v.tenant);
    const index = nameFlag("index", v.index);
    const run = cmd === "versions" ? versions(v, sio) : cmd === "rollback" ? rollbackTo(v, sio) : gc(v, sio);
    await withTarget(openTarget(v, sio, KINDS, "local"), (target) => run(target, { tenant, index, where: `${tenant}/${index} on ${target.describe}` }));
  });
}

function versions(v: Values, io: StorageIO) {
  return async (target: PublishTarget, s: Scope) => {
    const list = await listVersions(target, s.tenant, s.index);
    if (v.json) return io.out(JSON.stringify(list));
    io.out(`${list.length} versions of ${s.where}`);
    for (const x of list) io.out(`${x.current ? "*" : " "} ${x.version}  created ${x.createdAt ?? "?"}${x.publishedAt ? `  current since ${x.publishedAt}` : ""}`);
  };
}

function rollbackTo(v: Values, io: StorageIO) {
  const to = required("to-version", v["to-version"]);
  validateVersion(to);
  return async (target: PublishTarget, s: Scope) => {
    const r = await rollback(target, s.tenant, s.index, to);
    io.out(r.from === r.to ? `${s.where}: already at ${r.to}` : `${s.where}: pointer moved ${r.from ?? "(none)"} -> ${r.to}`);
  };
}

function gc(v: Values, io: StorageIO) {
  const keep = required("keep", intFlag("keep", v.keep));
  const graceMinutes = numberFlag("grace-minutes", v["grace-minutes"], 0) ?? GC_GRACE_MS / 60_000;
  return async (target: PublishTarget, s: Scope) => {
    const plan = await gcIndex(target, s.tenant, s.index, { keep, apply: v.yes, graceMs: graceMinutes * 60_000, log: (l) => io.out(`  ${l}`) });
    const young = plan.young.length > 0 ? `; ${plan.young.length} unreferenced objects younger than ${graceMinutes} min kept` : "";
    const what = `${plan.manifests.length} manifests and ${plan.objects.length} objects (${plan.bytes} bytes); keeping ${plan.kept.join(", ") || "nothing"}${young}`;
    if (v.yes) return io.out(`${s.where}: deleted ${what}`);
    io.out(`${s.where}: would delete ${what}`);
    for (const k of [...plan.manifests, ...plan.objects]) io.out(`  ${k}`);
    io.out("dry run: nothing deleted; rerun with --yes to delete");
  };
}
