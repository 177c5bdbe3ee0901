import { expect, test } from '@playwright/test';
import { hydrated } from '../helpers';

// The portal as most people use it: server-rendered, then hydrated by WASM.

test('the home page says what the portal is, rendered by the server', async ({ page }) => {
  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  const html = await response!.text();
  // The server sent the content itself, not an empty shell for WASM to fill.
  expect(html).toContain('Databases and deployments, self-service');
  await expect(page).toHaveTitle('DSCloud Portal');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(
    'Databases and deployments, self-service',
  );
});

test('the page hydrates: the theme switch works and is remembered', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  const html = page.locator('html');
  await expect(html).toHaveAttribute('data-theme', 'system');

  const toggle = page.getByRole('button', { name: /^Theme:/ });
  await toggle.click();
  await expect(html).toHaveAttribute('data-theme', 'light');
  await toggle.click();
  await expect(html).toHaveAttribute('data-theme', 'dark');
  await expect(toggle).toHaveAccessibleName('Theme: dark. Switch to system');

  // The server renders the remembered choice on the next load.
  const response = await page.reload();
  expect(await response!.text()).toContain('data-theme="dark"');
  await expect(html).toHaveAttribute('data-theme', 'dark');
});

test('navigation moves between sections without a page load', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  const documentRequests: string[] = [];
  page.on('request', (request) => {
    if (request.resourceType() === 'document') documentRequests.push(request.url());
  });

  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const [label, path, heading] of [
    ['Databases', '/databases', 'Databases'],
    ['Apps', '/apps', 'Apps'],
    ['Deploys', '/deploys', 'Deploys'],
    ['Secrets', '/secrets', 'Secrets'],
    ['Users', '/admin/users', 'Users'],
    ['Audit', '/admin/audit', 'Audit log'],
  ]) {
    await nav.getByRole('link', { name: label, exact: true }).click();
    await expect(page).toHaveURL(path);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(heading);
    await expect(nav.getByRole('link', { name: label, exact: true })).toHaveAttribute(
      'aria-current',
      'page',
    );
    await expect(page).toHaveTitle(`${heading} · DSCloud Portal`);
  }
  expect(documentRequests, 'client-side routing, no full page loads').toEqual([]);
});

test('an unknown address is a real 404 page', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Page not found');
  await expect(page.getByText('/no/such/page')).toBeVisible();
  await hydrated(page);
  await page.getByRole('link', { name: 'Go to the overview' }).click();
  await expect(page).toHaveURL('/');
});

test('the content security policy lets the page hydrate and nothing else', async ({ page }) => {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') violations.push(message.text());
  });
  const response = await page.goto('/');
  const policy = response!.headers()['content-security-policy'];
  const nonce = /'nonce-([^']+)'/.exec(policy)?.[1];
  expect(nonce, policy).toBeTruthy();
  expect(policy).toContain("frame-ancestors 'none'");
  expect(await response!.text()).toContain(`nonce="${nonce}"`);
  expect(response!.headers()['x-content-type-options']).toBe('nosniff');
  expect(response!.headers()['referrer-policy']).toBe('same-origin');
  await hydrated(page);
  expect(violations).toEqual([]);

  // A second load gets a different nonce.
  const again = await page.reload();
  expect(again!.headers()['content-security-policy']).not.toContain(nonce!);
});

test('keyboard users can skip straight to the content', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to content' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await expect(page.getByRole('banner')).toBeVisible();
  await expect(page.getByRole('main')).toBeVisible();
  await expect(page.getByRole('contentinfo')).toBeVisible();
});

test.describe('on a phone', () => {
  test.use({ viewport: { width: 375, height: 740 } });

  test('every section is reachable and nothing overflows sideways', async ({ page }) => {
    await page.goto('/');
    await hydrated(page);
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const label of ['Databases', 'Apps', 'Deploys', 'Secrets', 'Users', 'Audit']) {
      await expect(nav.getByRole('link', { name: label, exact: true })).toBeInViewport();
    }
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await nav.getByRole('link', { name: 'Audit' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Audit log');
  });
});

test.describe('in dark mode', () => {
  test.use({ colorScheme: 'dark' });

  test('the system theme follows the system setting', async ({ page }) => {
    await page.goto('/');
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe('rgb(15, 18, 24)');
  });
});

test('a form posted from another site is refused', async ({ page, baseURL }) => {
  // A page of another origin (about:blank with our markup) posts to the portal.
  await page.setContent(`
    <form method="post" action="${baseURL}/api/render_manifests">
      <input name="text" value="jobs: {}"><input name="app" value="x"><input name="environment" value="dev">
      <button>Send</button>
    </form>`);
  const [response] = await Promise.all([
    page.waitForResponse((response) => response.url().includes('/api/render_manifests')),
    page.getByRole('button', { name: 'Send' }).click(),
  ]);
  expect(response.status()).toBe(403);
  await expect(page.locator('body')).toContainText('Cross-origin request refused');
});

test('the front end comes with hashed names, as brotli made at build time, kept for a year', async ({ page }) => {
  type Asset = { url: string; encoding?: string; cache?: string; bytes: number };
  const seen: Promise<Asset>[] = [];
  page.on('response', (response) => {
    const url = new URL(response.url()).pathname;
    if (!url.startsWith('/pkg/')) return;
    seen.push(
      response.request().sizes().then((sizes) => ({
        url,
        encoding: response.headers()['content-encoding'],
        cache: response.headers()['cache-control'],
        bytes: sizes.responseBodySize,
      })),
    );
  });
  await page.goto('/databases');
  await hydrated(page);
  await page.waitForLoadState('networkidle');
  const assets = await Promise.all(seen);
  const kinds = [...new Set(assets.map((asset) => asset.url.split('.').pop()))].sort();
  expect(kinds).toEqual(['css', 'js', 'wasm']);
  // The main module and the page's own chunks (lazy routes).
  expect(assets.filter((asset) => asset.url.endsWith('.wasm')).length).toBeGreaterThan(1);
  for (const asset of assets) {
    // <name>.<content hash>.<kind>: a new build, a new name.
    expect(asset.url).toMatch(/^\/pkg\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{10,}\.(css|js|wasm)$/);
    expect(asset.cache, asset.url).toBe('public, max-age=31536000, immutable');
    expect(asset.encoding, asset.url).toBe('br');
  }
  const total = assets.reduce((sum, asset) => sum + asset.bytes, 0);
  console.log(`first load of /databases, with the stylesheet: ${total} B in ${assets.length} files`);
});
