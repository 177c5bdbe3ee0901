import { expect, test } from '@playwright/test';

// The same pages with JavaScript off: everything must still be readable and
// reachable through plain links (progressive enhancement).
test.use({ javaScriptEnabled: false });

test('the home page renders completely without JavaScript', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(
    'Databases and deployments, self-service',
  );
  // The admin may open every section: one card each; first the users, the
  // newest audit events and how the engines are doing.
  await expect(page.getByRole('article')).toHaveCount(7);
  await expect(page.getByTestId('users-glance')).toContainText(/\d+ users/);
  await expect(page.getByTestId('audit-glance').getByRole('listitem').first()).toBeVisible();
  const engines = page.getByTestId('engines-glance');
  await expect(engines.locator('li[data-engine^="provisioning/"]')).toContainText(/idle|working|failing/);
  await expect(engines.locator('li[data-engine="deploy"]')).toBeVisible();
  await expect(engines.locator('li[data-engine="git-poller"]')).toBeVisible();
  // A customer's glance is not the admin's.
  await expect(page.getByRole('region', { name: 'Your databases' })).toHaveCount(0);
});

test('the theme switch works as a plain form and brings the person back to the same page', async ({ page, context }) => {
  await page.goto('/deploys?status=Failed');
  const html = page.locator('html');
  await expect(html).toHaveAttribute('data-theme', 'system');
  const toggle = page.getByRole('button', { name: /^Theme:/ });
  await toggle.click();
  await expect(page).toHaveURL('/deploys?status=Failed');
  await expect(html).toHaveAttribute('data-theme', 'light');
  await page.getByRole('button', { name: /^Theme:/ }).click();
  await expect(html).toHaveAttribute('data-theme', 'dark');
  await expect(page.getByRole('button', { name: /^Theme:/ })).toHaveAccessibleName('Theme: dark. Switch to system');
  const cookie = (await context.cookies()).find((cookie) => cookie.name === 'theme');
  expect(cookie?.value).toBe('dark');
});

test('links navigate with full page loads', async ({ page }) => {
  await page.goto('/');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Secrets' }).click();
  await expect(page).toHaveURL('/secrets');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Secrets');
  await expect(nav.getByRole('link', { name: 'Secrets' })).toHaveAttribute('aria-current', 'page');
  await page.getByRole('link', { name: 'DSCloud Portal' }).first().click();
  await expect(page).toHaveURL('/');
  // The deploy history renders and filters with plain GET forms.
  await nav.getByRole('link', { name: 'Deploys' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Deploys');
  const filters = page.getByRole('form', { name: 'Filter the history' });
  await filters.getByRole('combobox', { name: 'Status' }).selectOption('Failed');
  await filters.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/status=Failed/);
  await expect(filters.getByRole('combobox', { name: 'Status' })).toHaveValue('Failed');
});

test('the 404 page works without JavaScript', async ({ page }) => {
  const response = await page.goto('/missing');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Page not found');
});

test('the footer says the portal runs on the built-in Kubernetes sandbox', async ({ page }) => {
  await page.goto('/');
  const notice = page.locator('footer [data-kubernetes="sandbox"]');
  await expect(notice).toContainText('Running on the built-in Kubernetes sandbox, not a real cluster');
  await expect(notice.locator('code')).toHaveText(/^kubectl --kubeconfig \/.+\/sandbox\.kubeconfig get ns$/);
});
