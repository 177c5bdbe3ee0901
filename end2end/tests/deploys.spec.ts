import { expect, Page, test } from '@playwright/test';
import { E2E_CUSTOMER, E2E_DEVELOPER } from '../accounts';
import { repository, signedInAs } from '../helpers';

// A developer pushes commits to a repository this test makes and watches the
// deploy engine take each through dev → test → prod on the embedded sandbox:
// a commit whose integration tests fail in test (the repository's own test
// variables say so, through the sandbox's documented SANDBOX_EXIT_CODE) is
// rolled back there with its exit code and log on the page; prod is rolled
// back by hand from the history and held; a release waits for approval
// before prod. A customer sees none of it.

/** web in every environment; its tests in `test` end with `testExit`. */
function dscloudYaml(version: string, testExit: number) {
  const environments = ['dev', 'test', 'prod']
    .map((environment) => `      ${environment}:\n        VERSION: "${version}"\n`)
    .join('');
  return `microservices:
  web:
    environmentConfiguration:
${environments}    integrationTests:
      test:
        env:
          SANDBOX_EXIT_CODE: "${testExit}"
          SANDBOX_LOG: "checkout suite: ${testExit === 0 ? 'all passed' : '1 failed: pay with a saved card'}"
`;
}

function row(page: Page, environment: string, sha: string) {
  return page.locator(`tr[data-environment="${environment}"][data-sha="${sha}"]`).first();
}

// Polls every 10 s at the shortest, then three environments: generous.
const PROMOTED = { timeout: 60_000 };

test('a developer watches commits go dev → test → prod, sees a failed test rolled back, rolls prod back and approves a release', async ({ browser, baseURL }) => {
  test.setTimeout(300_000);
  const repo = repository();
  const first = repo.commit(dscloudYaml('1', 0), 'First version');
  const name = `shop-${Date.now().toString(36)}`;
  const { context, page } = await signedInAs(browser, baseURL, E2E_DEVELOPER, '/apps/new');
  const form = page.getByRole('form', { name: 'Register app' });
  await form.getByRole('textbox', { name: /^Name/ }).fill(name);
  await form.getByRole('textbox', { name: /^Repository URL/ }).fill(repo.url);
  await form.getByRole('spinbutton', { name: /Check for new commits/ }).fill('10');
  await form.getByRole('button', { name: 'Register' }).click();
  await expect(page.locator(`[data-registered="${name}"]`)).toBeVisible();

  // The history of this app, watched without a reload.
  await page.goto(`/deploys?app=${name}`);
  let navigations = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });
  for (const environment of ['dev', 'test', 'prod']) {
    await expect(row(page, environment, first).locator('[data-status]')).toHaveText('succeeded', PROMOTED);
  }
  expect(navigations).toBe(0);
  await expect(row(page, 'test', first)).toContainText('promotion from dev');
  await expect(row(page, 'test', first)).toContainText('web passed');
  await expect(page.locator('[data-environments] [data-environment="prod"]')).toContainText(first.slice(0, 7));

  // A commit whose tests fail in test: rolled back there, prod untouched.
  const broken = repo.commit(dscloudYaml('2', 3), 'Break checkout');
  await expect(row(page, 'test', broken).locator('[data-status]')).toHaveText('failed', PROMOTED);
  await expect(row(page, 'test', broken)).toContainText('web failed (exit code 3)');
  await expect(page.locator('tr[data-environment="test"]').filter({ hasText: `automatic rollback of ${broken.slice(0, 7)}` }).locator('[data-status]'))
    .toHaveText('succeeded', PROMOTED);
  await expect(row(page, 'prod', broken)).toHaveCount(0);
  await row(page, 'test', broken).getByRole('link').first().click();
  await expect(page.locator('[data-reason]')).toContainText('integration tests of web failed: exit code 3');
  const failedStep = page.locator('[data-steps] .step-failed').first();
  await expect(failedStep).toContainText('test web');
  await expect(failedStep.locator('[data-exit-code="3"]')).toBeVisible();
  await expect(failedStep.locator('pre.log')).toContainText('1 failed: pay with a saved card');

  // A good commit reaches prod; then prod is rolled back by hand to the first.
  const third = repo.commit(dscloudYaml('3', 0), 'Fix checkout');
  await page.goto(`/deploys?app=${name}`);
  await expect(row(page, 'prod', third).locator('[data-status]')).toHaveText('succeeded', PROMOTED);
  const firstInProd = row(page, 'prod', first);
  await firstInProd.getByRole('textbox', { name: 'Why' }).fill('checkout is slow since 3');
  await firstInProd.getByRole('button', { name: 'Roll back to this' }).click();
  await expect(page.locator('[data-environments] [data-environment="prod"] [data-hold]')).toContainText(`held by ${E2E_DEVELOPER}`, PROMOTED);
  await expect(page.locator('[data-environments] [data-environment="prod"] [data-hold]')).toContainText('checkout is slow since 3');
  await expect(page.locator('tr[data-environment="prod"]').filter({ hasText: `rollback by ${E2E_DEVELOPER}` }).locator('[data-status]'))
    .toHaveText('succeeded', PROMOTED);

  // Approvals before prod; the hold lifted; the next release waits, then is approved.
  const prodCard = page.locator('[data-environments] [data-environment="prod"]');
  await prodCard.getByRole('combobox', { name: 'Approval' }).selectOption('true');
  await prodCard.getByRole('button', { name: 'Save rules' }).click();
  await expect(prodCard.getByRole('status')).toContainText('Saved.');
  await prodCard.getByRole('button', { name: 'Lift the hold' }).click();
  await expect(prodCard.locator('[data-hold]')).toHaveCount(0, PROMOTED);
  const fourth = repo.commit(dscloudYaml('4', 0), 'Faster checkout');
  await expect(row(page, 'prod', fourth).locator('[data-status]')).toHaveText('awaiting approval', PROMOTED);
  await row(page, 'prod', fourth).getByRole('textbox', { name: 'Comment' }).fill('ship it');
  await row(page, 'prod', fourth).getByRole('button', { name: 'Approve' }).click();
  await expect(row(page, 'prod', fourth).locator('[data-status]')).toHaveText('succeeded', PROMOTED);
  await expect(row(page, 'prod', fourth)).toContainText(`approved by ${E2E_DEVELOPER}`);

  // The matrix: what runs where, and the app page's live workloads.
  await page.goto(`/environments?q=${name}`);
  const matrixRow = page.locator(`tr[data-app="${name}"]`);
  await expect(matrixRow.locator('td[data-environment="prod"]')).toContainText(fourth.slice(0, 7));
  await expect(matrixRow.locator('td[data-environment="test"]')).toContainText('tests 1/1');
  await page.goto(`/apps/${name}`);
  await expect(page.locator('[data-workloads] [data-environment="prod"] [data-workload="Deployment/web"]')).toContainText('1 ready');
  // A release's promotion, side by side.
  await page.goto(`/apps/${name}/releases/${broken}`);
  await expect(page.locator('[data-promotion] [data-environment="test"]')).toContainText('exit code 3');
  await expect(page.locator('[data-promotion] [data-environment="prod"]')).toContainText('Not deployed here.');

  // Across every app, filtered by status.
  await page.goto(`/deploys?status=Failed&who=${broken.slice(0, 10)}`);
  await expect(row(page, 'test', broken)).toBeVisible();
  await expect(page.locator('tbody tr')).toHaveCount(1);
  await context.close();
});

test('a customer sees no deployment', async ({ browser, baseURL }) => {
  const { context, page } = await signedInAs(browser, baseURL, E2E_CUSTOMER, '/databases');
  for (const path of ['/deploys', '/deploys/1']) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(403);
  }
  const api = await page.request.post('/api/list_deployments', { form: { 'filter[app]': '' } });
  expect(api.status()).toBe(403);
  await context.close();
});
