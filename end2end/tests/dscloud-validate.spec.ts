import { expect, test, type Page } from '@playwright/test';
import { hydrated } from '../helpers';

// The "Check a dscloud.yaml" page: the check runs in the browser (WASM) as the
// developer types; the Kubernetes objects come from the server.

const MISSPELT = `microservices:
  foo-api:
    environmentConfiguration:
      dev: { DATABASE_HOST: example-dev.com }
    deployment:
      cpuPct: 9000
    secretValue:
      - DATABASE_PASSWORD
`;

test('problems appear as the file is typed, each pointing at its line', async ({ page }) => {
  await page.goto('/apps/validate');
  await hydrated(page);
  const editor = page.getByLabel('dscloud.yaml');
  await editor.fill(MISSPELT);

  const results = page.getByRole('region', { name: 'Result' });
  await expect(results.getByRole('status')).toHaveText('2 errors');
  const problems = results.getByRole('listitem');
  await expect(problems).toHaveCount(2);
  await expect(problems.nth(0)).toContainText('Line 6, column 15');
  await expect(problems.nth(0)).toContainText('9000 is out of range: allowed 1 to 6400');
  await expect(problems.nth(1)).toContainText('microservices.foo-api.secretValue');
  await expect(problems.nth(1)).toContainText('did you mean secretValues?');
  // Names in messages are set as code.
  await expect(problems.nth(1).locator('code', { hasText: /^secretValues$/ })).toHaveCount(2);

  // The line button selects that line in the editor.
  await problems.nth(1).getByRole('button', { name: 'Line 7, column 5' }).click();
  await expect(editor).toBeFocused();
  const selected = await editor.evaluate(
    (element: HTMLTextAreaElement) => element.value.slice(element.selectionStart, element.selectionEnd),
  );
  expect(selected).toBe('    secretValue:');

  // Fixing the typo clears it at once, with no round trip.
  await editor.fill(MISSPELT.replace('secretValue:', 'secretValues:').replace('9000', '200'));
  await expect(results.getByRole('status')).toHaveText('Valid: 1 microservice');
});

test('a valid file shows its components per environment and their Kubernetes objects', async ({ page }) => {
  await page.goto('/apps/validate');
  await hydrated(page);
  await page.getByRole('button', { name: 'Load the example' }).click();
  const results = page.getByRole('region', { name: 'Result' });
  await expect(results.getByRole('status')).toHaveText('Valid: 1 microservice, 1 job, 1 cronjob');

  const environments = results.getByRole('region', { name: /^Environment / });
  await expect(environments).toHaveCount(3);
  await expect(environments.nth(0).getByRole('heading')).toHaveText('dev');
  const test = results.getByRole('region', { name: 'Environment test' });
  await expect(test.getByRole('row', { name: /foo-api/ })).toContainText('Deployment × 3');
  await expect(test.getByRole('row', { name: /foo-api/ })).toContainText('integration tests gate promotion');
  await expect(test.getByRole('row', { name: /foo-updater/ })).toContainText('CronJob, */10 * * * *');

  await page.getByLabel('App name').fill('shop');
  await test.getByRole('button', { name: 'Kubernetes objects' }).click();
  const yaml = test.locator('pre.manifests');
  await expect(yaml).toContainText('kind: Namespace');
  await expect(yaml).toContainText('name: shop-test');
  await expect(yaml).toContainText('name: foo-api-integration-tests-00000000');
  await expect(yaml).toContainText('nginx.ingress.kubernetes.io/rewrite-target: "/$2"');
});

test('a bad app name is refused by the server with the reason', async ({ page }) => {
  await page.goto('/apps/validate');
  await hydrated(page);
  await page.getByRole('button', { name: 'Load the example' }).click();
  await page.getByLabel('App name').fill('Not_Valid');
  const dev = page.getByRole('region', { name: 'Environment dev' });
  await dev.getByRole('button', { name: 'Kubernetes objects' }).click();
  await expect(dev.getByRole('alert')).toContainText('the app name `Not_Valid` is not a DNS-1123 label');
});

test('an uploaded file is checked like a pasted one', async ({ page }) => {
  await page.goto('/apps/validate');
  await hydrated(page);
  await page.getByText('Upload a file').setInputFiles({
    name: 'dscloud.yaml',
    mimeType: 'text/yaml',
    buffer: Buffer.from('jobs:\n  Migrate:\n    environmentConfiguration: {dev: {}}\n'),
  });
  await expect(page.getByLabel('dscloud.yaml')).toHaveValue(/Migrate/);
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('try migrate');
});

/**
 * What pasting a large file does: the whole value at once and one input
 * event. Playwright's fill types it into Chromium, which takes ~18 s for
 * 80 KB on this machine and made these tests time out under load.
 */
async function paste(page: Page, text: string) {
  await page.locator('#dscloud-text').evaluate((element: HTMLTextAreaElement, value: string) => {
    element.value = value;
    element.dispatchEvent(new Event('input', { bubbles: true }));
  }, text);
}

test('with JavaScript, Check sends nothing and the URL stays short', async ({ page }) => {
  await page.goto('/apps/validate');
  await hydrated(page);
  const navigations: string[] = [];
  page.on('request', (request) => {
    if (request.isNavigationRequest()) navigations.push(request.url());
  });
  await paste(page, MISSPELT + '# padding for a large file\n'.repeat(3000));
  // A CSS locator: role queries read the 80 KB textarea's text on each try.
  await page.locator('button[type=submit]', { hasText: 'Check' }).click();
  const results = page.getByRole('region', { name: 'Result' });
  await expect(results).toBeFocused();
  await expect(results.getByRole('status')).toHaveText('2 errors');
  await expect(page).toHaveURL(/\/apps\/validate$/);
  expect(navigations).toEqual([]);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the form posts the file and the server lists the problems', async ({ page }) => {
    await page.goto('/apps/validate');
    // Past the ~64 KB a URL may carry: posted, it still works.
    const long = MISSPELT + '# padding for a large file\n'.repeat(3000);
    await paste(page, long);
    const [request] = await Promise.all([
      page.waitForRequest((request) => request.isNavigationRequest()),
      page.locator('button[type=submit]', { hasText: 'Check' }).click(),
    ]);
    expect(request.method()).toBe('POST');
    await expect(page).toHaveURL(/\/apps\/validate$/);
    const results = page.getByRole('region', { name: 'Result' });
    await expect(results.getByRole('status')).toHaveText('2 errors');
    await expect(results).toContainText('did you mean secretValues?');
    // The text is still there to fix.
    await expect(page.getByLabel('dscloud.yaml')).toHaveValue(long);
  });
});

test('the JSON Schema is published for editors', async ({ request }) => {
  const response = await request.get('/schema/dscloud.json');
  expect(response.status()).toBe(200);
  expect(response.headers()['content-type']).toContain('application/schema+json');
  const schema = await response.json();
  expect(schema.title).toBe('dscloud.yaml');
  expect(Object.keys(schema.properties)).toEqual(['cronjobs', 'jobs', 'microservices']);
  expect(schema.$defs.Microservice.additionalProperties).toBe(false);
});
