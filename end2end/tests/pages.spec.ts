import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hydrated, repository } from '../helpers';

// Every page, as the admin (who may open all of them), in the light and the
// dark theme and at 390 px wide: no serious or critical accessibility
// violation (axe-core, WCAG 2.1 A and AA), nothing wider than the screen, and
// a screenshot of each. `make screenshots` keeps them under docs/screenshots/;
// otherwise they go to test-results/.

const SCREENSHOTS = resolve(__dirname, '..', process.env.SCREENSHOTS_DIR ?? 'test-results/screenshots');

type Variant = { name: string; theme: 'light' | 'dark'; width: number; height: number };
const VARIANTS: Variant[] = [
  { name: 'light', theme: 'light', width: 1280, height: 900 },
  { name: 'dark', theme: 'dark', width: 1280, height: 900 },
  { name: '390px', theme: 'light', width: 390, height: 844 },
];

/** Serious and critical axe findings, one line each (rule, where, why). */
async function accessibilityProblems(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .flatMap((violation) =>
      violation.nodes.map((node) => `${violation.id}: ${node.target.join(' ')}: ${node.failureSummary ?? ''}`),
    );
}

const VALID = `microservices:
  shop-api:
    description: The shop's API
    environmentConfiguration:
      dev:
        LOG_LEVEL: debug
    secretValues:
      - DATABASE_PASSWORD
`;

test('every page passes the accessibility check in both themes and at 390 px, with screenshots', async ({ page }) => {
  test.setTimeout(240_000);
  mkdirSync(SCREENSHOTS, { recursive: true });
  const suffix = Date.now().toString(36);

  // Something to show: a database and an app.
  await page.goto('/databases/new');
  const create = page.getByRole('form', { name: 'Create database' });
  await create.getByRole('textbox', { name: /^Name/ }).fill(`shots-${suffix}`);
  await create.getByLabel('PostgreSQL').check();
  await create.getByRole('button', { name: 'Create database' }).click();
  await expect(page).toHaveURL(/\/databases\/[0-9a-f-]{36}$/);
  const database = new URL(page.url()).pathname;
  const repo = repository();
  repo.commit(VALID, 'First version');
  const app = `shots-${suffix}`;
  await page.goto('/apps/new');
  const register = page.getByRole('form', { name: 'Register app' });
  await register.getByRole('textbox', { name: /^Name/ }).fill(app);
  await register.getByRole('textbox', { name: /^Repository URL/ }).fill(repo.url);
  await register.getByRole('button', { name: 'Register' }).click();
  await expect(page.locator(`[data-registered="${app}"]`)).toBeVisible();

  const pages: [string, string][] = [
    ['home', '/'],
    ['databases', '/databases'],
    ['new-database', '/databases/new'],
    ['database', database],
    ['apps', '/apps'],
    ['new-app', '/apps/new'],
    ['app', `/apps/${app}`],
    ['app-secrets', `/apps/${app}/secrets`],
    ['check-dscloud-yaml', '/apps/validate'],
    ['deploys', '/deploys'],
    ['environments', '/environments'],
    ['secrets', '/secrets'],
    ['users', '/admin/users'],
    ['audit', '/admin/audit'],
    ['account', '/account'],
    ['not-found', '/no-such-page'],
  ];
  const problems: string[] = [];
  for (const variant of VARIANTS) {
    await page.context().addCookies([{ name: 'theme', value: variant.theme, domain: 'localhost', path: '/' }]);
    await page.setViewportSize({ width: variant.width, height: variant.height });
    for (const [name, path] of pages) {
      await page.goto(path);
      await hydrated(page);
      await expect(page.locator('html')).toHaveAttribute('data-theme', variant.theme);
      // Loading placeholders gone: the page shows what it is about.
      await expect(page.locator('.hint', { hasText: /^Loading/ })).toHaveCount(0);
      for (const problem of await accessibilityProblems(page)) {
        problems.push(`${name} (${variant.name}): ${problem}`);
      }
      if (name === 'home') {
        // Every section in the navigation is visible, none clipped or covered.
        const hidden = await page.evaluate(() =>
          Array.from(document.querySelectorAll('nav[aria-label="Main"] a'))
            .filter((link) => {
              const box = link.getBoundingClientRect();
              const top = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
              return box.right > window.innerWidth || !(top === link || link.contains(top));
            })
            .map((link) => link.textContent),
        );
        if (hidden.length > 0) problems.push(`${name} (${variant.name}): navigation links hidden: ${hidden.join(', ')}`);
      }
      if (variant.width < 500) {
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        if (overflow > 0) {
          // Name the widest elements that stick out, so the failure says where.
          const culprits = await page.evaluate(() =>
            Array.from(document.querySelectorAll('body *'))
              .filter((element) => element.getBoundingClientRect().right > window.innerWidth + 1)
              .filter((element) => !Array.from(element.children).some((child) => child.getBoundingClientRect().right > window.innerWidth + 1))
              .slice(0, 3)
              .map((element) => `${element.tagName.toLowerCase()}.${element.className} (${Math.round(element.getBoundingClientRect().width)} px)`),
          );
          problems.push(`${name} (${variant.name}): the page is ${overflow} px wider than the screen: ${culprits.join(', ')}`);
        }
      }
      await page.screenshot({ path: join(SCREENSHOTS, `${name}-${variant.name}.png`), fullPage: true });
    }
  }
  expect(problems, problems.join('\n')).toEqual([]);
});

test('the sign-in page passes the accessibility check in both themes', async ({ browser, baseURL }) => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const variant of VARIANTS) {
    const context = await browser.newContext({
      baseURL,
      storageState: { cookies: [], origins: [] },
      viewport: { width: variant.width, height: variant.height },
    });
    await context.addCookies([{ name: 'theme', value: variant.theme, domain: 'localhost', path: '/' }]);
    const page = await context.newPage();
    // The sign-in page loads no WASM: what the server sent is the page.
    await page.goto('/sign-in');
    expect(await accessibilityProblems(page), `sign-in (${variant.name})`).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, `sign-in-${variant.name}.png`), fullPage: true });
    await context.close();
  }
});
