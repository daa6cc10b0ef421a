// The index page, a keyboard-only journey through the privacy center, and
// the embeddable form on another origin (CORS), in a real browser against
// the real binary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startSuite, launch, newPage, check, codeOf } from './harness.mjs';

let suite, browser, host;
before(async () => {
  suite = await startSuite(); browser = await launch();
  // The tenant's own site on another origin, carrying the documented snippet
  // (README, "Privacy center and admin console").
  host = createServer((req, res) => {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tenant site</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${suite.base}/api/center/demo/center.css">
<script src="${suite.base}/api/center/demo/i18n.js" defer></script>
<script type="module" src="${suite.base}/api/center/demo/app.js"></script>
</head><body><main>
<div id="privops-center" data-tenant="demo" data-api="${suite.base}/api/portal/demo" data-name="Demo Tenant" data-lang="en"></div>
</main></body></html>`);
  });
  await new Promise((r) => host.listen(0, '127.0.0.1', r));
});
after(async () => { await browser?.close(); await suite?.stop(); await new Promise((r) => host?.close(r)); });

test('GET / links the demo privacy center and the admin console', async () => {
  const page = await newPage(browser);
  await page.goto(`${suite.base}/`);
  await check(page, 'index');
  await page.getByRole('link', { name: /Privacy center of the demo tenant/ }).click();
  await page.getByRole('heading', { name: 'Privacy requests' }).waitFor();
  await page.goBack();
  await page.getByRole('link', { name: /Admin console/ }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.context().close();
});

// tabTo presses Tab until the element with id has focus, and checks that
// the focus is visible (an outline is drawn).
async function tabTo(page, id) {
  for (let i = 0; i < 40; i++) {
    if (await page.evaluate((x) => document.activeElement?.id === x, id)) {
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      assert.notEqual(outline, 'none', `focus on #${id} is visible`);
      return;
    }
    await page.keyboard.press('Tab');
  }
  assert.fail(`Tab never reached #${id}`);
}

test('keyboard only: errors, form, code and status without a mouse', async () => {
  const page = await newPage(browser, { allow: [/Failed to load resource: the server responded with a status of 4\d\d/] });
  await page.goto(`${suite.base}/api/center/demo/`);
  await page.getByRole('heading', { name: 'Privacy requests' }).waitFor();
  // The skip link comes first.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
  // Submit empty: the summary takes focus; its first link leads to the field.
  await tabTo(page, 'pc-details');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').waitFor();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'pc-type');
  await check(page, 'keyboard-errors');

  await page.keyboard.type('Get a copy'); // a focused select picks by typing
  await page.keyboard.press('Tab');
  await tabTo(page, 'pc-email');
  await page.keyboard.type('kim@example.com');
  await tabTo(page, 'pc-country');
  await page.keyboard.type('Germany');
  await page.keyboard.press('Tab');
  assert.equal(await page.locator('#pc-type').inputValue(), 'access');
  assert.equal(await page.locator('#pc-country').inputValue(), 'DE');
  await tabTo(page, 'pc-details');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1', 'focus moves to the new step');
  const { id } = await page.evaluate(() => JSON.parse(sessionStorage.getItem('privops:demo')));
  await tabTo(page, 'pc-code');
  await page.keyboard.type(await codeOf(suite, id));
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Your request', exact: true }).waitFor();
  await check(page, 'keyboard-status');
  // Switch language from the keyboard: the page follows, focus stays put.
  await page.keyboard.press('Shift+Tab');
  await tabTo(page, await page.evaluate(() => { const b = document.querySelector('button[lang=zh-Hans]'); b.id = 'zh'; return 'zh'; }));
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: '您的请求', exact: true }).waitFor();
  await check(page, 'keyboard-status-zh');
  await page.context().close();
});

test('the embeddable form works from the tenant\'s own origin', async () => {
  const origin = `http://127.0.0.1:${host.address().port}`;
  const patch = await fetch(`${suite.base}/api/admin/demo/settings`, {
    method: 'PATCH', headers: { Authorization: `Bearer ${suite.token}`, 'Content-Type': 'application/merge-patch+json' },
    body: JSON.stringify({ portalOrigins: [origin] }),
  });
  assert.equal(patch.status, 200);
  const page = await newPage(browser);
  await page.goto(origin + '/');
  await page.getByRole('heading', { name: 'Privacy requests' }).waitFor();
  await check(page, 'embed-form');
  await page.getByLabel(/What do you want to do/).selectOption('access');
  await page.getByLabel(/Email address/).fill('embed@example.com');
  await page.getByLabel(/Country where you live/).selectOption('NL');
  await page.getByRole('button', { name: 'Send request' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  const { id } = await page.evaluate(() => JSON.parse(sessionStorage.getItem('privops:demo')));
  await page.getByLabel(/^Code/).fill(await codeOf(suite, id));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('heading', { name: 'Your request', exact: true }).waitFor();
  await check(page, 'embed-status');

  // Another origin is refused by the portal before anything is stored.
  const other = await fetch(`${suite.base}/api/portal/demo/requests`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Origin: 'https://evil.example' },
    body: JSON.stringify({ type: 'access', email: 'x@example.com', country: 'NL' }),
  });
  assert.equal(other.status, 403);
  await page.context().close();
});
