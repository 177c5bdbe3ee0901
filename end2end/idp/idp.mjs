// A real OpenID Connect provider for the end-to-end tests (npm oidc-provider).
//
// Two issuers, as a portal with several providers sees them:
// - "corp" on 127.0.0.1:9400 puts the groups claim in the ID token;
// - "partner" on 127.0.0.1:9401 keeps the ID token minimal, so the portal
//   must read the groups from userinfo.
// Any login name is accepted (the built-in dev login form); the name decides
// the groups (see GROUPS). `POST /__rotate-keys` on corp replaces its
// signing key, as a provider rotating keys does.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const PORTAL = process.env.PORTAL_URL ?? 'http://localhost:3100';
export const CLIENT_SECRET = 'e2e-client-secret-not-for-production';

/// Login name prefix → groups.
function groupsFor(login) {
  if (login.startsWith('sso-admin')) return ['portal-admins', 'staff'];
  if (login.startsWith('sso-dev') || login.startsWith('partner-dev')) return ['developers'];
  if (login.startsWith('sso-customer')) return ['customers'];
  return ['sales'];
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

function provider(issuer, id, conform) {
  return new Provider(issuer, {
    clients: [
      {
        client_id: 'dscloud-portal',
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${PORTAL}/auth/sso/${id}/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    conformIdTokenClaims: conform,
    jwks: { keys: [signingKey()] },
    // A fresh key per instance: the two issuers share a host (cookies ignore
    // ports), and a rotated provider forgets who was signed in.
    cookies: { keys: [randomUUID()] },
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email: `${sub}@${id}.test`,
            email_verified: true,
            name: `${sub} (${id})`,
            preferred_username: sub,
            groups: groupsFor(sub),
          };
        },
      };
    },
    // Consent is given at once: the tests are about the portal, not the IdP.
    async loadExistingGrant(ctx) {
      const existing = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (existing) return ctx.oidc.provider.Grant.find(existing);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile groups');
      grant.addOIDCClaims(['email', 'email_verified', 'name', 'preferred_username', 'groups']);
      await grant.save();
      return grant;
    },
  });
}

function serve(port, id, conform) {
  const issuer = `http://127.0.0.1:${port}`;
  let current = provider(issuer, id, conform);
  http
    .createServer((request, response) => {
      if (request.method === 'POST' && request.url === '/__rotate-keys') {
        current = provider(issuer, id, conform);
        response.end('rotated');
        return;
      }
      current.callback()(request, response);
    })
    .listen(port, '127.0.0.1', () => console.log(`${id} OpenID provider on ${issuer}`));
}

serve(9400, 'corp', false);
serve(9401, 'partner', true);
