// The admin console signs in with an OpenID Connect provider: authorization
// code flow with PKCE (S256), a public client. The provider here is a small
// fake in Node that checks every parameter and the verifier against the
// challenge; the access token it issues is the suite's dev admin token, so
// the admin API accepts it as it would the provider's real one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { startSuite, launch, newPage, check } from './harness.mjs';

let suite, browser, idp;
const codes = new Map(); // code → {challenge, redirect}
const seen = [];
before(async () => {
  idp = createServer((req, res) => {
    const u = new URL(req.url, 'http://idp');
    const issuer = `http://127.0.0.1:${idp.address().port}`;
    res.setHeader('Access-Control-Allow-Origin', suite?.base || '*');
    if (u.pathname === '/.well-known/openid-configuration') {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token` }));
      return;
    }
    if (u.pathname === '/authorize') {
      const q = u.searchParams;
      seen.push(Object.fromEntries(q));
      const code = randomBytes(12).toString('hex');
      codes.set(code, { challenge: q.get('code_challenge'), redirect: q.get('redirect_uri') });
      res.statusCode = 302;
      res.setHeader('Location', `${q.get('redirect_uri')}?code=${code}&state=${encodeURIComponent(q.get('state'))}`);
      res.end();
      return;
    }
    if (u.pathname === '/token' && req.method === 'POST') {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const p = new URLSearchParams(body);
        const grant = codes.get(p.get('code'));
        codes.delete(p.get('code'));
        const challenge = createHash('sha256').update(p.get('code_verifier') || '').digest('base64url');
        res.setHeader('Content-Type', 'application/json');
        if (!grant || grant.challenge !== challenge || grant.redirect !== p.get('redirect_uri') || p.get('client_id') !== 'privops-console' ||
            p.get('grant_type') !== 'authorization_code') {
          res.statusCode = 400; res.end('{"error":"invalid_grant"}'); return;
        }
        res.end(JSON.stringify({ access_token: suite.token, token_type: 'Bearer', expires_in: 3600 }));
      });
      return;
    }
    res.statusCode = 404; res.end();
  });
  await new Promise((r) => idp.listen(0, '127.0.0.1', r));
  suite = await startSuite({ CONSOLE_OIDC_ISSUER: `http://127.0.0.1:${idp.address().port}`, CONSOLE_OIDC_CLIENT_ID: 'privops-console',
    CONSOLE_OIDC_SCOPE: 'openid privops/.default' });
  browser = await launch();
});
after(async () => { await browser?.close(); await suite?.stop(); await new Promise((r) => idp?.close(r)); });

test('sign in with the identity provider: code flow with PKCE', async () => {
  const page = await newPage(browser);
  await page.goto(`${suite.base}/api/console/`);
  await page.getByRole('button', { name: 'Sign in with your organisation' }).waitFor();
  await check(page, 'console-signin-oidc');
  await page.getByRole('button', { name: 'Sign in with your organisation' }).click();
  await page.getByRole('heading', { name: 'Requests', exact: true }).waitFor();
  const q = seen.at(-1);
  assert.equal(q.response_type, 'code');
  assert.equal(q.client_id, 'privops-console');
  assert.equal(q.scope, 'openid privops/.default');
  assert.equal(q.code_challenge_method, 'S256');
  assert.match(q.code_challenge, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(q.redirect_uri, `${suite.base}/api/console/`);
  assert.equal(new URL(page.url()).search, '', 'the code left the address bar');
  assert.match(await page.locator('#who').innerText(), /Tenant demo/);
  await check(page, 'console-queue-oidc');
  await page.context().close();
});

test('an answer this tab did not ask for is refused', async () => {
  const page = await newPage(browser);
  await page.goto(`${suite.base}/api/console/?code=forged&state=forged`);
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.innerText(), /does not belong to this tab/);
  assert.equal(new URL(page.url()).search, '');
  await check(page, 'console-signin-oidc-refused');
  await page.context().close();
});
