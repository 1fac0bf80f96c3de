import { parseArgs } from "node:util";
import { GC_GRACE_MS, gcIndex } from "./gc.ts";
import { openTarget, TARGET_OPTIONS, TARGET_USAGE } from "./target-flags.ts";
import { PublishError, type PublishTarget } from "./target.ts";
import { listVersions, rollback } from "./versions.ts";

export const VERSIONS_USAGE = `usage: i3 versions --tenant <t> --index <i> [--json]
       i3 rollback --tenant <t> --index <i> --to-version <version>
       i3 gc       --tenant <t> --index <i> --keep <n> [--grace-minutes <m>] [--yes]

versions   the published versions, newest first; * marks the current one
rollback   moves the pointer to a published version (conditional write: a concurrent publish wins, exit 1)
gc         deletes manifests older than the <n> newest (never the current one) and the objects no kept
           version lists, except objects written less than --grace-minutes ago (default 60: they may belong
           to a publish still uploading); a dry run that prints the plan unless --yes

storage:
${TARGET_USAGE}`;

/** `i3 versions | rollback | gc`. Exit codes: 0 done, 1 failed (conflict, not found), 2 bad usage. */
export async function runVersionsCommand(
  cmd: "versions" | "rollback" | "gc",
  argv: string[],
  io: { out?: (l: string) => void; err?: (l: string) => void; env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<number> {
  const out = io.out ?? ((l: string) => console.log(l));
  const err = io.err ?? ((l: string) => console.error(l));
  const usage = (msg: string) => (err(`i3 ${cmd}: ${msg}\n\n${VERSIONS_USAGE}`), 2);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        ...TARGET_OPTIONS,
        tenant: { type: "string" },
        index: { type: "string" },
        "to-version": { type: "string" },
        keep: { type: "string" },
        "grace-minutes": { type: "string" },
        yes: { type: "boolean" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    return usage((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return (out(VERSIONS_USAGE), 0);
  if (!v.tenant || !v.index) return usage("needs --tenant and --index");
  if (cmd === "rollback" && !v["to-version"]) return usage("missing --to-version <version> (see i3 versions)");
  const keep = Number(v.keep);
  if (cmd === "gc" && !(Number.isInteger(keep) && keep >= 1)) return usage(`--keep must be an integer >= 1, got ${v.keep}`);
  const graceMinutes = v["grace-minutes"] === undefined ? GC_GRACE_MS / 60_000 : Number(v["grace-minutes"]);
  if (cmd === "gc" && !(graceMinutes >= 0)) return usage(`--grace-minutes must be a number >= 0, got ${v["grace-minutes"]}`);

  let target: PublishTarget;
  try {
    target = openTarget(v, io.env ?? process.env, io.cwd ?? process.cwd());
  } catch (e) {
    if (e instanceof PublishError) return (err(`i3 ${cmd}: ${e.message}`), 2);
    throw e;
  }
  const where = `${v.tenant}/${v.index} on ${target.describe}`;
  try {
    if (cmd === "versions") {
      const versions = await listVersions(target, v.tenant, v.index);
      if (v.json) out(JSON.stringify(versions));
      else {
        out(`${versions.length} versions of ${where}`);
        for (const x of versions) out(`${x.current ? "*" : " "} ${x.version}  created ${x.createdAt ?? "?"}${x.publishedAt ? `  current since ${x.publishedAt}` : ""}`);
      }
    } else if (cmd === "rollback") {
      const r = await rollback(target, v.tenant, v.index, v["to-version"]!);
      out(r.from === r.to ? `${where}: already at ${r.to}` : `${where}: pointer moved ${r.from ?? "(none)"} -> ${r.to}`);
    } else {
      const plan = await gcIndex(target, v.tenant, v.index, { keep, apply: v.yes, graceMs: graceMinutes * 60_000, log: (l) => out(`  ${l}`) });
      const young = plan.young.length > 0 ? `; ${plan.young.length} unreferenced objects younger than ${graceMinutes} min kept` : "";
      const what = `${plan.manifests.length} manifests and ${plan.objects.length} objects (${plan.bytes} bytes); keeping ${plan.kept.join(", ") || "nothing"}${young}`;
      if (v.yes) out(`${where}: deleted ${what}`);
      else {
        out(`${where}: would delete ${what}`);
        for (const k of [...plan.manifests, ...plan.objects]) out(`  ${k}`);
        out("dry run: nothing deleted; rerun with --yes to delete");
      }
    }
    return 0;
  } catch (e) {
    if (e instanceof PublishError) return (err(`i3 ${cmd}: ${e.code}: ${e.message}`), e.code === "config" ? 2 : 1);
    if (e instanceof Error && e.name === "FormatError") return usage(e.message);
    throw e;
  } finally {
    await target.close?.();
  }
}
