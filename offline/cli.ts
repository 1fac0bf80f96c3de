#!/usr/bin/env -S npx tsx
// The `i3` command: build, adapt, merge, compact, pull, defaults, eval, tune-fusion, publish, versions, rollback, gc, keys. Each subcommand parses its own flags and returns its exit code
// (0 done, 1 failed, 2 bad usage); modules are loaded lazily so `i3 publish` never loads onnxruntime.

const USAGE = `usage: i3 <command> [options]

commands:
  build     encode a corpus into an index directory     (i3 build --help)
  adapt     fine-tune an I^3 model on a corpus, no labels (i3 adapt --help)
  merge     join build directories (--shard slices)     (i3 merge --help)
  compact   fold an updated build's delta into a new base (i3 compact --help)
  defaults  show or change a build's search defaults    (i3 defaults --help)
  eval      evaluate on a BEIR set; rerun regressions   (i3 eval --help)
  tune-fusion  tune a build's fusion weight on train queries, or --pseudo on its own (i3 tune-fusion --help)
  publish   upload a build directory to R2              (i3 publish --help)
  pull      download a published version into a build directory (i3 pull --help)
  versions  list the published versions of an index     (i3 versions --help)
  rollback  point an index at an earlier version        (i3 rollback --help)
  gc        delete old versions and unreferenced objects (dry run unless --yes)
  keys      create, list and revoke API keys            (i3 keys --help)
  help      this text

example:
  i3 build --corpus data/scifact --model models/use-lite --out out/scifact
  i3 publish out/scifact --tenant demo --index scifact --to local`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "build":
      return (await import("./build/command.ts")).runBuildCommand(rest);
    case "adapt":
      return (await import("./adapt/command.ts")).runAdaptCommand(rest);
    case "merge":
      return (await import("./build/command.ts")).runMergeCommand(rest);
    case "compact":
      return (await import("./build/command.ts")).runCompactCommand(rest);
    case "defaults":
      return (await import("./build/defaults.ts")).runDefaultsCommand(rest);
    case "eval":
      return (await import("./eval/command.ts")).runEvalCommand(rest);
    case "tune-fusion":
      return (await import("./eval/tune-fusion.ts")).runTuneFusionCommand(rest);
    case "publish":
      return (await import("./publish/cli.ts")).runPublishCommand(rest);
    case "pull":
      return (await import("./publish/pull-cli.ts")).runPullCommand(rest);
    case "versions":
    case "rollback":
    case "gc":
      return (await import("./publish/versions-cli.ts")).runVersionsCommand(cmd, rest);
    case "keys":
      return (await import("./keys/cli.ts")).runKeysCommand(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      console.error(`i3: unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(`i3: ${process.argv.includes("--verbose") ? e?.stack : (e?.message ?? e)}`);
    process.exitCode = 1;
  },
);
