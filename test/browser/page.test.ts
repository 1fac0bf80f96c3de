// The search page (GET /) in a real browser: Debian's Chromium driven by puppeteer-core, against the worker served
// by `wrangler dev` with a published index with two filterable fields (global-setup.ts). Screenshots go to
// test-results/browser/.
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { BROWSER_INDEX } from "./page-fixture.ts";

// The callbacks of page.evaluate run in the browser; this project's types are the Workers' and Node's, not the DOM's.
declare const document: any, window: any, location: any;

const root = resolve(import.meta.dirname, "../..");
const SHOTS = join(root, "test-results", "browser");
const chromium = [process.env.CHROME_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => p && existsSync(p));
if (!chromium && process.env.I3_REQUIRE_BROWSER) throw new Error("I3_REQUIRE_BROWSER is set but no Chromium was found (set CHROME_PATH)");
if (!chromium) console.warn("browser tests skipped: no Chromium (apt install chromium, or set CHROME_PATH)");

const QUERY = "cancer treatment";
const where = `tenant=${BROWSER_INDEX.tenant}&index=${BROWSER_INDEX.index}`;

describe.skipIf(!chromium)("search page in Chromium", () => {
  const base = inject("base");
  const key = inject("key");
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  });
  afterAll(async () => browser?.close());

  /** A fresh page (own storage) at `path`, the given viewport width; page errors are collected in `errors`. */
  async function open(path: string, width = 1200): Promise<Page & { errors: string[] }> {
    const context = await browser.createBrowserContext();
    const page = (await context.newPage()) as Page & { errors: string[] };
    page.errors = [];
    page.on("pageerror", (e) => page.errors.push(String(e)));
    await page.setViewport({ width, height: 900 });
    await page.goto(`${base}${path}`, { waitUntil: "networkidle0" });
    return page;
  }

  /** Resolves when the status line shows an answer (not "Searching…") that differs from `before`. */
  async function answered(page: Page, before = ""): Promise<string> {
    await page.waitForFunction((b: string) => {
      const t = document.getElementById("status").textContent;
      return t && t !== b && !/Searching/.test(t);
    }, { timeout: 30_000 }, before);
    return page.$eval("#status", (el: any) => el.textContent);
  }

  const titles = (page: Page) => page.$$eval(".hit h3", (els: any[]) => els.map((e) => e.textContent));
  const metas = (page: Page) => page.$$eval(".hit .meta", (els: any[]) => els.map((e) => e.textContent));

  /** Types `query` into the query field of `?tenant&index` and submits it with the Enter key. */
  async function search(page: Page, query: string): Promise<string> {
    await page.click("[name=q]", { count: 3 });
    await page.keyboard.type(query);
    const before = await page.$eval("#status", (el: any) => el.textContent);
    await page.keyboard.press("Enter");
    return answered(page, before);
  }

  it("searches with the key from the address; snippets with the query's terms marked; the search in the address, the key never", async () => {
    const page = await open(`/?${where}#key=${key}`);
    expect(page.url()).not.toContain(key); // the key leaves the address bar at once
    const status = await search(page, QUERY);
    expect(status).toMatch(/^Results 1–10 · hybrid.* · server \d+ ms, round trip \d+ ms/);
    expect(await titles(page)).toHaveLength(10);
    const marks = await page.$$eval(".hit mark", (els: any[]) => els.map((e) => e.textContent.toLowerCase()));
    expect(marks.length).toBeGreaterThan(0);
    expect(marks.every((m) => /^(cancer|treat)/.test(m))).toBe(true); // stemmed matches of the query's terms
    const url = new URL(page.url());
    expect(url.searchParams.get("q")).toBe(QUERY);
    expect(page.url()).not.toContain(key);
    expect(await page.$eval("[name=key]", (el: any) => el.type)).toBe("password");
    expect(await page.evaluate(() => document.body.innerText)).not.toContain(key);
    expect(page.errors).toEqual([]);
    await page.screenshot({ path: join(SHOTS, "search.png"), fullPage: true });
  });

  it("filters by the index's declared fields; the filter is in the address and survives a reload", async () => {
    const page = await open(`/?${where}#key=${key}`);
    await search(page, QUERY);
    expect(await page.$eval("#filters legend", (el: any) => el.textContent)).toBe("Filters");
    await page.type("[name='f-kind']", "odd");
    await page.type("[name='f-n.min']", "2");
    await page.type("[name='f-n.max']", "3");
    const before = await page.$eval("#status", (el: any) => el.textContent);
    await page.click("form button");
    await answered(page, before);
    const filtered = await metas(page);
    expect(filtered.length).toBeGreaterThan(0);
    for (const m of filtered) {
      expect(m).toContain("kind: odd");
      expect(m).toMatch(/ n: [23]\b/);
    }
    const url = new URL(page.url());
    expect([url.searchParams.get("f-kind"), url.searchParams.get("f-n.min"), url.searchParams.get("f-n.max")]).toEqual(["odd", "2", "3"]);
    await page.screenshot({ path: join(SHOTS, "filtered.png"), fullPage: true });

    // The address alone (a shared link) runs the same search, with the filter filled in.
    const again = await open(`/${url.search}#key=${key}`);
    await answered(again);
    expect(await metas(again)).toEqual(filtered);
    expect(await again.$eval("[name='f-kind']", (el: any) => el.value)).toBe("odd");
  });

  it("pages forward and back: page 2 continues page 1; back returns to page 1", async () => {
    const page = await open(`/?${where}#key=${key}`);
    await search(page, QUERY);
    const first = await titles(page);
    let before = await page.$eval("#status", (el: any) => el.textContent);
    await page.click("#next");
    expect(await answered(page, before)).toMatch(/^Results 11–20/);
    const second = await titles(page);
    expect(second).toHaveLength(10);
    expect(second.filter((t) => first.includes(t))).toEqual([]);
    expect(new URL(page.url()).searchParams.get("page")).toBe("2");
    expect(await page.$eval("#results", (el: any) => el.start)).toBe(11);
    before = await page.$eval("#status", (el: any) => el.textContent);
    await page.goBack();
    await answered(page, before);
    expect(await titles(page)).toEqual(first);
  });

  it("shows the API's coded error for a bad key", async () => {
    const page = await open(`/?${where}`);
    await page.$eval("[name=key]", (el: any, v: string) => (el.value = v), "i3_web_0123456789abcdef_" + "x".repeat(43));
    const status = await search(page, "cancer");
    expect(status).toMatch(/^invalid_credentials: /);
    expect(await page.$$(".hit")).toHaveLength(0);
    await page.screenshot({ path: join(SHOTS, "error.png") });
  });

  it("works from the keyboard: the query has focus, / returns to it, Tab reaches every control", async () => {
    const page = await open(`/?${where}#key=${key}`);
    expect(await page.evaluate(() => document.activeElement.getAttribute("name"))).toBe("q");
    const reached: string[] = [];
    for (let i = 0; i < 7; i++) {
      await page.keyboard.press("Tab");
      reached.push(await page.evaluate(() => document.activeElement.getAttribute("name") ?? document.activeElement.tagName));
    }
    for (const control of ["BUTTON", "tenant", "index", "mode", "key"]) expect(reached).toContain(control);
    await page.evaluate(() => document.activeElement.blur());
    await page.keyboard.press("/");
    expect(await page.evaluate(() => document.activeElement.getAttribute("name"))).toBe("q");
  });

  it("fits a narrow screen without sideways scrolling", async () => {
    const page = await open(`/?${where}&q=${encodeURIComponent(QUERY)}#key=${key}`, 360);
    await answered(page);
    const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
    expect(scroll).toBeLessThanOrEqual(width);
    expect(await page.$$(".hit")).toHaveLength(10);
    expect(page.errors).toEqual([]);
    await page.screenshot({ path: join(SHOTS, "narrow.png"), fullPage: true });
  });
});
