// `i3 publish`: move a built index into R2 (objects, then the manifest, then the pointer, conditionally).
export { PublishError, isPublishError, type PublishErrorCode, type PublishTarget, type PutOptions } from "./target.ts";
export { createS3Target, s3ConfigFromEnv, S3_ENV_VARS, type S3Config } from "./s3-target.ts";
export { createLocalR2Target, DEFAULT_BUCKET, DEFAULT_PERSIST_TO, type LocalR2Options } from "./local-r2-target.ts";
export { loadBuild, publishIndex, type PublishOptions, type PublishResult } from "./publish.ts";
export { readPointer, writePointer, type PointerState } from "./pointer.ts";
export { listVersions, rollback, type VersionInfo } from "./versions.ts";
export { runPublishCommand, PUBLISH_USAGE } from "./cli.ts";
