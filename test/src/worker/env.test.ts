// The worker's configuration: every var parsed by one schema; a bad value names the var instead of a silent NaN.
import { describe, expect, it } from "vitest";
import { ConfigError, configOf } from "../../../src/worker/env";
import { quoted } from "../../../src/errors";

describe("configOf", () => {
  it("defaults when unset or empty", () => {
    expect(configOf({})).toEqual({
      pointerTtlMs: 10_000, cacheBudgetBytes: 64 * 1024 * 1024, auth: true, keyCacheTtlMs: 30_000, corsOrigins: [],
      authFailuresPerMinute: 30, loadRetryMs: 2_000, simulatedR2LatencyMs: 0, simulatedColoLatencyMs: 0,
    });
    expect(configOf({ POINTER_TTL_MS: "  " }).pointerTtlMs).toBe(10_000);
  });

  it("parses text, numbers as wrangler.toml may give them, and origin lists", () => {
    const c = configOf({ POINTER_TTL_MS: "0", CACHE_BUDGET_BYTES: 2097152 as unknown as string, AUTH: "off", CORS_ORIGINS: " https://A.example.com ,http://localhost:8787" });
    expect(c).toMatchObject({ pointerTtlMs: 0, cacheBudgetBytes: 2097152, auth: false, corsOrigins: ["https://a.example.com", "http://localhost:8787"] });
    expect(configOf({ CORS_ORIGINS: "*" }).corsOrigins).toBe("*");
  });

  it("names every bad var, and keeps refusing the same env", () => {
    const env = { POINTER_TTL_MS: "abc", KEY_CACHE_TTL_MS: "-1", CORS_ORIGINS: "https://ok.example.com,javascript:alert(1)" };
    let err: unknown;
    try {
      configOf(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).vars.map((v) => v.name).sort()).toEqual(["CORS_ORIGINS", "KEY_CACHE_TTL_MS", "POINTER_TTL_MS"]);
    expect((err as ConfigError).message).toContain('got "abc"');
    expect(() => configOf(env)).toThrow(ConfigError);
  });

  it("takes a COLO_SHARE_SECRET of 32 characters or more; a shorter one is refused without being echoed", () => {
    const secret = "s".repeat(31) + "!";
    expect(configOf({ COLO_SHARE_SECRET: secret }).coloShareSecret).toBe(secret);
    let err: unknown;
    try {
      configOf({ COLO_SHARE_SECRET: "short-secret-value" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain("COLO_SHARE_SECRET: expected at least 32 characters, got 18");
    expect((err as ConfigError).message).not.toContain("short-secret-value");
  });

  it.each([["POINTER_TTL_MS", "1e4"], ["POINTER_TTL_MS", "10.5"], ["CACHE_BUDGET_BYTES", "10"], ["AUTH", "false"], ["SIMULATED_R2_LATENCY_MS", "-3"], ["SIMULATED_COLO_LATENCY_MS", "1.5"], ["CORS_ORIGINS", "app.example.com"]])("%s = %j is refused", (name, value) => {
    expect(() => configOf({ [name]: value })).toThrow(name);
  });
});

describe("quoted", () => {
  it("quotes short values whole and long ones cut, with their length", () => {
    expect(quoted("ab\"c")).toBe('"ab\\"c"');
    expect(quoted("x".repeat(100))).toBe(`"${"x".repeat(64)}"… (100 characters)`);
    expect(quoted({ a: "y".repeat(100) }).length).toBeLessThanOrEqual(65);
    expect(quoted(undefined)).toBe("undefined");
  });
});
