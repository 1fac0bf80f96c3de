// The lite Worker's entry (`wrangler deploy --env lite`): the same worker as src/index.ts without onnxruntime-web, so
// the bundle fits the Workers Free plan's 3 MB. Query models run on the kernels only: an index whose model they do not
// take (one not exported by `python -m offline.train.export optimize`) is taken out, as a model that cannot be loaded
// is (503 index_unavailable with Retry-After once a request needs its model; the log says why).
import { isolateWorker } from "./worker/isolate";

export default isolateWorker({});
