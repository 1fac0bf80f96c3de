// The Worker's entry: the app over one index registry per isolate (src/worker/isolate.ts); query models the kernels
// do not take run in onnxruntime-web (its wasm: about 3.4 MB of the bundle's 3.9 MB gzipped). src/index-lite.ts is the
// same worker without it.
import { isolateWorker } from "./worker/isolate";
import { onnxruntimeWeb } from "./worker/encoder/ort-web";

export default isolateWorker({ onnxruntime: onnxruntimeWeb });
