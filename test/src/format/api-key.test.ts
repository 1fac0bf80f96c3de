import { describe, expect, it } from "vitest";
import { KeyRecordSchema } from "../../../src/format/index.ts";
import { generateApiKey, hasRole, keyMatches, parseApiKey, parseKeyRecord } from "../../../src/format/api-key.ts";
import { failure } from "../../helpers/format-error.ts";

const record = {
  id: "0123456789abcdef", tenant: "acme", roles: ["search"], hash: `sha256:${"ab".repeat(32)}`, createdAt: "2025-01-01T00:00:00.000Z",
};

const failureOf = (json: unknown) => failure(() => parseKeyRecord(json));

describe("key record", () => {
  it("reads a record, keeping the fields it does not know", () => {
    const full = { ...record, revokedAt: "2025-02-01T00:00:00.000Z", limits: { rps: 2.5, maxK: 20 }, name: "ci", addedLater: { x: 1 } };
    expect(parseKeyRecord(full)).toEqual(full);
    expect(KeyRecordSchema.safeParse(full).success).toBe(true);
  });

  it("is what generateApiKey makes, and matches its key", async () => {
    const { key, record: made } = await generateApiKey("acme", ["publish", "publish"], { limits: { rps: 1 }, name: "bot" });
    expect(parseApiKey(key)).toEqual({ tenant: "acme", keyId: made.id });
    expect(parseKeyRecord(JSON.parse(JSON.stringify(made)))).toEqual(made);
    expect(made.roles).toEqual(["publish"]);
    expect(await keyMatches(made, key)).toBe(true);
    expect(hasRole(made, "search")).toBe(false);
  });

  const cases: Array<[string, unknown, RegExp]> = [
    ["not an object", [], /^key record: expected an object, got \[\]$/],
    ["bad id", { ...record, id: "xyz" }, /^key record\.id: expected 16 lower-case hex .*, got "xyz"$/],
    ["bad tenant", { ...record, tenant: "Acme" }, /^key record\.tenant: expected a tenant name matching .*, got "Acme"$/],
    ["no roles", { ...record, roles: [] }, /^key record\.roles: expected a non-empty list of search, publish, admin, got \[\]$/],
    ["unknown role", { ...record, roles: ["search", "root"] }, /^key record\.roles\[1\]: expected "search" or "publish" or "admin", got "root"$/],
    ["bad hash", { ...record, hash: "md5:00" }, /^key record\.hash: expected sha256:<64 hex>/],
    ["missing createdAt", { ...record, createdAt: undefined }, /^key record\.createdAt: expected an ISO time, got nothing$/],
    ["revokedAt not a string", { ...record, revokedAt: 5 }, /^key record\.revokedAt: expected an ISO time, got 5$/],
    ["unknown limit", { ...record, limits: { rps: 1, qps: 2 } }, /^key record\.limits: expected only the limits rps, burst, maxQueryChars, maxK, got "qps"$/],
    ["limit not positive", { ...record, limits: { maxK: 0 } }, /^key record\.limits\.maxK: expected a positive number, got 0$/],
    ["limits not an object", { ...record, limits: "fast" }, /^key record\.limits: expected an object, got "fast"$/],
    ["name not a string", { ...record, name: 7 }, /^key record\.name: expected a string, got 7$/],
  ];
  it.each(cases)("rejects %s with invalid_key_record", (_, json, message) => {
    const f = failureOf(json);
    expect(f.code).toBe("invalid_key_record");
    expect(f.message).toMatch(message);
  });
});
