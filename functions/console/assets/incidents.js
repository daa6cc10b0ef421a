/* Breach incidents as the tenant is told of them: the list, and one
   incident's page with each legal clock counting down live (days, hours and
   minutes left; overdue ones highlighted), the acknowledgement, the
   authority report (GDPR Art. 33(3)) and the progress of notifying the data
   subjects (Art. 34). */
import { state, views, open, h, go, render, fail, problem, call, summary, live, fmt, table, link, download } from './core.js';

function loadIncidents() {
  return call('GET', '/incidents').then((res) => {
    if (!res.ok) { fail([problem(res)]); return; }
    state.incidents = res.body.incidents || []; state.errors = []; state.note = ''; state.arg = '';
    go('incidents');
  });
}
open.incidents = loadIncidents;

// left says how long until due (or since, when overdue), to the minute.
export function left(due, now) {
  let ms = new Date(due) - now;
  const over = ms < 0;
  ms = Math.abs(ms);
  const d = Math.floor(ms / 86400000), hr = Math.floor(ms / 3600000) % 24, m = Math.floor(ms / 60000) % 60;
  const s = (d ? d + ' d ' : '') + (d || hr ? hr + ' h ' : '') + m + ' min';
  return over ? 'Overdue by ' + s : s + ' left';
}
const OPEN_CLOCK = /^(running|overdue)$/;
// clockCell is a countdown the ticker keeps current.
function clockCell(c) {
  if (!OPEN_CLOCK.test(c.status) || !c.dueAt) return h('td', {}, c.status === 'met' || c.status === 'met-late' ? c.status + ' ' + fmt(c.metAt) : c.status);
  return h('td', { 'data-due': c.dueAt, class: 'countdown' }, left(c.dueAt, Date.now()));
}
// tick refreshes every countdown on the page in place (no re-render, so
// focus and typing are never disturbed); the interval runs while one is shown.
let ticker = 0;
function tick() {
  const cells = document.querySelectorAll('[data-due]');
  if (!cells.length) { clearInterval(ticker); ticker = 0; return; }
  const now = Date.now();
  cells.forEach((c) => {
    const t = left(c.getAttribute('data-due'), now);
    if (c.textContent !== t) c.textContent = t;
    c.closest('tr').classList.toggle('overdue', t.indexOf('Overdue') === 0);
  });
}
function startTicker() { if (!ticker) ticker = setInterval(tick, 1000); setTimeout(tick, 0); }

function nextDue(n) {
  return (n.clocks || []).filter((c) => OPEN_CLOCK.test(c.status) && c.dueAt).sort((a, b) => (a.dueAt < b.dueAt ? -1 : 1))[0];
}
views.incidents = function () {
  const list = state.incidents || [];
  const v = h('div', { class: 'box' }, h('h1', { tabindex: '-1' }, 'Incidents'), summary(), live(),
    h('p', {}, 'Personal data breaches your processor told you of, newest first, with the clocks the law sets you.'),
    list.length ? table('Incidents', ['Incident', 'Title', 'Status', 'Acknowledged', 'Next clock', 'Time left'], list.map((n) => {
      const c = nextDue(n);
      return h('tr', {}, h('td', {}, link(n.incidentId, () => openIncident(n.incidentId), 'mono')), h('td', {}, (n.facts && n.facts.title) || ''),
        h('td', {}, n.status), h('td', {}, n.acknowledgedAt ? fmt(n.acknowledgedAt) : h('strong', {}, 'not yet')),
        h('td', {}, c ? c.obligation + ' (' + c.jurisdiction + ')' : '—'), c ? clockCell(c) : h('td', {}, '—'));
    })) : h('p', {}, 'No incidents.'));
  startTicker();
  return v;
};

function openIncident(id, note) {
  const base = '/incidents/' + encodeURIComponent(id);
  // The campaign exists only once notifying the subjects was approved.
  return call('GET', base).then((res) => Promise.resolve(res.ok && res.body.subjectApproved ? call('GET', base + '/campaign') : { ok: false }).then((camp) => [res, camp]))
    .then(([res, camp]) => {
    if (!res.ok) { fail([problem(res)]); return; }
    state.incident = res.body; state.campaign = camp.ok ? camp.body : null; state.report = state.report && state.report.id === id ? state.report : null;
    state.errors = []; state.note = note || ''; state.arg = id;
    if (state.view !== 'incident' || !note) go('incident');
    else { render(); const l = document.getElementById('c-live'); if (l) l.focus(); }
  });
}
open.incident = openIncident;

views.incident = function () {
  const n = state.incident, f = n.facts || {}, camp = state.campaign;
  const d = h('dl', {});
  [['Title', f.title], ['Status', n.status], ['Detected', fmt(n.detectedAt)], ['Processor aware', fmt(n.awareAt)], ['Told you', fmt(n.notifiedAt)],
    ['Jurisdictions', (n.jurisdictions || []).join(', ')], ['Nature', f.nature], ['Risk', f.risk], ['Report version', String(n.version || '')],
    ['Acknowledged', n.acknowledgedAt ? fmt(n.acknowledgedAt) + ' by ' + n.acknowledgedBy + ' (version ' + n.ackVersion + ')' : 'not yet']]
    .forEach(([k, v]) => { if (v) d.append(h('dt', {}, k), h('dd', {}, v)); });
  const clocks = n.clocks || [];
  const acked = n.acknowledgedAt && n.ackVersion >= n.version;
  const p = camp && camp.progress;
  const v = [h('div', { class: 'box' },
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: () => loadIncidents() }, '← All incidents')),
    h('h1', { tabindex: '-1' }, 'Incident ', h('span', { class: 'mono' }, n.incidentId)), summary(), live(), d,
    h('p', {}, acked ? null : h('button', { type: 'button', disabled: state.busy, onclick: acknowledge }, 'Acknowledge version ' + n.version), ' ',
      h('button', { type: 'button', class: 'secondary', onclick: showReport }, 'Show the authority report'))),
  h('div', { class: 'box' }, h('h2', {}, 'Clocks'),
    clocks.length ? table('Clocks, with the time left on each', ['Obligation', 'Jurisdiction', 'Party', 'Due', 'Time left'], clocks.map((c) =>
      h('tr', { class: c.status === 'overdue' ? 'overdue' : null }, h('td', {}, c.obligation), h('td', {}, c.jurisdiction), h('td', {}, c.party),
        h('td', {}, c.dueAt ? fmt(c.dueAt) : ''), clockCell(c)))) : h('p', {}, 'No clocks apply.')),
  h('div', { class: 'box' }, h('h2', {}, 'Notifying the data subjects'),
    n.subjectApproved ? h('p', {}, 'Approved by ' + n.subjectApprovedBy + ', ' + fmt(n.subjectApprovedAt) + '.')
      : h('p', {}, h('button', { type: 'button', class: 'secondary', disabled: state.busy, onclick: approveSubjectNotice }, 'Approve notifying the data subjects')),
    !camp || camp.state === 'none' ? h('p', {}, n.subjectApproved ? 'No recipient list uploaded yet.' : 'Not started.')
      : [h('p', {}, 'State: ' + camp.state + (camp.public ? ' (public notice published)' : '')),
        p ? [h('progress', { max: String(p.total || 0), value: String((p.sent || 0) + (p.failed || 0) + (p.bounced || 0)), 'aria-label': 'Subjects notified' }),
          h('dl', {}, ['total', 'sent', 'failed', 'bounced', 'pending'].map((k) => [h('dt', {}, k), h('dd', {}, String(p[k] || 0))]))] : null]),
  state.report ? h('div', { class: 'box', role: 'region', 'aria-labelledby': 'i-report-title' },
    h('h2', { id: 'i-report-title', tabindex: '-1' }, 'Authority report (GDPR Art. 33(3))'),
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: () => download(state.report.text, 'authority-report-' + n.incidentId + '.txt') }, 'Download the report')),
    h('pre', { class: 'report', tabindex: '0', 'aria-label': 'Report text' }, state.report.text)) : null];
  startTicker();
  return v;
};
function acknowledge() {
  if (state.busy) return;
  const n = state.incident;
  state.busy = true; render();
  call('POST', '/incidents/' + encodeURIComponent(n.incidentId) + '/acknowledge', { version: n.version }).then((res) => {
    state.busy = false;
    if (!res.ok) { fail(['Acknowledge: ' + problem(res)]); return; }
    openIncident(n.incidentId, 'Version ' + n.version + ' acknowledged.');
  });
}
function showReport() {
  const id = state.incident.incidentId;
  call('GET', '/incidents/' + encodeURIComponent(id) + '/report?format=text').then((res) => {
    if (!res.ok) { fail(['Report: ' + problem(res)]); return; }
    state.report = { id, text: typeof res.body === 'string' ? res.body : JSON.stringify(res.body, null, 2) };
    render();
    const t = document.getElementById('i-report-title'); if (t) t.focus();
  });
}
// approveSubjectNotice records the tenant's decision to tell the data
// subjects (GDPR Art. 34(1)); the recipient list and the start follow.
function approveSubjectNotice() {
  if (state.busy) return;
  const n = state.incident;
  state.busy = true; render();
  call('POST', '/incidents/' + encodeURIComponent(n.incidentId) + '/approve-subject-notice').then((res) => {
    state.busy = false;
    if (!res.ok) { fail(['Approve notifying the subjects: ' + problem(res)]); return; }
    openIncident(n.incidentId, 'Notifying the data subjects approved.');
  });
}
