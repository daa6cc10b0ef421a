/* The privacy center after a submission: the one-time-code step (a new
   code on request) and the status page (the deadline and the law that sets
   it, an extension and its reason, a pause and the question, progress
   without the tenant's internals, a denial's reason, the export download). */
import { I18N, state, views, t, save, h, call, apiErrors, go, render, heading, summary, field, showErrors, forget, fmtDate, fmtSize } from './core.js';

export function viewLoading() { return [heading('title'), h('p', { role: 'status' }, t('loading'))]; }

views.code = function viewCode() {
  var busy = state.busy;
  return [heading('codeTitle'), h('p', {}, t('codeIntro')), summary(),
    state.note ? h('p', { class: 'notice', role: 'status' }, t(state.note)) : h('p', { class: 'sr', role: 'status' }),
    h('form', { novalidate: true, onsubmit: verify },
      field('code', h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6', class: 'code', spellcheck: 'false' }),
        { required: true, hint: 'codeHint' }),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', disabled: busy }, t('verify')),
        h('button', { type: 'button', class: 'secondary', disabled: busy, onclick: resend }, t('resend')))),
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: forget }, t('forget')))];
}

function verify(ev) {
  ev.preventDefault();
  if (state.busy) return;
  var code = (state.values.code || '').trim();
  state.note = '';
  if (!/^[0-9]{6}$/.test(code)) { showErrors([{ field: 'code', msg: 'e.code' }]); return; }
  state.busy = true; render();
  call('POST', '/requests/' + state.id + '/verify', { code: code }).then(function (res) {
    state.busy = false;
    if (!res.ok && res.body.code !== 'already-verified') { showErrors(apiErrors(res)); return; }
    state.values = {};
    refresh(true);
  });
}

function resend() {
  if (state.busy) return;
  state.busy = true; render();
  call('POST', '/requests/' + state.id + '/resend').then(function (res) {
    state.busy = false;
    if (!res.ok) { showErrors(apiErrors(res)); return; }
    state.values = {}; state.note = 'resent'; state.errors = [];
    render();
    var c = document.getElementById('pc-code'); if (c) c.focus();
  });
}

// refresh reads the status; moved says to move focus to the new view.
export function refresh(moved) {
  return call('GET', '/requests/' + state.id).then(function (res) {
    if (!res.ok) {
      if (res.status === 404) { forget(); return; }
      showErrors(apiErrors(res)); return;
    }
    state.status = res.body;
    var view = res.body.status === 'awaiting-verification' ? 'code' : 'status';
    if (moved || view !== state.view) go(view);
    else { render(); }
  });
}

views.status = function viewStatus() {
  var s = state.status;
  if (!s) return viewLoading();
  var rows = [
    ['reference', h('span', { class: 'token' }, s.id)],
    ['request', t('t.' + s.type)],
    ['status', h('strong', {}, t('s.' + s.status))],
    ['received', fmtDate(s.receivedAt)]
  ];
  if (s.dueAt && !/^(completed|partially-completed|denied|cancelled)$/.test(s.status)) {
    rows.push(['due', fmtDate(s.dueAt)]);
    rows.push(['law', t(I18N.en['g.' + s.regime] ? 'g.' + s.regime : 'g.default')]);
    if (s.rule) rows.push(['rule', h('span', { lang: 'en' }, s.rule)]);
  }
  var dl = h('dl', {});
  rows.forEach(function (r) { dl.append(h('dt', {}, t(r[0])), h('dd', {}, r[1])); });
  var p = s.progress, pkg = s.package;
  return [heading('statusTitle'), summary(), h('p', { class: 'sr', role: 'status', id: 'pc-live' }), dl,
    s.extended || s.extensionReason ? h('div', { class: 'notice' }, h('p', {}, t('extended')),
      s.extensionReason ? h('p', {}, t('extensionReason'), ' ', s.extensionReason) : null) : null,
    s.paused ? h('div', { class: 'notice warn' }, h('p', {}, t('paused')),
      s.question ? h('p', {}, t('question'), ' ', s.question) : null) : null,
    s.status === 'denied' ? h('div', { class: 'notice warn' }, h('p', {}, t('deniedReason'), ' ', s.reason || ''), h('p', {}, t('complain'))) : null,
    p && p.total ? h('div', { class: 'field' }, h('label', { for: 'pc-progress' }, t('progress')),
      h('progress', { id: 'pc-progress', max: String(p.total), value: String(p.ended), 'aria-describedby': 'pc-progress-text' }),
      h('span', { class: 'hint', id: 'pc-progress-text' }, t('progressText', { ended: p.ended, total: p.total }))) : null,
    pkg ? (pkg.url && !pkg.expired
      ? h('p', {}, h('a', { class: 'button', href: pkg.url, download: '' }, t('download', { size: fmtSize(pkg.bytes || 0) })), ' ',
        t('downloadUntil', { date: fmtDate(pkg.expiresAt) }))
      : h('p', {}, t('downloadExpired'))) : null,
    h('h2', {}, t('token')), h('p', {}, h('span', { class: 'token' }, state.token)), h('p', { class: 'hint' }, t('tokenHint')),
    h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: function () {
        refresh().then(function () { var l = document.getElementById('pc-live'); if (l) l.textContent = t('updated'); });
      } }, t('refresh')),
      h('button', { type: 'button', class: 'secondary', onclick: forget }, t('forget')))];
}
views.loading = viewLoading;

