import { test, expect, type Page } from '@playwright/test';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { hydrated } from '../helpers';

// The JS + WASM a first visit downloads, per route, gzip. Pages load lazily
// by group (app/src/routes.rs), so a visit fetches the main module and the
// chunks of the page's group. The bytes come from the files the build
// compressed (target/site/pkg/*.gz), so the check is deterministic.
//
// The sign-in page loads none: it is whole as HTML and plain forms
// (app/src/routes.rs, SERVED_WITHOUT_WASM). Before, it loaded 315,642 B gzip.
//
// The databases page's budget holds what it reached (2026-12-08: 378,276 B
// gzip, once the list got a group of its own; 650,253 B before, 1,557,487 B
// before the split), with ~4 % to spare: a change that grows it fails here
// and must say why. Issue 21's goal is 250,000 B. The main module (Leptos'
// runtime, the router and the layout) is 211,204 B gzip of that; chunks that
// several groups share are ~116 KB, the list's own code ~39 KB.
//
// The budget also guards a cliff in the WASM splitter: when its re-packed
// read-only data comes out longer than the input, it puts all of it in the
// main module (+74 KB gzip on every page); frontend/src/lib.rs gives it slack.
const BUDGET_GZIP_BYTES = { '/databases': 395_000 };
const SITE = resolve(__dirname, '../../target/site');

type Asset = { url: string; transferred: number; gzip: number };

async function firstLoad(page: Page, path: string): Promise<Asset[]> {
  // When the front end marks the page hydrated, after navigation start
  // (printed, not judged: it depends on the machine's load).
  await page.addInitScript(() => {
    new MutationObserver((_, observer) => {
      if (document.documentElement.hasAttribute('data-hydrated')) {
        (window as unknown as { hydratedAt: number }).hydratedAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { subtree: true, attributeFilter: ['data-hydrated'] });
  });
  const seen: Promise<Asset>[] = [];
  page.on('response', (response) => {
    const url = new URL(response.url()).pathname;
    if (!url.startsWith('/pkg/') || !/\.(js|wasm)$/.test(url)) return;
    seen.push(
      response.request().sizes().then((sizes) => ({
        url,
        transferred: sizes.responseBodySize,
        gzip: statSync(`${SITE}${url}.gz`).size,
      })),
    );
  });
  await page.goto(path);
  await hydrated(page);
  // Chunks the page asks for while it hydrates count too.
  await page.waitForLoadState('networkidle');
  const hydratedAt = await page.evaluate(() => (window as unknown as { hydratedAt?: number }).hydratedAt);
  console.log(`${path} hydrated ${Math.round(hydratedAt ?? NaN)} ms after navigation start`);
  return Promise.all(seen);
}

function report(path: string, assets: Asset[]) {
  const gzip = assets.reduce((sum, asset) => sum + asset.gzip, 0);
  const transferred = assets.reduce((sum, asset) => sum + asset.transferred, 0);
  const main = assets.find((asset) => /^\/pkg\/dscloud-portal\.[^.]+\.wasm$/.test(asset.url));
  console.log(
    `first load of ${path}: ${transferred} B transferred (brotli), ${gzip} B gzip, in ${assets.length} files` +
      ` (main module ${main?.transferred} B brotli, ${main?.gzip} B gzip)`,
  );
  return gzip;
}

test.describe('signed out', () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test('the sign-in page loads no JS or WASM at all, and works', async ({ page }) => {
    const fetched: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url()).pathname;
      if (/\.(js|wasm)$/.test(url)) fetched.push(url);
    });
    const response = await page.goto('/sign-in');
    const html = await response!.text();
    await page.waitForLoadState('networkidle');
    expect(fetched).toEqual([]);
    // Nothing asks for the front end: no module script, no preload.
    expect(html).not.toMatch(/\.wasm|\.js"/);
    console.log(`first load of /sign-in: 0 B of JS and WASM (was 315,642 B gzip)`);
    // Its theme switch works without it (signing in is tested in sign-in.spec.ts).
    await page.getByRole('button', { name: /^Theme:/ }).click();
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
    await expect(page).toHaveURL('/sign-in');
  });
});

test('the databases page loads no more JS and WASM than its budget', async ({ page }) => {
  const assets = await firstLoad(page, '/databases');
  expect(assets.some((asset) => asset.url.endsWith('.wasm'))).toBe(true);
  // Not the whole front end: the other groups' own chunks stay on the server.
  for (const group of ['sign_in_page', 'database_pages', 'developer_pages', 'admin_pages']) {
    expect(assets.some((asset) => asset.url.includes(group)), group).toBe(false);
  }
  expect(report('/databases', assets)).toBeLessThanOrEqual(BUDGET_GZIP_BYTES['/databases']);
});
