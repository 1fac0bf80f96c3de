/** The smallest module that uses wasm SIMD: (func (result v128) (v128.const i32x4 0 0 0 0)). */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, ...new Array(16).fill(0), 0x0b, // code: v128.const 0, end
]);

/** Whether this engine runs wasm SIMD. */
export function hasWasmSimd(): boolean {
  return WebAssembly.validate(SIMD_PROBE);
}

/**
 * Compiles kernels.wasm from its bytes where the runtime allows it (Node; Workers import the module instead), or
 * undefined where the engine has no wasm SIMD: createKernels then runs the JS reference.
 *
 * @example
 * const kernels = createKernels(compileKernels(readFileSync(wasmPath)), { maxBytes: 64 << 20 });
 */
export function compileKernels(bytes: Uint8Array): WebAssembly.Module | undefined {
  if (!hasWasmSimd()) return undefined;
  const Module = WebAssembly.Module as unknown as new (bytes: Uint8Array) => WebAssembly.Module;
  return new Module(bytes);
}
