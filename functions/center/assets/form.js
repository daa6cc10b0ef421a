/* The privacy center's request form (right, country and US state, email,
   identifiers, details; the fields that depend on another shown in place),
   its checks (the portal API's own, shared/dsr Submission.Validate), the
   submission that is sent once (a double click, a reload), and "follow a
   request" by reference and token. */
import { COUNTRIES, TYPES, FIELD_MSG, state, views, hooks, name, t, load, save, h, call, apiErrors, go, render, heading, summary, field, select, showErrors } from './core.js';
import { refresh } from './status.js';

views.form = function viewForm() {
  var v = state.values;
  var names;
  try { names = new Intl.DisplayNames([state.lang], { type: 'region' }); } catch (e) { names = { of: function (c) { return c; } }; }
  var collator = new Intl.Collator(state.lang);
  var countries = COUNTRIES.map(function (c) { return [c, names.of(c) || c]; })
    .sort(function (a, b) { return collator.compare(a[1], b[1]); });
  var busy = state.busy;
  var form = h('form', { novalidate: true, onsubmit: submit, 'aria-busy': String(busy) },
    field('type', select('type', [['', t('choose')]].concat(TYPES.map(function (x) { return [x, t('t.' + x)]; }))),
      { required: true, hint: 'typeHint', toggles: true }),
    field('email', h('input', { type: 'email', autocomplete: 'email', spellcheck: 'false', maxlength: '254' }), { required: true, hint: 'emailHint' }),
    field('country', select('country', [['', t('choose')]].concat(countries)), { required: true, hint: 'countryHint', toggles: true }),
    h('div', { id: 'pc-when-us', hidden: v.country !== 'US' },
      field('region', select('region', [['', t('regionOther')], ['CA', t('r.CA')], ['CO', t('r.CO')], ['VA', t('r.VA')]]))),
    h('div', { id: 'pc-when-rectify', hidden: v.type !== 'rectify' },
      field('changeField', h('input', { type: 'text', maxlength: '64', autocomplete: 'off' }), { required: true, hint: 'changeFieldHint' }),
      field('changeValue', h('input', { type: 'text', maxlength: '1000', autocomplete: 'off' }), { required: true })),
    h('fieldset', {}, h('legend', {}, t('idsTitle')), h('p', { class: 'hint' }, t('idsHint')),
      field('userId', h('input', { type: 'text', autocomplete: 'username', maxlength: '128', spellcheck: 'false' }), { hint: 'userIdHint' }),
      field('phone', h('input', { type: 'tel', autocomplete: 'tel', maxlength: '16' }), { hint: 'phoneHint' })),
    field('details', h('textarea', { maxlength: '4000', rows: '4' }), { hint: 'detailsHint' }),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', disabled: busy }, t(busy ? 'sending' : 'submit')),
      h('button', { type: 'button', class: 'secondary', onclick: function () { go('lookup'); } }, t('follow'))));
  return [heading('title'), h('p', {}, t('intro', { name: name })), summary(), form];
}

hooks.toggleDependent = function toggleDependent() {
  var us = document.getElementById('pc-when-us'), rect = document.getElementById('pc-when-rectify');
  if (us) us.hidden = state.values.country !== 'US';
  if (rect) rect.hidden = state.values.type !== 'rectify';
}

// validate mirrors the portal API's checks (shared/dsr Submission.Validate).
function validate(v) {
  var e = [];
  var add = function (f) { e.push({ field: f, msg: FIELD_MSG[f] }); };
  if (TYPES.indexOf(v.type) < 0) add('type');
  var email = (v.email || '').trim();
  if (email.length > 254 || !/^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/.test(email)) add('email');
  if (COUNTRIES.indexOf(v.country) < 0) add('country');
  if (v.type === 'rectify') {
    if (!/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(v.changeField || '')) add('changeField');
    if (!(v.changeValue || '').trim() || new TextEncoder().encode(v.changeValue).length > 1000) add('changeValue');
  }
  if (v.userId && !/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/.test(v.userId)) add('userId');
  if (v.phone && !/^\+[1-9][0-9]{6,14}$/.test(v.phone)) add('phone');
  if (v.details && new TextEncoder().encode(v.details).length > 4000) add('details');
  return e;
}

function digest(s) {
  return crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)).then(function (b) {
    return Array.from(new Uint8Array(b)).map(function (x) { return x.toString(16).padStart(2, '0'); }).join('');
  });
}

function submit(ev) {
  ev.preventDefault();
  if (state.busy) return; // a double click sends once
  var v = state.values;
  var errs = validate(v);
  if (errs.length) { showErrors(errs); return; }
  var body = { type: v.type, email: v.email.trim(), country: v.country, language: state.lang };
  if (v.country === 'US' && v.region) body.region = v.region;
  if (v.userId) body.userId = v.userId;
  if (v.phone) body.phone = v.phone;
  if (v.details && v.details.trim()) body.details = v.details;
  if (v.type === 'rectify') body.changes = [{ field: v.changeField, value: v.changeValue }];
  state.busy = true; state.errors = []; render();
  // The same body sent again (a reload, a retry after a lost answer) goes
  // with the same Idempotency-Key, so the portal returns the first request.
  // Only a hash of the body is kept, never the body.
  digest(JSON.stringify(body)).then(function (hash) {
    var s = load();
    var key = s.idemHash === hash && s.idemKey ? s.idemKey : crypto.randomUUID();
    save({ idemKey: key, idemHash: hash });
    return call('POST', '/requests', body, { 'Idempotency-Key': key });
  }).then(function (res) {
    state.busy = false;
    if (!res.ok) { showErrors(apiErrors(res)); return; }
    state.id = res.body.id; state.token = res.body.token;
    save({ id: state.id, token: state.token, idemKey: null, idemHash: null });
    state.values = {};
    go(res.body.status === 'awaiting-verification' ? 'code' : 'status');
    if (state.view === 'status') refresh();
  });
}

views.lookup = function viewLookup() {
  var form = h('form', { novalidate: true, onsubmit: lookup },
    field('ref', h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: '100' }), { required: true }),
    field('token', h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false' }), { required: true, label: 'tokenLabel' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, t('lookup')),
      h('button', { type: 'button', class: 'secondary', onclick: function () { go('form'); } }, t('back'))));
  return [heading('lookupTitle'), h('p', {}, t('lookupIntro')), summary(), form];
}

function lookup(ev) {
  ev.preventDefault();
  var ref = (state.values.ref || '').trim(), tok = (state.values.token || '').trim(), e = [];
  if (!/^dsr_[A-Za-z0-9_-]{1,96}$/.test(ref)) e.push({ field: 'ref', msg: 'e.ref' });
  if (!tok) e.push({ field: 'token', msg: 'e.token' });
  if (e.length) { showErrors(e); return; }
  state.id = ref; state.token = tok;
  call('GET', '/requests/' + ref).then(function (res) {
    if (!res.ok) { state.id = state.token = ''; showErrors(apiErrors(res)); return; }
    save({ id: ref, token: tok });
    state.values = {}; state.status = res.body;
    go(res.body.status === 'awaiting-verification' ? 'code' : 'status');
  });
}
