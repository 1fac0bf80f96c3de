// Import direction of the repo (`npm run lint:imports`, run by .ci/run): src/ (the worker and its runtime-neutral
// core) imports nothing from offline/ or scripts/; offline/ (the i3 command) imports nothing from scripts/; scripts/
// (benchmarks, fixture generators) may import src/ and offline/, and nothing imports scripts/; test/ imports
// nothing from scripts/. The core (src/format, src/text, src/search, src/errors.ts) does no I/O: no Node built-ins,
// nothing of the worker.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "src-not-to-offline-or-scripts",
      comment: "src/ is the worker and the core it shares: it must not depend on the offline command or on scripts.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(offline|scripts)/" },
    },
    {
      name: "offline-not-to-scripts",
      comment: "offline/ is the i3 command: it must not depend on scripts (benchmarks and fixture generators).",
      severity: "error",
      from: { path: "^offline/" },
      to: { path: "^scripts/" },
    },
    {
      name: "nothing-imports-scripts",
      comment: "scripts/ are entry points only: nothing outside scripts/ imports them.",
      severity: "error",
      from: { pathNot: "^scripts/" },
      to: { path: "^scripts/" },
    },
    {
      name: "test-not-to-scripts",
      comment: "Tests test the product (src/, offline/), not the scripts' internals.",
      severity: "error",
      from: { path: "^test/" },
      to: { path: "^scripts/" },
    },
    {
      name: "core-not-to-worker",
      comment: "The runtime-neutral core (format, text, search, errors) is shared with the offline side: no worker code.",
      severity: "error",
      from: { path: "^src/(format|text|search)/|^src/errors\\.ts$" },
      to: { path: "^src/worker/|^src/index\\.ts$" },
    },
    {
      name: "core-no-node-builtins",
      comment: "The core does no I/O and runs in workerd and Node alike: no Node built-in modules.",
      severity: "error",
      from: { path: "^src/(format|text|search)/|^src/errors\\.ts$" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "not-to-unresolvable",
      comment: "An import that resolves to nothing is a typo or a missing dependency.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true, pathNot: "^cloudflare:" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|offline/train|test/\\.cache)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json", ".d.ts"],
    },
  },
};
