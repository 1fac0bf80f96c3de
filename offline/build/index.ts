// Offline build: corpus -> index directory (`i3 build`), and joining builds (`i3 merge`).
export { buildIndex, type BuildOptions, type BuildSummary } from "./build.ts";
export { mergeIndexes, type MergeOptions, type MergeSummary } from "./merge.ts";
export { runBuildCommand, runMergeCommand, BUILD_USAGE, MERGE_USAGE } from "./command.ts";
export { BuildError, isBuildError, type BuildErrorCode } from "./errors.ts";
export { readCorpus, parseDocLine, validateCorpus, resolveCorpusPath } from "./corpus.ts";
export { splitPassages, passageCount, passageText } from "../../src/text/passages.ts";
export { parseSlice, sliceRange, type Slice } from "./slice.ts";
export { openBuildDir, readManifest, writeManifest, parseManifestBytes, MANIFEST_FILE, type BuildDir } from "./build-dir.ts";
export { createObjectStore, type ObjectStore } from "./object-store.ts";
export { verifyBuild } from "./verify.ts";
export { loadModel, type ModelSidecar } from "./model.ts";
