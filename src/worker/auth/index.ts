// API keys: format and records (keys.ts, shared with the CLI), the isolate cache, rate limits, the middleware.
export { requireKey, type AuthVariables } from "./middleware";
export * from "../../format/api-key";
export { createKeyCache, type ColoShare, type KeyCache } from "./key-cache";
export { coloSeal, type ColoSeal } from "../store/colo-seal";
export { createRateLimiter, type RateLimiter } from "./rate-limit";
export { clientOf, createFailureLimiter, type FailureLimiter } from "./failures";
