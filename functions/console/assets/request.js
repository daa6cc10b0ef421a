/* A request's page: deadline, extension, pauses and decision, the task
   board (one row per service and action, Retry for failed and held tasks),
   the decisions the admin API offers, a legal hold on the subject, and the
   downloads. */
import { TERMINAL, HOLD_CATEGORIES, state, views, open, h, go, render, fail, problem, call, summary, live, input, daysLeft, overdueText, fmt, download } from './core.js';

export function openRequest(id, note) {
  return Promise.all([call('GET', '/requests/' + encodeURIComponent(id)), call('GET', '/holds')]).then(([res, holds]) => {
    if (!res.ok) { fail([problem(res)]); return; }
    state.requestHolds = holds.ok ? (holds.body.holds || []) : [];
    state.request = res.body; state.errors = []; state.note = note || ''; state.arg = id;
    if (state.view !== 'detail' || !note) go('detail');
    else { render(); const l = document.getElementById('c-live'); if (l) l.focus(); }
  });
}
open.detail = openRequest;

// act runs one decision; reasonId names the field that must not be empty.
function act(label, path, reasonId, bodyOf) {
  return (ev) => {
    if (ev) ev.preventDefault();
    if (state.busy) return;
    const body = bodyOf ? bodyOf() : null;
    if (reasonId && !(state.values[reasonId] || '').trim()) { fail(['Enter a reason to ' + label.toLowerCase()], reasonId); return; }
    state.busy = true; render();
    call('POST', '/requests/' + encodeURIComponent(state.request.id) + path, body).then((res) => {
      state.busy = false;
      if (!res.ok) { fail([label + ': ' + problem(res)], reasonId); return; }
      if (reasonId) delete state.values[reasonId];
      openRequest(state.request.id, label + ': done.');
    });
  };
}
function placeHold(ev) {
  ev.preventDefault();
  if (state.busy) return;
  const reason = (state.values['c-hold-reason'] || '').trim();
  if (!reason) { fail(['Enter the internal reason for the hold'], 'c-hold-reason'); return; }
  state.busy = true; render();
  call('POST', '/holds', { scope: 'subject', email: state.request.subject.email, category: state.values['c-hold-category'] || HOLD_CATEGORIES[0], reason })
    .then((res) => {
      state.busy = false;
      if (!res.ok) { fail(['Hold: ' + problem(res)], 'c-hold-reason'); return; }
      delete state.values['c-hold-reason'];
      openRequest(state.request.id, 'Legal hold placed on this subject: erasures of their data are deferred.');
    });
}
function downloadCertificate() {
  call('GET', '/requests/' + encodeURIComponent(state.request.id) + '/certificate?format=text').then((res) => {
    if (!res.ok) { fail(['Certificate: ' + problem(res)]); return; }
    download(typeof res.body === 'string' ? res.body : JSON.stringify(res.body, null, 2), 'certificate-' + state.request.id + '.txt');
  });
}
// holdsOn lists the active legal holds that cover the request's subject
// (by the keyed subject hash) or the whole tenant.
function holdsOn(r) {
  return (state.requestHolds || []).filter((x) => !x.releasedAt && (x.scope === 'tenant' || (x.scope === 'subject' && x.subjectHash && x.subjectHash === r.subjectHash)));
}

views.detail = function viewDetail() {
  const r = state.request, busy = state.busy, dl = daysLeft(r), paused = r.pauses && r.pauses.filter((p) => !p.to)[0];
  const rows = [['Type', r.type], ['Status', h('span', { class: 'badge' }, r.status)], ['Channel', r.channel],
    ['Subject', (r.subject && r.subject.email) || '(removed)'], ['Country', r.subject && r.subject.country], ['Received', fmt(r.receivedAt)],
    ['Identity verified', r.identityVerifiedAt ? fmt(r.identityVerifiedAt) : 'not yet'],
    ['Due', r.due && r.due.at ? fmt(r.due.at) + ' (' + r.due.regime + ')' : ''], ['Rule', r.due && r.due.rule],
    ['Days left', overdueText(dl)]];
  if (r.extension) rows.push(['Extension', r.extension.reason + ' (by ' + r.extension.by + ')']);
  if (paused) rows.push(['Paused', 'waiting for the subject: ' + paused.reason]);
  if (r.decision) rows.push(['Decision', (r.decision.reason || '') + ' (by ' + r.decision.by + ', ' + fmt(r.decision.at) + ')']);
  const on = holdsOn(r);
  if (on.length) rows.push(['Legal hold', on.map((x) => h('span', { class: 'badge held' }, 'held: ' + x.category + ' (' + x.scope + ', ' + x.id + ')'))]);
  const d = h('dl', {});
  rows.forEach((x) => { if (x[1]) d.append(h('dt', {}, x[0]), h('dd', {}, x[1])); });
  const tasks = r.tasks || [];
  const deciding = r.status === 'awaiting-decision', runningOrOpen = !TERMINAL.test(r.status);
  const reason = (id, label) => input(id, label, h('textarea', {}));
  const holdCat = h('select', {});
  HOLD_CATEGORIES.forEach((c) => holdCat.append(h('option', { value: c, selected: state.values['c-hold-category'] === c }, c)));
  return [h('div', { class: 'box' },
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: () => { state.note = ''; open.queue(); } }, '← Back to the queue')),
    h('h1', { tabindex: '-1' }, 'Request ', h('span', { class: 'mono' }, r.id)), summary(), live(), d,
    h('h2', {}, 'Tasks'),
    tasks.length ? h('table', {}, h('caption', { class: 'sr' }, 'One task per service and action'),
      h('thead', {}, h('tr', {}, ['Service', 'Action', 'Status', 'Attempts', 'Reason', ''].map((c) => h('th', { scope: 'col' }, c || h('span', { class: 'sr' }, 'Retry'))))),
      h('tbody', {}, tasks.map((t) => h('tr', {}, h('td', {}, t.serviceName || t.service), h('td', {}, t.action), h('td', {}, h('span', { class: 'badge' }, t.status)),
        h('td', {}, String(t.attempts || 0)), h('td', {}, t.reason || (t.holdCategory ? 'hold: ' + t.holdCategory : '')),
        h('td', {}, t.status === 'failed' || t.status === 'held' ? h('button', { type: 'button', class: 'secondary', disabled: busy,
          onclick: act('Retry ' + (t.serviceName || t.service), '/tasks/' + encodeURIComponent(t.id) + '/retry') }, 'Retry') : null))))) : h('p', {}, 'No tasks yet: they are created when the request is approved.'),
    h('h2', {}, 'Downloads'),
    h('p', {}, r.download && r.download.url && !r.download.expired ? h('a', { href: r.download.url, download: '' }, 'Download the export package') : null, ' ',
      r.package && (!r.download || r.download.expired) ? h('button', { type: 'button', class: 'secondary', disabled: busy, onclick: act('New download link', '/package/link') }, 'New download link') : null, ' ',
      TERMINAL.test(r.status) && r.status !== 'denied' && r.status !== 'cancelled' ? h('button', { type: 'button', class: 'secondary', onclick: downloadCertificate }, 'Download the certificate') : null,
      !r.package && !TERMINAL.test(r.status) ? 'Nothing to download yet.' : null)),
  runningOrOpen ? h('div', { class: 'box' }, h('h2', {}, 'Decide'),
    h('div', { class: 'actions' },
      deciding ? h('form', { class: 'action', onsubmit: act('Approve', '/approve') }, h('p', {}, 'Carry the request out at every service.'), h('button', { type: 'submit', disabled: busy }, 'Approve')) : null,
      deciding ? h('form', { class: 'action', novalidate: true, onsubmit: act('Deny', '/deny', 'c-deny', () => ({ reason: state.values['c-deny'] })) },
        reason('c-deny', 'Reason for the subject (mailed)'), h('button', { type: 'submit', class: 'danger', disabled: busy }, 'Deny')) : null,
      !r.extension ? h('form', { class: 'action', novalidate: true, onsubmit: act('Extend', '/extend', 'c-extend', () => ({ reason: state.values['c-extend'] })) },
        reason('c-extend', 'Reason for the extension (mailed)'), h('button', { type: 'submit', disabled: busy }, 'Extend')) : null,
      paused ? h('form', { class: 'action', onsubmit: act('Resume', '/resume') }, h('p', {}, 'The subject answered: start the clock again.'), h('button', { type: 'submit', disabled: busy }, 'Resume'))
        : h('form', { class: 'action', novalidate: true, onsubmit: act('Pause', '/pause', 'c-pause', () => ({ reason: state.values['c-pause'] })) },
          reason('c-pause', 'Question for the subject (mailed; the clock stops)'), h('button', { type: 'submit', disabled: busy }, 'Pause')),
      r.subject && r.subject.email ? h('form', { class: 'action', novalidate: true, onsubmit: placeHold },
        input('c-hold-category', 'Legal ground (told to the subject)', holdCat), reason('c-hold-reason', 'Internal reason (never shown to the subject)'),
        h('button', { type: 'submit', disabled: busy }, 'Place a legal hold on this subject')) : null,
      tasks.some((t) => t.status === 'failed' || t.status === 'held') ? h('form', { class: 'action', onsubmit: act('Retry', '/retry') },
        h('p', {}, 'Retry every failed task, and held tasks no hold covers any more.'), h('button', { type: 'submit', disabled: busy }, 'Retry all')) : null)) : null];
};
