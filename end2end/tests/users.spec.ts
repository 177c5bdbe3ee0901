import { expect, test } from '@playwright/test';
import { E2E_USER } from '../accounts';

// The admin's users and audit pages, with a second browser for the user
// being managed. Runs as the signed-in admin (the setup project's session).

test("the admin creates a user, changes their role, and that user's open session ends", async ({ page, browser, baseURL }) => {
  const name = `victim-${Date.now().toString(36)}`;
  await page.goto('/admin/users');
  const create = page.getByRole('form', { name: 'Create a local user' });
  await create.getByLabel('Username').fill(name);
  await create.getByLabel('Display name (optional)').fill('Vic Tim');
  await create.getByLabel('Role').selectOption('developer');
  await create.getByRole('button', { name: 'Create user' }).click();
  const password = (await page.locator('code.secret').textContent()) ?? '';
  expect(password.length).toBeGreaterThanOrEqual(12);

  // The new user signs in, in a browser of their own.
  const theirs = await browser.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  const them = await theirs.newPage();
  await them.goto('/sign-in');
  await them.getByLabel('Username').fill(name);
  await them.getByLabel('Password').fill(password);
  await them.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(them.getByRole('banner')).toContainText('developer');
  // The admin saw that password: they choose their own before anything else.
  await expect(them).toHaveURL('/account?must_change=1');
  await expect(them.getByTestId('must-change-password')).toBeVisible();
  await them.goto('/apps');
  await expect(them).toHaveURL('/account?must_change=1');

  // The admin finds them and makes them a customer. The list is read again
  // for the search: its answer re-renders the row, so the role is chosen
  // only once that answer is in (under load it came after the choice and
  // put "developer" back before Save).
  await page.getByRole('searchbox').fill(name);
  await Promise.all([
    page.waitForResponse((response) => response.url().endsWith('/api/list_users')),
    page.getByRole('button', { name: 'Search' }).click(),
  ]);
  await expect(page).toHaveURL(new RegExp(`q=${name}`));
  const row = page.locator(`tr[data-username="${name}"]`);
  await expect(row).toContainText('Vic Tim');
  await expect(row).toContainText('password');
  await row.getByLabel(`Role of ${name}`).selectOption('customer');
  // The select shows the choice at once; the session ends when the server
  // has saved it. Under load their next page came first, was sent to the
  // must-change page, and only then lost its session.
  await Promise.all([
    page.waitForResponse((response) => response.url().endsWith('/api/update_user') && response.ok()),
    row.getByRole('button', { name: 'Save role' }).click(),
  ]);
  await expect(row.getByLabel(`Role of ${name}`)).toHaveValue('customer');

  // Their session ended: the next page they open asks them to sign in.
  await them.goto('/apps/validate');
  await expect(them).toHaveURL('/sign-in?next=/apps/validate');
  await theirs.close();

  // A refusal is shown until the next action; a later success clears it.
  await page.getByRole('searchbox').fill(E2E_USER);
  await page.getByRole('button', { name: 'Search' }).click();
  const mine = page.locator(`tr[data-username="${E2E_USER}"]`);
  await mine.getByText('Delete…').click();
  await mine.getByRole('button', { name: `Delete ${E2E_USER} for good` }).click();
  await expect(page.getByRole('alert')).toContainText('you cannot delete your own account');
  await page.getByRole('searchbox').fill(name);
  await page.getByRole('button', { name: 'Search' }).click();
  await row.getByRole('button', { name: `End sessions of ${name}` }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Sessions ended: 0.' })).toBeVisible();
  await expect(page.getByRole('alert')).toHaveCount(0);

  // The audit log says who did it, to whom, and what changed.
  await page.goto(`/admin/audit?action=user.update_access&target=user:${name}`);
  const events = page.getByRole('table');
  await expect(events).toContainText('e2e');
  await expect(events).toContainText(`user:${name}`);
  // Details read as lines of key and value, not as JSON.
  await expect(events.locator('.audit-details')).toContainText('after.role: customer');
  await expect(events.locator('.audit-details')).toContainText('sessions_ended: 1');
  await expect(events).not.toContainText('{"');
  // The action filter offers the known actions.
  const action = page.getByRole('form', { name: 'Filter the audit log' }).getByLabel('Action');
  await expect(action).toHaveValue('user.update_access');
  await expect(action.locator('option', { hasText: 'database.terminate' })).toHaveCount(1);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'CSV' }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^dscloud-audit-.*\.csv$/);
  // The JSON export holds objects and RFC 3339 times.
  const exported = await page.request.get(
    `/admin/audit/export?format=json&action=user.update_access&target=user:${name}`,
  );
  const [first] = await exported.json();
  expect(first.details.after.role).toBe('customer');
  expect(first.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
});
