// The lite Worker's entry (`wrangler deploy --env lite`): the same worker as src/index.ts without onnxruntime-web, so
// the bundle fits the Workers Free plan's 3 MB. Query models run on the kernels only: an index whose model they do not
// take (one not exported by `python -m offline.train.export optimize`) answers 503 index_unavailable, saying so.
import { isolateWorker } from "./worker/isolate";

export default isolateWorker({});
