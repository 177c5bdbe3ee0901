// The accounts the end-to-end portal starts with (created by playwright.config.ts).
// An admin (sees every section) and a developer (sees their own).
export const E2E_USER = 'e2e';
export const E2E_DEVELOPER = 'e2e-dev';
// A developer who maintains no app of the tests (secrets: may look, not change).
export const E2E_OTHER_DEVELOPER = 'e2e-devon';
// A customer whose password the account test changes.
export const E2E_PASSWORD_CHANGER = 'e2e-pat';
// Customers who create databases (the databases test), and one who must not see them.
export const E2E_CUSTOMER = 'e2e-cora';
export const E2E_OTHER_CUSTOMER = 'e2e-carl';
export const E2E_PASSWORD = 'e2e-password-long-enough';
// Where the setup project keeps the signed-in browser state for the other tests.
export const SIGNED_IN_STATE = 'test-results/.auth/e2e.json';
