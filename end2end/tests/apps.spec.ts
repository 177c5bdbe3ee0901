import { expect, test } from '@playwright/test';
import { E2E_CUSTOMER, E2E_DEVELOPER } from '../accounts';
import { hydrated, repository, signedInAs } from '../helpers';

// A developer registers an app from a git repository this test makes, sees
// what its dscloud.yaml describes, pushes commits (the test runs git) and
// watches the releases appear; a customer sees none of it.

const VALID = `microservices:
  orders-api:
    description: Takes the orders
    environmentConfiguration:
      dev:
        LOG_LEVEL: debug
      prod:
        LOG_LEVEL: warn
    secretValues:
      - DATABASE_PASSWORD
`;
// A typo the checks name at line 3.
const BROKEN = `microservices:
  orders-api:
    secretValue:
      - DATABASE_PASSWORD
`;

test('a developer registers an app, sees its components and watches pushed commits become releases', async ({ browser, baseURL }) => {
  test.setTimeout(60_000);
  const repo = repository();
  const first = repo.commit(VALID, 'First version');
  const name = `orders-${Date.now().toString(36)}`;
  const { context, page } = await signedInAs(browser, baseURL, E2E_DEVELOPER, '/apps');

  await page.getByRole('link', { name: 'Register app' }).first().click();
  await expect(page).toHaveURL('/apps/new');
  const form = page.getByRole('form', { name: 'Register app' });
  await form.getByRole('textbox', { name: /^Name/ }).fill(name);
  await form.getByRole('textbox', { name: /^Repository URL/ }).fill(repo.url);
  // The shortest interval, so the pushes below are seen within seconds.
  await form.getByRole('spinbutton', { name: /Check for new commits/ }).fill('10');
  await form.getByRole('button', { name: 'Register' }).click();
  await expect(page.locator(`[data-registered="${name}"]`)).toBeVisible();
  await expect(page.locator('[data-webhook-secret]')).toHaveText(/^[A-Za-z0-9_-]{43}$/);

  await page.getByRole('link', { name: 'Open the app' }).click();
  await expect(page).toHaveURL(`/apps/${name}`);
  const component = page.locator('[data-component="orders-api"]');
  await expect(component).toContainText('Takes the orders');
  await expect(component).toContainText('DATABASE_PASSWORD');
  await expect(component.locator('[data-environment="dev"]')).toContainText('LOG_LEVEL=debug');
  await expect(component.locator('[data-environment="prod"]')).toContainText('LOG_LEVEL=warn');
  await expect(page.locator(`[data-release="${first}"]`)).toContainText('accepted');

  // Pushed while the page is open: the releases appear without a reload.
  let navigations = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });
  const broken = repo.commit(BROKEN, 'Rename a key');
  await expect(page.locator(`[data-release="${broken}"]`)).toContainText('rejected', { timeout: 30_000 });
  expect(navigations).toBe(0);

  // The rejected release shows its problem at its line.
  await page.locator(`[data-release="${broken}"] a`).click();
  await expect(page.locator('[data-verdict="rejected"]')).toBeVisible();
  await expect(page.locator('.source-line.marked[data-line="3"]')).toContainText('secretValue');
  await expect(page.locator('[data-problems]')).toContainText('line 3');

  // Fixed with a changed variable: its page says what changed since the
  // release before it and shows each environment's Kubernetes objects.
  const fixed = repo.commit(VALID.replace('LOG_LEVEL: debug', 'LOG_LEVEL: info'), 'Quieter in dev');
  await page.goto(`/apps/${name}`);
  await expect(page.locator(`[data-release="${fixed}"]`)).toContainText('accepted', { timeout: 30_000 });
  await page.locator(`[data-release="${fixed}"] a`).click();
  await expect(page.locator('[data-verdict="accepted"]')).toBeVisible();
  await expect(page.locator('[data-objects]')).toContainText('kind: Deployment');
  await page.getByRole('button', { name: 'prod', exact: true }).click();
  await expect(page.locator('[data-objects]')).toContainText('warn');

  // A maintainer gets a new webhook secret, shown once.
  await page.goto(`/apps/${name}`);
  await hydrated(page);
  await page.getByRole('button', { name: 'New webhook secret' }).click();
  await expect(page.locator('[data-webhook-secret]')).toHaveText(/^[A-Za-z0-9_-]{43}$/);
  await context.close();
});

test('a refusal says why, and the register form works without JavaScript', async ({ browser, baseURL }) => {
  const broken = repository();
  broken.commit(BROKEN, 'Broken from the start');
  const { context, page } = await signedInAs(browser, baseURL, E2E_DEVELOPER, '/apps/new');
  let form = page.getByRole('form', { name: 'Register app' });
  await form.getByRole('textbox', { name: /^Name/ }).fill(`broken-${Date.now().toString(36)}`);
  await form.getByRole('textbox', { name: /^Repository URL/ }).fill(broken.url);
  await form.getByRole('button', { name: 'Register' }).click();
  await expect(page.getByRole('alert')).toContainText('line 3, column 5');
  await context.close();

  const valid = repository();
  valid.commit(VALID, 'Ready');
  const name = `plain-${Date.now().toString(36)}`;
  const plain = await signedInAs(browser, baseURL, E2E_DEVELOPER, '/apps/new', false);
  form = plain.page.getByRole('form', { name: 'Register app' });
  await form.getByRole('textbox', { name: /^Name/ }).fill(name);
  await form.getByRole('textbox', { name: /^Repository URL/ }).fill(valid.url);
  // Its images come from the team's own CI: the page says where to push them.
  await form.getByRole('radio', { name: /Pushed by your CI/ }).check();
  await form.getByRole('button', { name: 'Register' }).click();
  await plain.page.goto(`/apps?q=${name}`);
  await expect(plain.page.locator(`[data-app="${name}"]`)).toBeVisible();
  await plain.page.goto(`/apps/${name}`);
  const images = plain.page.locator('[data-build="external"]');
  await expect(images).toContainText('pushed by external CI');
  await expect(images).toContainText(`/${name}/<component>:<commit sha>`);
  // Changed back in the settings, still without JavaScript.
  const settings = plain.page.getByRole('form', { name: 'App settings' });
  await settings.getByRole('combobox', { name: 'Images' }).selectOption('portal');
  await settings.getByRole('button', { name: 'Save settings' }).click();
  await plain.page.goto(`/apps/${name}`);
  await expect(plain.page.locator('[data-build="portal"]')).toContainText('built by the portal');
  await plain.context.close();
});

test('a customer sees no app', async ({ browser, baseURL }) => {
  const { context, page } = await signedInAs(browser, baseURL, E2E_CUSTOMER, '/databases');
  for (const path of ['/apps', '/apps/new', '/apps/anything']) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(403);
  }
  const api = await page.request.post('/api/list_apps', { form: { search: '', page: '1' } });
  expect(api.status()).toBe(403);
  await context.close();
});
