import { expect, Page, test } from '@playwright/test';
import { E2E_CUSTOMER } from '../accounts';
import { signedInAs } from '../helpers';

// Every form that changes something, posted with JavaScript off: the
// server answers the plain form post and sends the browser back to the
// page, which shows the change (or why not).

/** Reloads until the database page shows `status` (no live updates without JavaScript). */
async function reloadUntil(page: Page, status: string) {
  await expect
    .poll(
      async () => {
        await page.reload();
        return page.locator('section.database').getAttribute('data-status');
      },
      { timeout: 30_000, intervals: [500] },
    )
    .toBe(status);
}

test('a customer resizes, parks, resumes, protects, rotates and terminates a database without JavaScript', async ({ browser, baseURL }) => {
  test.setTimeout(90_000);
  const { context, page } = await signedInAs(browser, baseURL, E2E_CUSTOMER, '/databases/new', false);
  const name = `nojs-${Date.now().toString(36)}`;
  const form = page.getByRole('form', { name: 'Create database' });
  await form.getByRole('textbox', { name: /^Name/ }).fill(name);
  await form.getByLabel('PostgreSQL').check();
  await form.getByRole('button', { name: 'Create database' }).click();
  await expect(page).toHaveURL(/\/databases\/[0-9a-f-]{36}$/);
  const url = page.url();
  await reloadUntil(page, 'ACTIVE');
  // The form post answers with a redirect back to the page (its address
  // may gain an empty query).
  const backOnThePage = () => expect(page).toHaveURL((address) => address.pathname === new URL(url).pathname);
  const asked = (label: string) => page.getByRole('region', { name: new RegExp(`^${label}, asked by ${E2E_CUSTOMER}`) });

  // Resize: back on the page, with the new size chosen and the request on the timeline.
  await page.getByRole('combobox', { name: 'Size' }).selectOption('small');
  await page.getByRole('button', { name: 'Resize' }).click();
  await backOnThePage();
  await expect(page.getByRole('combobox', { name: 'Size' })).toHaveValue('small');
  await expect(asked('Resize')).toBeVisible();

  // Park, then resume.
  await page.getByRole('button', { name: 'Park' }).click();
  await backOnThePage();
  await expect(page.getByRole('button', { name: 'Resume' })).toBeVisible();
  await expect(asked('Park')).toBeVisible();
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByRole('button', { name: 'Park' })).toBeVisible();
  await expect(asked('Resume')).toBeVisible();

  // Deletion protection on: a terminate is refused with the reason.
  await page.getByRole('button', { name: 'Turn deletion protection on' }).click();
  await expect(page.getByText('Deletion protection on', { exact: true })).toBeVisible();
  await page.getByText('Terminate…').click();
  await page.getByLabel(`Type ${name} to confirm`).fill(name);
  await page.getByRole('button', { name: 'Terminate database' }).click();
  await expect(page.getByRole('alert')).toContainText('deletion protection on');
  await page.getByRole('button', { name: 'Turn deletion protection off' }).click();
  await expect(page.getByText('Deletion protection off', { exact: true })).toBeVisible();

  // A new password, once the database is ACTIVE again.
  await reloadUntil(page, 'ACTIVE');
  await page.getByText('Rotate the password…').click();
  await page.getByRole('button', { name: 'Rotate the password' }).click();
  await backOnThePage();
  await expect(asked('Password rotation')).toBeVisible();

  // Terminate, confirmed by name.
  await page.getByText('Terminate…').click();
  await page.getByLabel(`Type ${name} to confirm`).fill(name);
  await page.getByRole('button', { name: 'Terminate database' }).click();
  await backOnThePage();
  await expect(asked('Terminate')).toBeVisible();
  await reloadUntil(page, 'TERMINATED');
  await context.close();
});

test('an admin changes a role, disables, ends the sessions of and deletes a user without JavaScript; the user changes their password without it', async ({ page, browser, baseURL }) => {
  // The user is created with JavaScript on: the generated password is the
  // action's answer, shown by the hydrated page.
  const name = `nojs-user-${Date.now().toString(36)}`;
  await page.goto('/admin/users');
  const create = page.getByRole('form', { name: 'Create a local user' });
  await create.getByLabel('Username').fill(name);
  await create.getByRole('button', { name: 'Create user' }).click();
  const password = (await page.locator('code.secret').textContent()) ?? '';
  expect(password.length).toBeGreaterThanOrEqual(12);

  // The user must choose their own password first: the form, posted plainly.
  const theirs = await browser.newContext({ baseURL, javaScriptEnabled: false, storageState: { cookies: [], origins: [] } });
  const them = await theirs.newPage();
  await them.goto('/sign-in');
  await them.getByLabel('Username').fill(name);
  await them.getByLabel('Password').fill(password);
  await them.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(them).toHaveURL('/account?must_change=1');
  const change = them.getByRole('form', { name: 'Change my password' });
  await change.getByLabel('Current password').fill(password);
  await change.getByLabel('New password (at least 12 characters)').fill('a brand new passphrase');
  await change.getByLabel('New password, again').fill('a brand new passphrase');
  await change.getByRole('button', { name: 'Change password' }).click();
  // Changed: the portal no longer sends them back to the account page.
  await them.goto('/databases');
  await expect(them).toHaveURL('/databases');

  // The admin, with JavaScript off. Creating a user is the one form that
  // waits for JavaScript: its answer is the password, shown once.
  const admins = await browser.newContext({ baseURL, javaScriptEnabled: false });
  const admin = await admins.newPage();
  await admin.goto('/admin/users');
  await expect(admin.getByRole('button', { name: 'Create user' })).toBeDisabled();
  await expect(admin.getByTestId('create-user-needs-javascript')).toBeVisible();
  await admin.goto(`/admin/users?q=${name}`);
  const row = admin.locator(`tr[data-username="${name}"]`);
  await row.getByLabel(`Role of ${name}`).selectOption('developer');
  await row.getByRole('button', { name: 'Save role' }).click();
  await expect(admin).toHaveURL(new RegExp(`/admin/users`));
  await expect(row.getByLabel(`Role of ${name}`)).toHaveValue('developer');
  // The role change ended their session.
  await them.goto('/apps');
  await expect(them).toHaveURL(/\/sign-in/);

  await row.getByRole('button', { name: `Disable ${name}` }).click();
  await expect(row.locator('.badge')).toHaveText('disabled');
  await row.getByRole('button', { name: `Enable ${name}` }).click();
  await expect(row.locator('.badge')).toHaveText('active');

  // Signed in again, then ended by the admin.
  await them.goto('/sign-in');
  await them.getByLabel('Username').fill(name);
  await them.getByLabel('Password').fill('a brand new passphrase');
  await them.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(them.getByRole('banner')).toContainText('developer');
  await row.getByRole('button', { name: `End sessions of ${name}` }).click();
  await expect(admin).toHaveURL(new RegExp(`/admin/users`));
  await them.goto('/apps');
  await expect(them).toHaveURL(/\/sign-in/);

  await row.getByText('Delete…').click();
  await row.getByRole('button', { name: `Delete ${name} for good` }).click();
  await expect(admin.locator(`tr[data-username="${name}"]`)).toHaveCount(0);
  await theirs.close();
  await admins.close();
});
