/* Services: the systems a request fans out to. The list, one service's
   page, registering or editing a webhook service, and rotating its signing
   secret; a new secret is shown once (on the page, never stored). */
import { state, views, open, h, go, render, fail, problem, refused, call, summary, live, input, fmt, val, table, link } from './core.js';

const ACTIONS = ['export', 'erase', 'rectify', 'restrict', 'lift-restriction', 'object', 'lookup', 'purge'];
const CATEGORIES = ['profile', 'content', 'usage', 'billing', 'marketing', 'system-logs'];
const IDENTIFIERS = ['email', 'user-id', 'phone'];
// FIELDS maps the API's problem "field" to the form's control.
const FIELDS = { id: 's-id', name: 's-name', url: 's-url', actions: 's-actions-export', categories: 's-categories-profile', identifiers: 's-identifiers-email' };

function loadServices(note) {
  return call('GET', '/services').then((res) => {
    if (!res.ok) { fail([problem(res)]); return; }
    state.services = res.body.services || []; state.errors = []; state.note = note || ''; state.arg = '';
    go('services');
  });
}
open.services = loadServices;

views.services = function () {
  const list = state.services || [];
  return h('div', { class: 'box' }, h('h1', { tabindex: '-1' }, 'Services'), summary(), live(),
    h('p', {}, 'The systems each request fans out to: one task per service and action.'),
    list.length ? table('Services', ['Id', 'Name', 'Kind', 'Actions', 'Signing secrets', 'Updated'], list.map((s) => h('tr', {},
      h('td', {}, link(s.id, () => openService(s.id), 'mono')), h('td', {}, s.name), h('td', {}, s.kind), h('td', {}, (s.actions || []).join(', ')),
      h('td', {}, String((s.secrets || []).length)), h('td', {}, fmt(s.updatedAt))))) : h('p', {}, 'No services yet.'),
    h('p', {}, h('button', { type: 'button', onclick: () => editService(null) }, 'Register a webhook service')));
};

function openService(id, note, secret) {
  return call('GET', '/services/' + encodeURIComponent(id)).then((res) => {
    if (!res.ok) { fail([problem(res)]); return; }
    state.service = res.body; state.secret = secret || ''; state.errors = []; state.note = note || ''; state.arg = id; state.removing = false;
    go('service');
  });
}
open.service = openService;

views.service = function () {
  const s = state.service;
  const d = h('dl', {});
  [['Name', s.name], ['Kind', s.kind], ['URL', s.url], ['Actions', (s.actions || []).join(', ')], ['Categories', (s.categories || []).join(', ')],
    ['Identifiers', (s.identifiers || []).join(', ')], ['Signing version', s.signingVersion], ['Created', fmt(s.createdAt)], ['Updated', fmt(s.updatedAt)]]
    .forEach(([k, v]) => { if (v) d.append(h('dt', {}, k), h('dd', {}, String(v))); });
  return h('div', { class: 'box' },
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: () => loadServices() }, '← All services')),
    h('h1', { tabindex: '-1' }, 'Service ', h('span', { class: 'mono' }, s.id)), summary(), live(),
    state.secret ? h('div', { class: 'secret', role: 'region', 'aria-labelledby': 's-secret-title' },
      h('h2', { id: 's-secret-title' }, 'New signing secret (shown once)'),
      h('p', {}, 'Copy it into the service now: it is not shown again, and leaving this page forgets it.'),
      h('p', { class: 'mono', id: 's-secret' }, state.secret)) : null,
    d,
    h('h2', {}, 'Signing secrets'),
    (s.secrets || []).length ? table('Signing secrets, newest last', ['Id', 'Created'], s.secrets.map((x) => h('tr', {}, h('td', { class: 'mono' }, x.id), h('td', {}, fmt(x.createdAt)))))
      : h('p', {}, 'None.'),
    h('p', {}, s.kind === 'webhook' ? h('button', { type: 'button', onclick: rotate, disabled: state.busy }, 'Rotate the signing secret') : null, ' ',
      s.kind === 'webhook' ? h('button', { type: 'button', class: 'secondary', onclick: () => editService(s) }, 'Edit') : null, ' ',
      state.removing ? null : h('button', { type: 'button', class: 'secondary', onclick: () => { state.removing = true; render(); focusConfirm(); } }, 'Remove')),
    state.removing ? h('div', { class: 'secret', role: 'region', 'aria-labelledby': 's-remove-title' },
      h('h2', { id: 's-remove-title', tabindex: '-1' }, 'Remove service ' + s.id + '?'),
      h('p', {}, 'New requests no longer fan out to it. A service that open requests\' tasks still wait on cannot be removed: finish or retry those first.'),
      h('p', {}, h('button', { type: 'button', onclick: remove, disabled: state.busy }, 'Remove service ' + s.id), ' ',
        h('button', { type: 'button', class: 'secondary', onclick: () => { state.removing = false; render(); } }, 'Keep it'))) : null);
};

function focusConfirm() { const t = document.getElementById('s-remove-title'); if (t) t.focus(); }

// remove deletes the service after the admin confirmed it on the page (a
// busy flag keeps a double click to one call).
function remove() {
  if (state.busy) return;
  state.busy = true; render();
  const id = state.service.id;
  call('DELETE', '/services/' + encodeURIComponent(id)).then((res) => {
    state.busy = false; state.removing = false;
    if (!res.ok) { fail(['Remove: ' + problem(res)]); return; }
    loadServices('Service ' + id + ' removed.');
  });
}

function rotate() {
  if (state.busy) return;
  state.busy = true; render();
  call('POST', '/services/' + encodeURIComponent(state.service.id) + '/rotate-secret').then((res) => {
    state.busy = false;
    if (!res.ok) { fail(['Rotate: ' + problem(res)]); return; }
    state.service = res.body; state.secret = res.body.newSecret || '';
    state.note = 'Secret rotated: the service signs with the new one; the previous one stays valid until the next rotation.';
    render();
    const t = document.getElementById('s-secret-title'); if (t) { t.setAttribute('tabindex', '-1'); t.focus(); }
  });
}

function editService(s) {
  state.editing = s ? s.id : '';
  state.values = {};
  state.secret = '';
  if (s) {
    Object.assign(state.values, { 's-id': s.id, 's-name': s.name, 's-url': s.url || '' });
    ACTIONS.forEach((a) => { state.values['s-actions-' + a] = (s.actions || []).indexOf(a) >= 0; });
    CATEGORIES.forEach((a) => { state.values['s-categories-' + a] = (s.categories || []).indexOf(a) >= 0; });
    IDENTIFIERS.forEach((a) => { state.values['s-identifiers-' + a] = (s.identifiers || []).indexOf(a) >= 0; });
  } else {
    ['export', 'erase'].forEach((a) => { state.values['s-actions-' + a] = true; });
    state.values['s-identifiers-email'] = true;
  }
  state.errors = []; state.note = ''; state.arg = state.editing;
  go('service-edit');
}
open['service-edit'] = (id) => (id ? call('GET', '/services/' + encodeURIComponent(id)).then((res) => editService(res.ok ? res.body : null)) : editService(null));

function checks(name, legend, values) {
  return h('fieldset', {}, h('legend', {}, legend), h('div', { class: 'filters' }, values.map((v) => input('s-' + name + '-' + v, v, h('input', { type: 'checkbox' })))));
}
views['service-edit'] = function () {
  const editing = state.editing;
  return h('div', { class: 'box' },
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: () => (editing ? openService(editing) : loadServices()) }, '← Cancel')),
    h('h1', { tabindex: '-1' }, editing ? 'Edit service ' + editing : 'Register a webhook service'), summary(),
    h('form', { novalidate: true, onsubmit: save },
      editing ? null : input('s-id', 'Id', h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off' }), 'Lower-case letters, digits and dashes; it cannot change later.'),
      input('s-name', 'Name', h('input', { type: 'text', autocomplete: 'off' })),
      input('s-url', 'Webhook URL', h('input', { type: 'url', class: 'wide', spellcheck: 'false', autocomplete: 'off' }), 'https; each call is signed with the service\'s secret.'),
      checks('actions', 'Actions it carries out', ACTIONS),
      checks('categories', 'Categories of data it holds', CATEGORIES),
      checks('identifiers', 'Identifiers it finds subjects by', IDENTIFIERS),
      h('p', {}, h('button', { type: 'submit', disabled: state.busy }, editing ? 'Save' : 'Register'))));
};
function picked(name, values) { return values.filter((v) => state.values['s-' + name + '-' + v]); }
function save(ev) {
  ev.preventDefault();
  if (state.busy) return;
  const id = state.editing || val('s-id');
  const body = { name: val('s-name'), kind: 'webhook', url: val('s-url'), actions: picked('actions', ACTIONS),
    categories: picked('categories', CATEGORIES), identifiers: picked('identifiers', IDENTIFIERS) };
  const errs = [];
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(id)) errs.push({ msg: 'Enter an id: lower-case letters, digits and dashes', field: 's-id' });
  if (!body.name) errs.push({ msg: 'Enter the service\'s name', field: 's-name' });
  if (!/^https?:\/\/\S+$/.test(body.url)) errs.push({ msg: 'Enter the webhook URL (https://…)', field: 's-url' });
  if (!body.actions.length) errs.push({ msg: 'Pick at least one action', field: 's-actions-export' });
  if (!body.categories.length) errs.push({ msg: 'Pick at least one category', field: 's-categories-profile' });
  if (!body.identifiers.length) errs.push({ msg: 'Pick at least one identifier', field: 's-identifiers-email' });
  if (errs.length) { state.errors = errs; go('service-edit', true); return; }
  state.busy = true; render();
  call('PUT', '/services/' + encodeURIComponent(id), body).then((res) => {
    state.busy = false;
    if (!res.ok) { refused('Save', res, FIELDS); return; }
    state.values = {};
    openService(id, res.status === 201 ? 'Service registered.' : 'Service saved.', res.body.newSecret);
  });
}
