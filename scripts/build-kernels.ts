/**
 * Builds src/search/kernels/kernels.wasm from kernels.wat with wabt (an npm package: no hand step, no committed
 * binary). npm runs it on install (`prepare`) and before test, start and dev; it does nothing while the .wasm is
 * newer than the .wat. Option: --force (rebuild anyway).
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import wabtInit from "wabt";

const dir = resolve(import.meta.dirname, "..", "src", "search", "kernels");
const source = resolve(dir, "kernels.wat");
const target = resolve(dir, "kernels.wasm");

const { values: opts } = parseArgs({ options: { force: { type: "boolean" } } });

function stale(): boolean {
  return !existsSync(target) || statSync(target).mtimeMs < statSync(source).mtimeMs;
}

async function build(): Promise<number> {
  const wabt = await wabtInit();
  const module = wabt.parseWat("kernels.wat", readFileSync(source, "utf8"), { simd: true });
  try {
    module.validate();
    const { buffer } = module.toBinary({});
    writeFileSync(target, buffer);
    return buffer.length;
  } finally {
    module.destroy();
  }
}

if (opts.force || stale()) {
  const bytes = await build();
  console.log(`kernels.wasm: ${bytes} bytes`);
}
