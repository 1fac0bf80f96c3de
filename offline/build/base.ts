// The base of `i3 build --base` and `i3 compact`: an existing build directory (a fresh build, an update, a pulled
// version), with what encoding more documents the same way needs: its build-info.json and a check that the model
// given is the one it was built with.
import { ANALYZER } from "../../src/text/analyzer.ts";
import { UsageError } from "../command.ts";
import type { BuildDir } from "./build-dir.ts";
import { readBuildInfo, type BuildInfo } from "./build-info.ts";
import { loadModel, sharesQuery } from "./model.ts";

/** A base and how it was built: its build-info, and which of the model's passage models encoded it. */
export interface Base {
  build: BuildDir;
  info: BuildInfo;
  /** "int8": the model's `cpuPassage` (`i3 build --passage int8`); "fp32" its reference passage model. */
  passage: "fp32" | "int8";
}

/**
 * Opens the base's build-info and checks that `modelDir` encodes as the base was encoded: the same passage model
 * (either of the model's two: the base's variant is kept), query model and vocab. A pulled base (`i3 pull`) does not
 * know its passage model's hash: its query model and vocab are checked. UsageError (exit 2) otherwise, and for a
 * slice or a base without an id index or with an analyzer this i3 does not have.
 */
export async function openBase(build: BuildDir, modelDir: string, what: string): Promise<Base> {
  const m = build.manifest;
  const info = await readBuildInfo(build.dir, `${what} needs the base's build parameters`);
  if (info.slice) throw new UsageError(`${build.dir} is slice ${info.slice.k}/${info.slice.n} of a build: ${what} the merged index (i3 merge)`);
  if (!m.docs.ids) throw new UsageError(`${build.dir} has no id index (built before manifest 2.1): rebuild it`);
  if (m.lexical && (m.lexical.analyzer.name !== ANALYZER.name || m.lexical.analyzer.version !== ANALYZER.version)) {
    throw new UsageError(`${build.dir} was analyzed with ${m.lexical.analyzer.name} ${m.lexical.analyzer.version}, this i3 with ${ANALYZER.name} ${ANALYZER.version}: rebuild it`);
  }
  const model = await loadModel(modelDir);
  const want = info.fingerprint.model;
  const int8 = model.sidecar.cpuPassage && want.passage !== "" && want.passage !== model.hashes.passage
    ? (await loadModel(modelDir, { cpuPassage: true })).hashes.passage === want.passage
    : false;
  const passageDiffers = want.passage !== "" && !int8 && model.hashes.passage !== want.passage;
  if (passageDiffers || !sharesQuery(model, m.model.query.sha256) || model.hashes.vocab !== m.model.vocab.sha256) {
    throw new UsageError(`--model ${modelDir} is not the model ${build.dir} was built with (${want.name}): ${what} must encode with the same model`);
  }
  return { build, info, passage: int8 ? "int8" : "fp32" };
}
