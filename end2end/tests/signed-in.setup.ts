import { expect, test as setup } from '@playwright/test';
import { E2E_PASSWORD, E2E_USER, SIGNED_IN_STATE } from '../accounts';

// Signs in through the real form once; the other tests reuse the session.
setup('sign in', async ({ page }) => {
  await page.goto('/sign-in');
  await page.getByLabel('Username').fill(E2E_USER);
  await page.getByLabel('Password').fill(E2E_PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByRole('banner')).toContainText('E2E Admin');
  await page.context().storageState({ path: SIGNED_IN_STATE });
});
