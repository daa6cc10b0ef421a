// The privacy center in a real browser against the real binary: a subject
// submits, confirms with the mailed code, follows the status and downloads
// the export; bad input shows a focused error summary; both languages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSuite, launch, newPage, check, codeOf, admin, mail, startService, connect } from './harness.mjs';

let suite, browser, service;
before(async () => {
  suite = await startSuite(); browser = await launch(); service = await startService();
  await connect(suite, service);
});
after(async () => { await browser?.close(); await suite?.stop(); await service?.close(); });

const API_REFUSAL = /Failed to load resource: the server responded with a status of 4\d\d/;

test('submit, verify, approve, download (English)', async () => {
  const page = await newPage(browser, { allow: [API_REFUSAL] });
  await page.goto(`${suite.base}/api/center/demo/`);
  await page.getByRole('heading', { name: 'Privacy requests' }).waitFor();
  await check(page, 'center-en-form');

  // Empty submit: every required field is reported, the summary has focus.
  await page.getByRole('button', { name: 'Send request' }).click();
  const summary = page.getByRole('alert');
  await summary.waitFor();
  assert.equal(await summary.evaluate((e) => e === document.activeElement), true, 'the error summary has focus');
  assert.match(await summary.innerText(), /Choose what you want to do/);
  assert.equal(await page.getByLabel(/Email address/).getAttribute('aria-invalid'), 'true');
  await check(page, 'center-en-form-errors');

  await page.getByLabel(/What do you want to do/).selectOption('access');
  await page.getByLabel(/Email address/).fill('ada@example.com');
  await page.getByLabel(/Country where you live/).selectOption('DE');
  // A double click sends one request.
  await page.getByRole('button', { name: 'Send request' }).dblclick();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  const id = (await page.evaluate(() => JSON.parse(sessionStorage.getItem('privops:demo')))).id;
  assert.match(id, /^dsr_/);
  await check(page, 'center-en-code');

  await page.getByLabel(/^Code/).fill('000000');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').innerText(), /not right|expired/);
  await check(page, 'center-en-code-error');

  await page.getByLabel(/^Code/).fill(await codeOf(suite, id));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('heading', { name: 'Your request', exact: true }).waitFor();
  assert.match(await page.locator('dl').innerText(), /Received; being reviewed/);
  assert.match(await page.locator('dl').innerText(), /General Data Protection Regulation/);
  await check(page, 'center-en-status');

  // The admin approves (the admin console test does it through the console).
  const ok = await admin(suite, 'POST', `/requests/${id}/approve`);
  assert.equal(ok.status, 200);
  const link = page.getByRole('link', { name: /Download your data/ });
  // The export runs on the queue: refresh until the package is there.
  for (let i = 0; i < 50 && !(await link.count()); i++) {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForTimeout(200);
  }
  await link.waitFor();
  await check(page, 'center-en-download');
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  assert.match(download.suggestedFilename(), /^export-dsr_.*\.zip$/);

  const list = await admin(suite, 'GET', '/requests');
  assert.equal(list.body.requests.filter((r) => r.id === id).length, 1, 'one request for the double click');
  await page.context().close();
});

test('简体中文: form, code mail and status in Chinese', async () => {
  const page = await newPage(browser, { locale: 'zh-CN', allow: [API_REFUSAL] });
  await page.goto(`${suite.base}/api/center/demo/`);
  await page.getByRole('heading', { name: '隐私请求' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-Hans');
  await page.getByRole('button', { name: '提交请求', exact: true }).click();
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').innerText(), /出现问题/);
  await check(page, 'center-zh-form-errors');
  await page.getByLabel(/您想做什么/).selectOption('erase');
  await page.getByLabel(/电子邮箱地址/).fill('li@example.com');
  await page.getByLabel(/您居住的国家或地区/).selectOption('CN');
  await page.getByRole('button', { name: '提交请求', exact: true }).click();
  await page.getByRole('heading', { name: '请查收邮件' }).waitFor();
  await check(page, 'center-zh-code');
  const id = (await page.evaluate(() => JSON.parse(sessionStorage.getItem('privops:demo')))).id;
  const m = await mail(suite, `${id}-code-1`);
  assert.match(m.text, /验证码/);
  await page.getByLabel(/^验证码/).fill(await codeOf(suite, id));
  await page.getByRole('button', { name: '确认' }).click();
  await page.getByRole('heading', { name: '您的请求', exact: true }).waitFor();
  assert.match(await page.locator('dl').innerText(), /个人信息保护法|通用数据保护条例/);
  await check(page, 'center-zh-status');
  await page.context().close();
});

test('a reload keeps the code step and sends nothing again; a new code works', async () => {
  const page = await newPage(browser);
  await page.goto(`${suite.base}/api/center/demo/`);
  await page.getByLabel(/What do you want to do/).selectOption('access');
  await page.getByLabel(/Email address/).fill('reload@example.com');
  await page.getByLabel(/Country where you live/).selectOption('BR');
  await page.getByRole('button', { name: 'Send request' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  const { id } = await page.evaluate(() => JSON.parse(sessionStorage.getItem('privops:demo')));
  await page.reload();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  await page.getByRole('button', { name: 'Send a new code' }).click();
  await page.getByText('A new code is on its way.').waitFor();
  await page.getByLabel(/^Code/).fill(await codeOf(suite, id, 2));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('heading', { name: 'Your request', exact: true }).waitFor();
  assert.match(await page.locator('dl').innerText(), /Brazil LGPD/);
  const list = await admin(suite, 'GET', '/requests?status=awaiting-decision');
  assert.equal(list.body.requests.filter((r) => r.subject.email === 'reload@example.com').length, 1, 'one request');
  // Forget clears the tab's copy of the token.
  await page.getByRole('button', { name: 'Forget this request on this device' }).click();
  await page.getByRole('heading', { name: 'Privacy requests' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('privops:demo')), null);
  await page.context().close();
});
