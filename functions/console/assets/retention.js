/* Retention: the tenant's policies (list, add, edit; a policy shorter than
   a legal floor is refused and the floor is shown next to the field), a
   preview of what a sweep would do with its per-policy counts, the sign-off
   of a policy's preview, and the runs with each run's report. */
import { state, views, open, h, go, render, fail, problem, refused, call, summary, live, input, fmt, val, table, options, link } from './core.js';

const CATEGORIES = { service: ['customer', 'administrator', 'payment', 'support', 'system-logs'],
  suite: ['dsr-records', 'export-packages', 'breach-records', 'verification-codes', 'rejected-inbound'] };
const FROM = ['created', 'last-modified', 'account-closed', 'request-closed', 'incident-closed'];
const ACTIONS = ['delete', 'anonymise', 'storage-only'];
const FIELDS = { id: 'r-id', category: 'r-category', scope: 'r-scope', service: 'r-service', maxAgeDays: 'r-maxAgeDays', from: 'r-from',
  timestampPath: 'r-timestampPath', action: 'r-action', signOff: 'r-signOff' };
const COUNTS = ['scanned', 'purged', 'anonymised', 'storageOnly', 'keptByHold', 'keptByFloor', 'failed', 'derived'];

function loadRetention(note) {
  return Promise.all([call('GET', '/retention/policies'), call('GET', '/retention/runs')]).then(([p, r]) => {
    if (!p.ok) { fail([problem(p)]); return; }
    state.policies = p.body.policies || []; state.runs = r.ok ? r.body.runs || [] : [];
    state.errors = []; state.note = note || ''; state.arg = '';
    if (state.view !== 'retention' || !note) go('retention');
    else { render(); const l = document.getElementById('c-live'); if (l) l.focus(); }
  });
}
open.retention = loadRetention;

function countsCells(x) { return COUNTS.map((k) => h('td', { class: 'num' }, String(x[k] || 0))); }

views.retention = function () {
  const pol = state.policies || [], runs = state.runs || [], pv = state.preview;
  return [h('div', { class: 'box' }, h('h1', { tabindex: '-1' }, 'Retention'), summary(), live(),
    h('h2', {}, 'Policies'),
    pol.length ? table('Retention policies', ['Policy', 'Category', 'Scope', 'Keep (days)', 'From', 'Action', 'Sign-off', ''], pol.map((p) => h('tr', {},
      h('td', { class: 'mono' }, p.id), h('td', {}, p.category), h('td', {}, p.scope + (p.service ? ' ' + p.service : '')), h('td', {}, String(p.maxAgeDays)),
      h('td', {}, p.from), h('td', {}, p.action), h('td', {}, signOffText(p)),
      h('td', {}, link('Edit ' + p.id, () => editPolicy(p)), ' ',
        p.signOff && p.lastPreview && !(p.approved && p.approved.previewAt === p.lastPreview.at)
          ? h('button', { type: 'button', class: 'secondary', disabled: state.busy, onclick: () => approve(p) }, 'Approve preview of ' + p.id) : null))))
      : h('p', {}, 'No retention policies: nothing is swept.'),
    h('p', {}, h('button', { type: 'button', onclick: () => editPolicy(null) }, 'Add a policy'), ' ',
      h('button', { type: 'button', class: 'secondary', disabled: state.busy || !pol.length, onclick: preview }, 'Preview a sweep'))),
  pv ? h('div', { class: 'box', role: 'region', 'aria-labelledby': 'r-preview-title' },
    h('h2', { id: 'r-preview-title', tabindex: '-1' }, 'Preview at ' + fmt(pv.at) + (pv.complete ? '' : ' (partial: it stopped at its time limit)')),
    h('p', {}, 'What a sweep would do now; nothing was purged.'),
    table('Preview, per policy', ['Policy', 'Status', 'Cutoff'].concat(COUNTS), (pv.policies || []).map((x) => h('tr', {},
      h('td', { class: 'mono' }, x.policyId), h('td', {}, x.status + (x.reason ? ': ' + x.reason : '')), h('td', {}, fmt(x.cutoff)), countsCells(x))))) : null,
  h('div', { class: 'box' }, h('h2', {}, 'Runs'),
    runs.length ? table('Retention runs, the current one first', ['Run', 'Started', 'Finished', 'Policies', 'Purged', 'Failed'], runs.map((r) => h('tr', {},
      h('td', {}, link(r.id, () => openRun(r.id), 'mono')), h('td', {}, fmt(r.startedAt)), h('td', {}, r.finishedAt ? fmt(r.finishedAt) : 'running'),
      h('td', {}, String((r.policies || []).length)), h('td', { class: 'num' }, String(sum(r, 'purged') + sum(r, 'anonymised'))),
      h('td', { class: 'num' }, String(sum(r, 'failed'))))))
      : h('p', {}, 'No runs yet: the nightly sweep starts them (RETENTION_SCHEDULE).'))];
};
function sum(r, k) { return (r.policies || []).reduce((n, p) => n + (p[k] || 0), 0); }
function signOffText(p) {
  if (!p.signOff) return 'not needed';
  if (p.approved && p.lastPreview && p.approved.previewAt === p.lastPreview.at) return 'approved by ' + p.approved.by;
  return p.lastPreview ? 'preview ' + fmt(p.lastPreview.at) + ' awaits approval' : 'preview first';
}

function preview() {
  if (state.busy) return;
  state.busy = true; render();
  call('POST', '/retention/preview').then((res) => {
    state.busy = false;
    if (!res.ok) { fail(['Preview: ' + problem(res)]); return; }
    state.preview = res.body;
    loadRetention('Preview done: ' + (res.body.policies || []).length + ' policies.').then(() => {
      const t = document.getElementById('r-preview-title'); if (t) t.focus();
    });
  });
}
function approve(p) {
  if (state.busy) return;
  state.busy = true; render();
  call('POST', '/retention/policies/' + encodeURIComponent(p.id) + '/approve').then((res) => {
    state.busy = false;
    if (!res.ok) { fail(['Approve ' + p.id + ': ' + problem(res)]); return; }
    loadRetention('Preview of ' + p.id + ' approved: the next run purges under it.');
  });
}

function openRun(id) {
  return call('GET', '/retention/runs/' + encodeURIComponent(id)).then((res) => {
    if (!res.ok) { fail([problem(res)]); return; }
    state.run = res.body; state.errors = []; state.note = ''; state.arg = id;
    go('run');
  });
}
open.run = openRun;
views.run = function () {
  const r = state.run;
  return h('div', { class: 'box' },
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: () => loadRetention() }, '← Retention')),
    h('h1', { tabindex: '-1' }, 'Run ', h('span', { class: 'mono' }, r.id)), summary(),
    h('dl', {}, h('dt', {}, 'Started'), h('dd', {}, fmt(r.startedAt)), h('dt', {}, 'Finished'), h('dd', {}, r.finishedAt ? fmt(r.finishedAt) : 'running'),
      h('dt', {}, 'Invocations'), h('dd', {}, String(r.invocations || 0))),
    table('Run report, per policy', ['Policy', 'Status', 'Cutoff'].concat(COUNTS), (r.policies || []).map((x) => h('tr', {},
      h('td', { class: 'mono' }, x.policyId), h('td', {}, x.status + (x.reason ? ': ' + x.reason : '')), h('td', {}, fmt(x.cutoff)), countsCells(x)))));
};

function editPolicy(p) {
  state.values = {};
  state.editing = p ? p.id : '';
  if (p) {
    Object.assign(state.values, { 'r-id': p.id, 'r-scope': p.scope, 'r-category': p.category, 'r-service': p.service || '', 'r-maxAgeDays': String(p.maxAgeDays),
      'r-from': p.from, 'r-timestampPath': p.timestampPath || '', 'r-action': p.action, 'r-signOff': !!p.signOff });
  } else Object.assign(state.values, { 'r-scope': 'suite', 'r-category': 'dsr-records', 'r-from': 'request-closed', 'r-action': 'delete' });
  state.errors = []; state.note = ''; state.arg = state.editing; state.removing = false;
  return call('GET', '/retention/floors').then((res) => { state.floors = res.ok ? res.body.floors || [] : []; go('policy'); });
}
open.policy = (id) => (id ? call('GET', '/retention/policies/' + encodeURIComponent(id)).then((res) => editPolicy(res.ok ? res.body : null)) : editPolicy(null));

views.policy = function () {
  const scope = state.values['r-scope'] || 'suite';
  const cat = state.values['r-category'];
  const floors = (state.floors || []).filter((f) => f.category === cat);
  return h('div', { class: 'box' },
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: () => loadRetention() }, '← Cancel')),
    h('h1', { tabindex: '-1' }, state.editing ? 'Edit policy ' + state.editing : 'Add a retention policy'), summary(),
    h('form', { novalidate: true, onsubmit: savePolicy },
      state.editing ? null : input('r-id', 'Id', h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off' }), 'Lower-case letters, digits and dashes.'),
      input('r-scope', 'Scope', h('select', { onchange: (ev) => { state.values['r-scope'] = ev.target.value; state.values['r-category'] = CATEGORIES[ev.target.value][0]; render(); document.getElementById('r-scope').focus(); } },
        options([['suite', 'privops\'s own records'], ['service', 'one service\'s data']], scope))),
      input('r-category', 'Data category', h('select', { onchange: (ev) => { state.values['r-category'] = ev.target.value; render(); document.getElementById('r-category').focus(); } }, options(CATEGORIES[scope], cat))),
      scope === 'service' ? input('r-service', 'Service id', h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off' })) : null,
      input('r-maxAgeDays', 'Keep for (days)', h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'off' }),
        floors.length ? 'Legal floors for ' + cat + ': ' + floors.map((f) => f.id + ' (' + f.rule + ')').join('; ') : '1 to 36500 days.'),
      input('r-from', 'Counted from', h('select', {}, options(FROM, state.values['r-from']))),
      scope === 'service' ? input('r-timestampPath', 'Timestamp path (built-in container)', h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off' }), 'e.g. /createdAt; empty for a webhook service.') : null,
      input('r-action', 'Action', h('select', {}, options(ACTIONS, state.values['r-action']))),
      input('r-signOff', 'An admin approves its preview before it purges', h('input', { type: 'checkbox' })),
      h('p', {}, h('button', { type: 'submit', disabled: state.busy }, 'Save the policy'), ' ',
        state.editing && !state.removing ? h('button', { type: 'button', class: 'secondary', onclick: () => { state.removing = true; render(); focusConfirm(); } }, 'Delete the policy') : null)),
    state.editing && state.removing ? h('div', { class: 'secret', role: 'region', 'aria-labelledby': 'r-remove-title' },
      h('h2', { id: 'r-remove-title', tabindex: '-1' }, 'Delete policy ' + state.editing + '?'),
      h('p', {}, 'Sweeps stop purging by it from the next run; the reports of its past runs stay.'),
      h('p', {}, h('button', { type: 'button', onclick: removePolicy, disabled: state.busy }, 'Delete policy ' + state.editing), ' ',
        h('button', { type: 'button', class: 'secondary', onclick: () => { state.removing = false; render(); } }, 'Keep it'))) : null);
};

function focusConfirm() { const t = document.getElementById('r-remove-title'); if (t) t.focus(); }

// removePolicy deletes the policy after the admin confirmed it on the page.
function removePolicy() {
  if (state.busy) return;
  const id = state.editing;
  state.busy = true; render();
  call('DELETE', '/retention/policies/' + encodeURIComponent(id)).then((res) => {
    state.busy = false; state.removing = false;
    if (!res.ok) { fail(['Delete: ' + problem(res)]); return; }
    state.values = {};
    loadRetention('Policy ' + id + ' deleted.');
  });
}
function savePolicy(ev) {
  ev.preventDefault();
  if (state.busy) return;
  const id = state.editing || val('r-id');
  const scope = state.values['r-scope'] || 'suite';
  const body = { category: state.values['r-category'], scope, maxAgeDays: Number(val('r-maxAgeDays')), from: state.values['r-from'] || FROM[0],
    action: state.values['r-action'] || ACTIONS[0], signOff: !!state.values['r-signOff'] };
  if (scope === 'service') { body.service = val('r-service'); if (val('r-timestampPath')) body.timestampPath = val('r-timestampPath'); }
  const errs = [];
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(id)) errs.push({ msg: 'Enter an id: lower-case letters, digits and dashes', field: 'r-id' });
  if (!/^\d+$/.test(val('r-maxAgeDays')) || body.maxAgeDays < 1 || body.maxAgeDays > 36500) errs.push({ msg: 'Enter how many days to keep it: 1 to 36500', field: 'r-maxAgeDays' });
  if (scope === 'service' && !body.service) errs.push({ msg: 'Enter the service id', field: 'r-service' });
  if (errs.length) { state.errors = errs; go('policy', true); return; }
  state.busy = true; render();
  call('PUT', '/retention/policies/' + encodeURIComponent(id), body).then((res) => {
    state.busy = false;
    if (!res.ok) { refused('Save', res, FIELDS); return; }
    state.values = {};
    loadRetention('Policy ' + id + ' saved.');
  });
}
