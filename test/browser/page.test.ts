// The search page (GET /) in a real browser: Debian's Chromium driven by puppeteer-core, against the worker served
// by `wrangler dev` with a published index (global-setup.ts). Screenshots go to test-results/browser/.
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { BROWSER_INDEX } from "./page-fixture.ts";

// The callbacks of page.evaluate run in the browser; this project's types are the Workers' and Node's, not the DOM's.
declare const document: any, window: any;
type HTMLInputElement = { value: string; type: string };

const root = resolve(import.meta.dirname, "../..");
const SHOTS = join(root, "test-results", "browser");
const chromium = [process.env.CHROME_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => p && existsSync(p));
if (!chromium && process.env.I3_REQUIRE_BROWSER) throw new Error("I3_REQUIRE_BROWSER is set but no Chromium was found (set CHROME_PATH)");
if (!chromium) console.warn("browser tests skipped: no Chromium (apt install chromium, or set CHROME_PATH)");

describe.skipIf(!chromium)("search page in Chromium", () => {
  const base = inject("base");
  const key = inject("key");
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  });
  afterAll(async () => browser?.close());

  /** A fresh page (own storage) at `path`, the given viewport width. */
  async function open(path: string, width = 1200): Promise<Page> {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width, height: 900 });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    (page as Page & { errors: string[] }).errors = errors;
    await page.goto(`${base}${path}`, { waitUntil: "networkidle0" });
    return page;
  }

  const fill = async (page: Page, name: string, value: string) => {
    await page.$eval(`[name=${name}]`, (el, v) => ((el as unknown as HTMLInputElement).value = v as string), value);
  };

  /** Types a query and submits it with the Enter key; resolves when the status line has changed. */
  async function search(page: Page, query: string): Promise<string> {
    await fill(page, "tenant", BROWSER_INDEX.tenant);
    await fill(page, "index", BROWSER_INDEX.index);
    await page.click("[name=q]", { count: 3 });
    await page.keyboard.type(query);
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => !/Searching/.test(document.getElementById("status")!.textContent ?? "") && document.getElementById("status")!.textContent !== "", { timeout: 30_000 });
    return page.$eval("#status", (el: any) => el.textContent ?? "");
  }

  it("searches with the key from the address, then forgets the address's key", async () => {
    const page = await open(`/#key=${key}`);
    expect(page.url()).not.toContain(key); // the key leaves the address bar at once
    const status = await search(page, "cancer treatment");
    expect(status).toMatch(/^\d+ results in \d+ ms \(hybrid/);
    const hits = await page.$$eval(".hit h3", (els: any[]) => els.map((e) => e.textContent));
    expect(hits.length).toBeGreaterThan(0);
    expect(hits[0]).toMatch(/^1\. /);
    // The key is never shown: a password field, and nowhere in the page's text or address.
    expect(await page.$eval("[name=key]", (el) => (el as unknown as HTMLInputElement).type)).toBe("password");
    expect(await page.evaluate(() => document.body.innerText)).not.toContain(key);
    expect(page.url()).not.toContain(key);
    expect((page as Page & { errors: string[] }).errors).toEqual([]);
    await page.screenshot({ path: join(SHOTS, "search.png"), fullPage: true });
  });

  it("shows the API's coded error for a bad key", async () => {
    const page = await open("/");
    await fill(page, "key", "i3_web_0123456789abcdef_" + "x".repeat(43));
    const status = await search(page, "cancer");
    expect(status).toMatch(/invalid_credentials/);
    expect(await page.$$(".hit")).toHaveLength(0);
    await page.screenshot({ path: join(SHOTS, "error.png") });
  });

  it("works from the keyboard alone: the query field has focus, Tab reaches every control", async () => {
    const page = await open(`/#key=${key}`);
    expect(await page.evaluate(() => document.activeElement?.getAttribute("name"))).toBe("q");
    const reached: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press("Tab");
      reached.push(await page.evaluate(() => document.activeElement?.getAttribute("name") ?? document.activeElement?.tagName ?? ""));
    }
    for (const control of ["tenant", "index", "mode", "key", "BUTTON"]) expect(reached).toContain(control);
  });

  it("fits a narrow screen without sideways scrolling", async () => {
    const page = await open(`/#key=${key}`, 360);
    await search(page, "cancer treatment");
    const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
    expect(scroll).toBeLessThanOrEqual(width);
    expect(await page.$$(".hit")).not.toHaveLength(0);
    await page.screenshot({ path: join(SHOTS, "narrow.png"), fullPage: true });
  });
});
