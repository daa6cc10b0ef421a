// The admin console in a real browser against the real binary, with the
// privacy center beside it: approve and download, deny with a reason,
// extend, pause, a legal hold; the queue's filters; keyboard only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSuite, launch, newPage, check, codeOf, admin, startService, connect, submitVerified, signIn, followAsSubject,
} from './harness.mjs';

let suite, browser, service;
before(async () => {
  suite = await startSuite(); browser = await launch(); service = await startService();
  await connect(suite, service);
  // Erasures at once, without the 30-day grace period, so the journeys end.
  const s = await fetch(`${suite.base}/api/admin/demo/settings`, {
    method: 'PATCH', headers: { Authorization: `Bearer ${suite.token}`, 'Content-Type': 'application/merge-patch+json' },
    body: JSON.stringify({ erasureGraceDays: 0 }),
  });
  assert.equal(s.status, 200);
});
after(async () => { await browser?.close(); await suite?.stop(); await service?.close(); });

const API_REFUSAL = /Failed to load resource: the server responded with a status of 4\d\d/;

async function openInConsole(page, id) {
  await page.getByRole('link', { name: id }).click();
  await page.getByRole('heading', { name: `Request ${id}` }).waitFor();
}

test('submit, verify, approve in the console, download', async () => {
  const subject = await newPage(browser);
  await subject.goto(`${suite.base}/api/center/demo/`);
  await subject.getByLabel(/What do you want to do/).selectOption('export');
  await subject.getByLabel(/Email address/).fill('grace@example.com');
  await subject.getByLabel(/Country where you live/).selectOption('FR');
  await subject.getByRole('button', { name: 'Send request' }).click();
  await subject.getByRole('heading', { name: 'Check your email' }).waitFor();
  const { id } = await subject.evaluate(() => JSON.parse(sessionStorage.getItem('privops:demo')));
  await subject.getByLabel(/^Code/).fill(await codeOf(suite, id));
  await subject.getByRole('button', { name: 'Confirm' }).click();
  await subject.getByRole('heading', { name: 'Your request', exact: true }).waitFor();

  const page = await newPage(browser, { allow: [API_REFUSAL] });
  await page.goto(`${suite.base}/api/console/`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await check(page, 'console-signin');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  await check(page, 'console-signin-errors');
  await signIn(page, suite);
  await check(page, 'console-queue');
  await openInConsole(page, id);
  await check(page, 'console-detail-deciding');
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.getByText('Approve: done.').waitFor();
  // The export runs on the queue; the board shows the task done.
  for (let i = 0; i < 50; i++) {
    if (await page.getByRole('link', { name: 'Download the export package' }).count()) break;
    await page.waitForTimeout(200);
    await page.reload();
    await page.getByRole('link', { name: id }).click();
    await page.getByRole('heading', { name: `Request ${id}` }).waitFor();
  }
  assert.match(await page.locator('table').innerText(), /CRM\s+export\s+done/);
  await check(page, 'console-detail-completed');
  const [cert] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the certificate' }).click()]);
  assert.match(cert.suggestedFilename(), /^certificate-dsr_.*\.txt$/);
  const [pkg] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download the export package' }).click()]);
  assert.match(pkg.suggestedFilename(), /\.zip$/);

  await subject.getByRole('button', { name: 'Refresh' }).click();
  const [dl] = await Promise.all([subject.waitForEvent('download'), subject.getByRole('link', { name: /Download your data/ }).click()]);
  assert.match(dl.suggestedFilename(), /\.zip$/);
  await page.context().close();
  await subject.context().close();
});

test('deny with a reason; the subject reads it in Chinese', async () => {
  const sub = await submitVerified(suite, { type: 'access', email: 'wei@example.com', country: 'CN', language: 'zh-Hans' });
  const page = await newPage(browser, { allow: [API_REFUSAL] });
  await signIn(page, suite);
  await openInConsole(page, sub.id);
  await page.getByRole('button', { name: 'Deny' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.equal(await alert.evaluate((e) => e === document.activeElement), true, 'the error summary has focus');
  await check(page, 'console-deny-error');
  await page.getByLabel('Reason for the subject (mailed)').fill('We hold no account for this address.');
  await page.getByRole('button', { name: 'Deny' }).click();
  await page.getByText('Deny: done.').waitFor();
  assert.match(await page.locator('dl').innerText(), /denied/);

  const subject = await newPage(browser, { locale: 'zh-CN' });
  await followAsSubject(subject, suite, sub);
  assert.match(await subject.locator('main').innerText(), /已拒绝[\s\S]*We hold no account/);
  await check(subject, 'center-zh-denied');
  await page.context().close();
  await subject.context().close();
});

test('extend and pause: the subject sees the reason and the question', async () => {
  const sub = await submitVerified(suite, { type: 'access', email: 'mary@example.com', country: 'GB' });
  const page = await newPage(browser);
  await signIn(page, suite);
  await openInConsole(page, sub.id);
  await page.getByLabel('Reason for the extension (mailed)').fill('Your request covers many systems.');
  await page.getByRole('button', { name: 'Extend' }).click();
  await page.getByText('Extend: done.').waitFor();
  await page.getByLabel(/Question for the subject/).fill('Which of your accounts do you mean?');
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.getByText('Pause: done.').waitFor();
  assert.match(await page.locator('dl').innerText(), /Paused\s+waiting for the subject/);
  await check(page, 'console-detail-paused');

  const subject = await newPage(browser);
  await followAsSubject(subject, suite, sub);
  const text = await subject.locator('main').innerText();
  assert.match(text, /Why: Your request covers many systems\./);
  assert.match(text, /Our question: Which of your accounts do you mean\?/);
  assert.match(text, /Law that sets the deadline\s+EU General Data Protection Regulation/);
  await check(subject, 'center-en-extended-paused');
  await page.context().close();
  await subject.context().close();
});

test('a legal hold defers the erasure; the subject is told', async () => {
  const sub = await submitVerified(suite, { type: 'erase', email: 'hold@example.com', country: 'DE' });
  const page = await newPage(browser);
  await signIn(page, suite);
  await openInConsole(page, sub.id);
  await page.getByLabel(/Legal ground/).selectOption('legal-claims');
  await page.getByLabel(/Internal reason/).fill('Litigation 2026-17');
  await page.getByRole('button', { name: 'Place a legal hold on this subject' }).click();
  await page.getByText(/Legal hold placed/).waitFor();
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.getByText('Approve: done.').waitFor();
  for (let i = 0; i < 50 && !/held/.test(await page.locator('main').innerText()); i++) {
    await page.waitForTimeout(200);
    await page.getByRole('button', { name: '← Back to the queue' }).click();
    await openInConsole(page, sub.id);
  }
  assert.match(await page.locator('table').innerText(), /erase\s+held/);
  await check(page, 'console-detail-held');

  const subject = await newPage(browser);
  await followAsSubject(subject, suite, sub);
  assert.match(await subject.locator('dl').innerText(), /Completed, with exceptions|Being carried out/);
  await page.context().close();
  await subject.context().close();
});

test('the queue hides unverified requests unless asked', async () => {
  const r = await fetch(`${suite.base}/api/portal/demo/requests`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'access', email: 'late@example.com', country: 'IT' }),
  });
  const { id } = await r.json();
  const page = await newPage(browser);
  await signIn(page, suite);
  assert.equal(await page.getByRole('link', { name: id }).count(), 0);
  await page.getByLabel('Show unverified requests').check();
  await page.getByRole('link', { name: id }).waitFor();
  await page.getByLabel('Status').selectOption('denied');
  await page.getByRole('link', { name: id }).waitFor({ state: 'detached' });
  await check(page, 'console-queue-filtered');
  await page.context().close();
});

test('retry a failed task from the task board', async () => {
  const sub = await submitVerified(suite, { type: 'erase', email: 'flaky@example.com', country: 'DE' });
  const page = await newPage(browser);
  await signIn(page, suite);
  await openInConsole(page, sub.id);
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.getByText('Approve: done.').waitFor();
  for (let i = 0; i < 50 && !/erase\s+failed/.test(await page.locator('main').innerText()); i++) {
    await page.waitForTimeout(200);
    await page.getByRole('button', { name: '← Back to the queue' }).click();
    await openInConsole(page, sub.id);
  }
  assert.match(await page.locator('table').innerText(), /erase\s+failed/);
  await check(page, 'console-detail-failed');
  await page.getByRole('button', { name: 'Retry', exact: true }).click();
  await page.getByText(/^Retry CRM: done\./).waitFor();
  for (let i = 0; i < 50 && !/erase\s+done/.test(await page.locator('table').innerText()); i++) {
    await page.waitForTimeout(200);
    await page.getByRole('button', { name: '← Back to the queue' }).click();
    await openInConsole(page, sub.id);
  }
  assert.match(await page.locator('table').innerText(), /erase\s+done/);
  await page.context().close();
});

test('bulk approve on a filtered set, after a preview count', async () => {
  const ids = [];
  for (const email of ['bulk1@example.com', 'bulk2@example.com']) {
    ids.push((await submitVerified(suite, { type: 'object', email, country: 'ES' })).id);
  }
  await fetch(`${suite.base}/api/portal/demo/requests`, { // unverified: shown only on request, never acted on
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'object', email: 'bulk3@example.com', country: 'ES' }),
  });
  const page = await newPage(browser);
  await signIn(page, suite);
  await page.getByLabel('Type').selectOption('object');
  await page.getByRole('link', { name: ids[1] }).waitFor();
  await page.getByLabel('Action', { exact: true }).selectOption('approve');
  await page.getByRole('button', { name: 'Preview' }).click();
  const preview = page.locator('#c-bulk-preview');
  await preview.waitFor();
  assert.match(await preview.innerText(), /Approve 2 of the 2 requests shown/);
  assert.equal(await preview.evaluate((e) => e === document.activeElement), true, 'the preview count has focus');
  await check(page, 'console-bulk-preview');
  await page.getByRole('button', { name: 'Approve 2 requests' }).click();
  await page.getByText('Approve: 2 done.').waitFor();
  for (const id of ids) {
    const r = await admin(suite, 'GET', `/requests/${id}`);
    assert.notEqual(r.body.status, 'awaiting-decision', id);
    assert.equal(r.body.decision?.by, 'admin:demo-admin', `${id} approved by the console's admin`);
  }
  const left = await admin(suite, 'GET', '/requests?status=awaiting-verification&type=object');
  assert.equal(left.body.requests.length, 1, 'the unverified request was not touched');
  await page.context().close();
});
