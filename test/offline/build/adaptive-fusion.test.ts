// The adaptive fusion-weight rule (offline/build/adaptive-fusion.ts): the anchor weight on a corpus like the anchor's,
// scaled down in proportion where the dense side finds its pseudo-queries' documents relatively worse, never above.
import { describe, expect, it } from "vitest";
import { adaptiveWeight, parsePseudoFusionAnchor, pseudoRatio } from "../../../offline/build/adaptive-fusion.ts";
import { BuildError } from "../../../offline/build/errors.ts";

const anchor = { weight: 0.52, normalization: "tmm" as const, ratio: 0.7158 };
const stat = (denseMrr: number, lexicalMrr: number) => ({ queries: 1000, denseMrr, lexicalMrr });

describe("adaptiveWeight", () => {
  it("gives the anchor weight where the ratio equals the anchor's", () => {
    expect(adaptiveWeight(anchor, stat(0.7158, 1))).toEqual({ weight: 0.52, ratio: 0.7158, factor: 1 });
  });

  it("scales the weight by ratio / anchor ratio below the anchor, rounded to 0.01", () => {
    const a = adaptiveWeight(anchor, stat(0.3579, 1));
    expect(a.factor).toBeCloseTo(0.5, 10);
    expect(a.weight).toBe(0.26);
    expect(adaptiveWeight({ weight: 0.52, normalization: "tmm", ratio: 0.8 }, stat(0.6, 1)).weight).toBe(0.39);
    // The ratio is dense over lexical, not the dense MRR alone.
    expect(adaptiveWeight(anchor, stat(0.3579, 0.5)).weight).toBe(0.52);
  });

  it("never goes above the anchor weight", () => {
    expect(adaptiveWeight(anchor, stat(0.95, 0.99))).toMatchObject({ weight: 0.52, factor: 1 });
  });

  it("goes to 0 (lexical only) when the dense side finds no source document", () => {
    expect(adaptiveWeight(anchor, stat(0, 0.99))).toEqual({ weight: 0, ratio: 0, factor: 0 });
  });

  it("keeps the anchor weight when BM25 finds none (the statistic says nothing)", () => {
    expect(pseudoRatio(stat(0.4, 0))).toBeUndefined();
    expect(adaptiveWeight(anchor, stat(0.4, 0))).toEqual({ weight: 0.52, ratio: undefined, factor: 1 });
    expect(adaptiveWeight(anchor, { queries: 0, denseMrr: 0, lexicalMrr: 0 }).weight).toBe(0.52);
  });
});

describe("parsePseudoFusionAnchor", () => {
  it("reads weight, normalization and ratio; undefined when the model has none", () => {
    expect(parsePseudoFusionAnchor({ ...anchor, queries: 1000, note: "x" }, "m/model.json")).toEqual(anchor);
    expect(parsePseudoFusionAnchor(undefined, "m/model.json")).toBeUndefined();
  });

  it("rejects a bad record with an invalid_model error naming the file and the field", () => {
    const cases: Array<[unknown, RegExp]> = [
      [1, /must be an object/],
      [null, /must be an object/],
      [{ ...anchor, weight: 1.5 }, /"weight" must be a number in \[0,1\], got 1.5/],
      [{ ...anchor, normalization: "zscore" }, /"normalization" must be tmm or minmax/],
      [{ ...anchor, ratio: 0 }, /"ratio" must be a positive number, got 0/],
      [{ weight: 0.5, normalization: "tmm" }, /"ratio" must be a positive number/],
    ];
    for (const [x, msg] of cases) {
      let err: unknown;
      try {
        parsePseudoFusionAnchor(x, "m/model.json");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BuildError);
      expect((err as BuildError).code).toBe("invalid_model");
      expect((err as Error).message).toMatch(/^m\/model\.json: "pseudoFusion" /);
      expect((err as Error).message).toMatch(msg);
    }
  });
});
