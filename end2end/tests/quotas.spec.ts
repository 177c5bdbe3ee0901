import { expect, test } from '@playwright/test';
import { E2E_OTHER_CUSTOMER } from '../accounts';
import { hydrated, signedInAs } from '../helpers';

// The admin's quotas page, with a second browser for the customer whose
// quota changes. Runs as the signed-in admin (the setup project's session).
// The customer only looks and tries: nothing here creates a database.

test('an admin gives a customer a quota of none; the create form says so and the create is refused with the reason', async ({ page, browser, baseURL }) => {
  await page.goto('/admin/quotas');
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Quotas');
  await expect(page.locator('[data-quota="default"]')).toContainText('databases');

  // A wrong field is named, and nothing is set.
  const own = page.getByRole('form', { name: 'Customer quota' });
  await own.getByLabel('Username').fill(E2E_OTHER_CUSTOMER);
  await own.getByLabel('Databases').fill('0');
  await own.getByLabel('vCPU').fill('lots');
  await own.getByRole('button', { name: 'Set their quota' }).click();
  await expect(page.getByRole('alert')).toContainText('vCPU: "lots" is not a number');
  await expect(page.locator(`tr[data-username="${E2E_OTHER_CUSTOMER}"]`)).toHaveCount(0);

  await own.getByLabel('vCPU').fill('0');
  await own.getByRole('button', { name: 'Set their quota' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Their quota is set.' })).toBeVisible();
  const row = page.locator(`tr[data-username="${E2E_OTHER_CUSTOMER}"]`);
  await expect(row).toContainText('0 databases');

  // The customer sees it before trying, and is told why when they try.
  const { context: theirs, page: them } = await signedInAs(browser, baseURL, E2E_OTHER_CUSTOMER, '/databases/new');
  await expect(them.getByTestId('quota-summary')).toContainText('None of the sizes fits');
  const form = them.getByRole('form', { name: 'Create database' });
  await form.getByRole('textbox', { name: /^Name/ }).fill(`quota-${Date.now().toString(36)}`);
  await form.getByRole('button', { name: 'Create database' }).click();
  await expect(them.getByRole('alert')).toContainText('over your quota: databases would be 1 database of your 0 databases');
  await expect(them).toHaveURL('/databases/new');

  // Back on the default: the row goes, and the form has room again.
  await row.getByRole('button', { name: `Put ${E2E_OTHER_CUSTOMER} back on the default quota` }).click();
  await expect(row).toHaveCount(0);
  await them.reload();
  await expect(them.getByTestId('quota-summary')).toContainText('Your quota (the default)');
  await expect(them.getByTestId('quota-summary')).not.toContainText('None of the sizes fits');
  await theirs.close();
});

test('customers cannot open the quotas page', async ({ browser, baseURL }) => {
  const { context: theirs, page: them } = await signedInAs(browser, baseURL, E2E_OTHER_CUSTOMER, '/databases');
  await expect(them.getByRole('navigation', { name: 'Main' })).not.toContainText('Quotas');
  const response = await them.goto('/admin/quotas');
  expect(response?.status()).toBe(403);
  await theirs.close();
});
