// `i3 defaults <build dir>`: shows or changes the search defaults an index carries (manifest.lexical: default
// mode and fusion) without re-encoding anything, e.g. to apply a fusion weight tuned on a tenant's own queries
// (offline/eval/tune-fusion.ts). Only manifest.json changes (validated, written atomically); the objects stay, and
// `i3 publish` then makes it a new version whose objects are all already present.
import type { Manifest } from "../../src/format/index.ts";
import { parseFlags, runCommand, STDIO, UsageError, type CommandIO } from "../command.ts";
import { readManifest, writeManifest } from "./build-dir.ts";
import { BuildError } from "./errors.ts";
import { parseSearchDefaults, SEARCH_DEFAULT_FLAGS, SEARCH_DEFAULT_USAGE, type SearchDefaults } from "./search-defaults.ts";

export const DEFAULTS_USAGE = `usage: i3 defaults <build dir> [options]

Prints the search defaults of a built index (JSON); with options, rewrites them in its manifest.json. Nothing is
re-encoded; publish the directory again for a new version.

options (in parentheses: what \`i3 build\` writes when the flag is not given):
${SEARCH_DEFAULT_USAGE}
  --verbose                stack traces on errors`;

/** The manifest with `d` applied to its lexical section (throws when it has none and `d` changes anything). */
export function applySearchDefaults(m: Manifest, d: SearchDefaults): Manifest {
  if (!m.lexical) throw new BuildError("invalid_build", "the index has no lexical section (built with --no-lexical): it has no hybrid defaults to set");
  const lexical = { ...m.lexical, fusion: { ...m.lexical.fusion, ...d.fusion }, defaultMode: d.defaultMode ?? m.lexical.defaultMode };
  // `fusion.normalization` is a 1.2 field: a 1.1 manifest that now states it becomes 1.2.
  const version = { major: m.version.major, minor: m.version.major === 1 ? Math.max(m.version.minor, 2) : m.version.minor };
  return { ...m, version, lexical };
}

const shown = (m: Manifest) => JSON.stringify(m.lexical ? { defaultMode: m.lexical.defaultMode, fusion: m.lexical.fusion } : { defaultMode: "dense" });

/**
 * `i3 defaults ...` (argv: the words after "defaults").
 *
 * @example
 * process.exitCode = await runDefaultsCommand(["out/scifact", "--fusion-weight", "0.6"]);
 */
export async function runDefaultsCommand(argv: string[], io: CommandIO = STDIO): Promise<number> {
  return runCommand("defaults", DEFAULTS_USAGE, argv, io, async () => {
    const { values: v, positionals } = parseFlags(argv, { ...SEARCH_DEFAULT_FLAGS, verbose: { type: "boolean" }, help: { type: "boolean", short: "h" } });
    if (positionals.length !== 1) throw new UsageError(positionals.length ? `one build directory, got ${positionals.length}` : "missing <build dir>");
    const dir = positionals[0];
    const d = parseSearchDefaults(v);
    const { manifest: m } = await readManifest(dir);
    if (Object.keys(d.fusion).length === 0 && d.defaultMode === undefined) return io.out(shown(m));
    const next = applySearchDefaults(m, d);
    await writeManifest(dir, next);
    io.err(`i3 defaults: ${dir}: ${shown(m)} -> ${shown(next)}; publish it for a new version`);
    io.out(shown(next));
  });
}
