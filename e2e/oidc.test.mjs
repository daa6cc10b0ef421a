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
const grants = []; // every token-endpoint body
// idp.mode: 'long' issues the suite's 30-day token; 'refresh' a 3-minute one
// with a refresh token; 'short' a 3-minute one without.
const mode = { issue: 'long' };
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
        grants.push(Object.fromEntries(p));
        res.setHeader('Content-Type', 'application/json');
        if (p.get('grant_type') === 'refresh_token') {
          if (p.get('refresh_token') !== 'rt-1' || p.get('client_id') !== 'privops-console') { res.statusCode = 400; res.end('{"error":"invalid_grant"}'); return; }
          res.end(JSON.stringify({ access_token: suite.token, token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt-2' }));
          return;
        }
        const grant = codes.get(p.get('code'));
        codes.delete(p.get('code'));
        const challenge = createHash('sha256').update(p.get('code_verifier') || '').digest('base64url');
        res.setHeader('Content-Type', 'application/json');
        if (!grant || grant.challenge !== challenge || grant.redirect !== p.get('redirect_uri') || p.get('client_id') !== 'privops-console' ||
            p.get('grant_type') !== 'authorization_code') {
          res.statusCode = 400; res.end('{"error":"invalid_grant"}'); return;
        }
        if (mode.issue === 'long') { res.end(JSON.stringify({ access_token: suite.token, token_type: 'Bearer', expires_in: 3600 })); return; }
        res.end(JSON.stringify({ access_token: suite.mint('--ttl', '3m'), token_type: 'Bearer', expires_in: 120,
          ...(mode.issue === 'refresh' ? { refresh_token: 'rt-1' } : {}) }));
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

test('renewal: the refresh token buys a new access token before the old one expires', async () => {
  mode.issue = 'refresh';
  const page = await newPage(browser);
  await page.clock.install();
  await page.goto(`${suite.base}/api/console/`);
  await page.getByRole('button', { name: 'Sign in with your organisation' }).click();
  await page.getByRole('heading', { name: 'Requests', exact: true }).waitFor();
  const before = grants.length;
  await page.clock.fastForward(121000); // the 3-minute token has a minute left: renew
  await page.waitForFunction(() => JSON.parse(sessionStorage.getItem('privops:console')).refresh === 'rt-2');
  const g = grants.slice(before);
  assert.deepEqual(g.map((x) => [x.grant_type, x.refresh_token, x.client_id]), [['refresh_token', 'rt-1', 'privops-console']]);
  assert.equal(await page.evaluate(() => JSON.parse(sessionStorage.getItem('privops:console')).token), suite.token, 'the new access token is in use');
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Services' }).click();
  await page.getByRole('heading', { name: 'Services', exact: true }).waitFor();
  assert.equal(await page.getByRole('heading', { name: /Your sign-in/ }).count(), 0, 'renewed silently');
  await page.context().close();
});

test('renewal without a refresh token: sign in again, the page and its form come back', async () => {
  mode.issue = 'short';
  const page = await newPage(browser);
  await page.clock.install();
  await page.goto(`${suite.base}/api/console/`);
  await page.getByRole('button', { name: 'Sign in with your organisation' }).click();
  await page.getByRole('heading', { name: 'Requests', exact: true }).waitFor();
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Services' }).click();
  await page.getByRole('button', { name: 'Register a webhook service' }).click();
  await page.getByLabel('Name').fill('Billing (typed before the sign-in ended)');
  await page.clock.fastForward(121000);
  await page.getByRole('heading', { name: 'Your sign-in ends soon' }).waitFor();
  await check(page, 'console-renew-banner');
  const before = grants.length;
  mode.issue = 'long'; // the page's clock is two minutes ahead now: a fresh short token would look old at once
  await page.getByRole('button', { name: 'Sign in again' }).click();
  // The form's heading is on the page before the click too: wait for the
  // code flow's token call, then for the page it restores.
  for (let i = 0; i < 400 && grants.length === before; i++) await new Promise((r) => setTimeout(r, 25));
  await page.getByRole('heading', { name: 'Your sign-in ends soon' }).waitFor({ state: 'detached' });
  await page.getByRole('heading', { name: 'Register a webhook service' }).waitFor();
  assert.equal(await page.getByLabel('Name').inputValue(), 'Billing (typed before the sign-in ended)');
  assert.equal(grants.slice(before).map((x) => x.grant_type).join(), 'authorization_code', 'a new code flow, no refresh');
  assert.equal(new URL(page.url()).search, '');
  assert.equal(await page.getByRole('heading', { name: /Your sign-in/ }).count(), 0);
  await page.context().close();
});
