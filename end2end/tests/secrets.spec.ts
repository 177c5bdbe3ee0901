import { expect, Page, test } from '@playwright/test';
import { E2E_CUSTOMER, E2E_DEVELOPER, E2E_OTHER_DEVELOPER } from '../accounts';
import { hydrated, repository, signedInAs } from '../helpers';

// A developer registers an app whose web reads DB_PASSWORD in dev: the deploy
// waits for it, named on the app page and in the history; they set it on the
// Secrets page (typed masked), the deploy goes through; a new value redeploys
// dev. The value never comes back in any page or answer the browser got. A
// developer who does not maintain the app sees the states but cannot change
// them; a customer cannot see the page at all.

const file = `microservices:
  web:
    environmentConfiguration:
      dev:
        VERSION: "1"
    secretValues: [DB_PASSWORD]
`;

const DEPLOYED = { timeout: 60_000 };

function row(page: Page, environment: string, sha: string) {
  return page.locator(`tr[data-environment="${environment}"][data-sha="${sha}"]`).first();
}

test('a missing key blocks dev until a maintainer sets it; a change redeploys; the value never comes back', async ({ browser, baseURL }) => {
  test.setTimeout(180_000);
  const repo = repository();
  const sha = repo.commit(file, 'Read the database password');
  const name = `vault-${Date.now().toString(36)}`;
  const marker = `canary-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  const encoded = Buffer.from(marker).toString('base64');
  const { context, page } = await signedInAs(browser, baseURL, E2E_DEVELOPER, '/apps/new');
  const bodies: string[] = [];
  page.on('response', async (response) => {
    try {
      bodies.push(`${response.url()}\n${await response.text()}`);
    } catch {
      // A redirect or an aborted request has no body.
    }
  });
  const form = page.getByRole('form', { name: 'Register app' });
  await form.getByRole('textbox', { name: /^Name/ }).fill(name);
  await form.getByRole('textbox', { name: /^Repository URL/ }).fill(repo.url);
  await form.getByRole('button', { name: 'Register' }).click();
  await expect(page.locator(`[data-registered="${name}"]`)).toBeVisible();

  // Blocked: said on the app page and on the deployment's row.
  await page.goto(`/apps/${name}`);
  await expect(page.locator('[data-blocking]')).toContainText('Blocks the deploy to dev: DB_PASSWORD has no value.', DEPLOYED);
  await page.goto(`/deploys?app=${name}`);
  await expect(row(page, 'dev', sha)).toContainText('waiting for secrets: DB_PASSWORD has no value in dev', DEPLOYED);

  // Set on the Secrets page: masked while typed, unless asked.
  await page.goto(`/apps/${name}/secrets`);
  await hydrated(page);
  const dev = page.locator('section[data-environment="dev"]');
  const key = dev.locator('tr[data-key="DB_PASSWORD"]');
  await expect(key).toContainText('missing');
  const value = key.getByLabel('New value of DB_PASSWORD');
  await expect(value).toHaveAttribute('type', 'password');
  await value.fill(marker);
  await key.getByLabel('Show while typing').check();
  await expect(value).toHaveAttribute('type', 'text');
  await key.getByRole('button', { name: 'Set', exact: true }).click();
  await expect(page.getByRole('status').first()).toContainText('Saved as version 1');
  await expect(key).toContainText('v1 · by e2e-dev', DEPLOYED);

  // The deploy goes through; the value reaches the cluster.
  await page.goto(`/deploys?app=${name}`);
  await expect(row(page, 'dev', sha).locator('[data-status]')).toHaveText('succeeded', DEPLOYED);
  await page.goto(`/apps/${name}/secrets`);
  await expect(key).toContainText('in the cluster since', DEPLOYED);
  // The answer "Saved as version 2" is shown by the hydrated page only.
  await hydrated(page);

  // A new value: dev is redeployed with it, and the history says why.
  await key.getByLabel('New value of DB_PASSWORD').fill(`${marker}-2`);
  await key.getByRole('button', { name: 'Replace', exact: true }).click();
  await expect(page.getByRole('status').first()).toContainText('Saved as version 2');
  await page.goto(`/deploys?app=${name}`);
  const redeploy = page.locator('tr[data-environment="dev"]').filter({ hasText: 'secrets changed: DB_PASSWORD v2' });
  await expect(redeploy.locator('[data-status]')).toHaveText('succeeded', DEPLOYED);
  await redeploy.getByRole('link').first().click();
  await expect(page.locator('[data-secret-versions]')).toHaveText('DB_PASSWORD v2');
  await page.goto(`/apps/${name}`);
  await expect(page.getByRole('link', { name: 'Secrets', exact: true }).first()).toBeVisible();
  await expect(page.locator('[data-blocking]')).toHaveCount(0);

  // The versions, never a value; and nothing the browser got holds it.
  await page.goto(`/apps/${name}/secrets`);
  await hydrated(page);
  await key.getByRole('button', { name: 'Versions of DB_PASSWORD' }).click();
  await expect(key.locator('.secret-versions li')).toHaveCount(2);
  await expect(key.getByRole('button', { name: 'Roll back to this' })).toHaveCount(1);
  for (const body of bodies) {
    expect(body.includes(marker), `a response holds the value: ${body.slice(0, 200)}`).toBe(false);
    expect(body.includes(encoded), `a response holds the value in base64: ${body.slice(0, 200)}`).toBe(false);
  }
  expect(bodies.length).toBeGreaterThan(10);
  await context.close();

  // Another developer: the states, no way to change them.
  const other = await signedInAs(browser, baseURL, E2E_OTHER_DEVELOPER, `/apps/${name}/secrets`);
  const otherKey = other.page.locator('section[data-environment="dev"] tr[data-key="DB_PASSWORD"]');
  await expect(otherKey).toContainText('set');
  await expect(otherKey.getByRole('button')).toHaveCount(0);
  await expect(other.page.getByText('Only this app\'s maintainers and admins change them')).toBeVisible();
  const refused = await other.page.request.post('/api/set_secret', {
    form: { app: name, environment: 'dev', group: '', name: 'DB_PASSWORD', value: 'not-mine' },
  });
  expect(refused.status()).toBe(403);
  await other.context.close();

  // A customer: not the page, not the answers.
  const customer = await signedInAs(browser, baseURL, E2E_CUSTOMER, '/databases');
  for (const path of [`/apps/${name}/secrets`, '/secrets']) {
    const response = await customer.page.goto(path);
    expect(response?.status(), path).toBe(403);
  }
  const api = await customer.page.request.post('/api/app_secrets', { form: { app: name } });
  expect(api.status()).toBe(403);
  await customer.context.close();
});
