/* The admin console: sign in with the identity provider (OpenID Connect
   authorization code flow with PKCE, when /api/console/config.json names one)
   or by pasting a bearer token (dev mode), the request queue with bulk
   actions, and the request detail with its task board and decisions, on the
   admin API. Plain script, no build step.

   The token lives in memory and in sessionStorage (this tab only, gone when
   the tab closes; "Sign out" clears it at once); it never goes into a URL.
   The provider's one-time authorization code does arrive in the URL, as the
   flow requires: it is removed from the address bar at once, and is useless
   without the PKCE verifier this tab kept. */
(function () {
  'use strict';
  var root = document.getElementById('console');
  var who = document.getElementById('who');
  var KEY = 'privops:console';
  var STATUSES = ['awaiting-verification', 'awaiting-decision', 'approved', 'in-progress', 'completed', 'partially-completed', 'denied', 'cancelled'];
  var TYPES = ['access', 'export', 'erase', 'rectify', 'restrict', 'lift-restriction', 'object'];
  var TERMINAL = /^(completed|partially-completed|denied|cancelled)$/;
  var HOLD_CATEGORIES = ['legal-obligation', 'legal-claims', 'freedom-of-expression', 'public-interest', 'public-health', 'archiving-research'];
  var DAY = 86400000;

  var saved = {};
  try { saved = JSON.parse(sessionStorage.getItem(KEY) || '{}') || {}; } catch (e) { saved = {}; }
  var state = { tenant: saved.tenant || '', token: saved.token || '', view: 'signin', filters: { status: '', type: '', unverified: false },
    list: [], next: '', request: null, errors: [], note: '', busy: false, values: {} };

  function h(tag, attrs) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v == null || v === false) return;
      if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    });
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function add(e, c) {
    if (c == null || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add(e, x); }); return; }
    e.append(c.nodeType ? c : document.createTextNode(String(c)));
  }
  function fmt(s) { return s ? new Date(s).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : ''; }
  function daysLeft(r) {
    if (!r.due || !r.due.at || TERMINAL.test(r.status)) return null;
    return Math.ceil((new Date(r.due.at) - Date.now()) / DAY);
  }

  function call(method, path, body, extra) {
    var headers = { Authorization: 'Bearer ' + state.token, Accept: 'application/json' };
    if (body) headers['Content-Type'] = 'application/json';
    if (method !== 'GET') headers['Idempotency-Key'] = crypto.randomUUID();
    Object.keys(extra || {}).forEach(function (k) { headers[k] = extra[k]; });
    return fetch('/api/admin/' + encodeURIComponent(state.tenant) + path, { method: method, headers: headers,
      body: body ? JSON.stringify(body) : undefined, cache: 'no-store', credentials: 'omit' })
      .then(function (r) {
        var ct = r.headers.get('Content-Type') || '';
        return (ct.indexOf('json') >= 0 ? r.json() : r.text()).then(function (b) { return { ok: r.ok, status: r.status, body: b, type: ct }; });
      }, function () { return { ok: false, status: 0, body: { message: 'the server could not be reached' } }; });
  }
  function problem(res) {
    var b = res.body || {};
    if (res.status === 401) return 'The token was refused (' + (b.code || 'invalid-token') + '): sign in again.';
    return (b.message || b.detail || b.title || 'request failed') + (b.code ? ' (' + b.code + ')' : '');
  }

  function go(view, focusSummary) {
    state.view = view;
    render();
    var t = focusSummary && root.querySelector('.summary') || root.querySelector('h1');
    if (t) t.focus();
  }
  function fail(msgs, field) { state.errors = msgs.map(function (m) { return { msg: m, field: field }; }); go(state.view, true); }

  function render() {
    who.replaceChildren();
    if (state.token && state.view !== 'signin') {
      who.append(h('span', {}, 'Tenant ' + state.tenant + ' '), h('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Sign out'));
    }
    var v = { signin: viewSignin, queue: viewQueue, detail: viewDetail }[state.view]();
    root.replaceChildren.apply(root, [].concat(v).filter(Boolean));
  }
  function summary() {
    if (!state.errors.length) return null;
    return h('div', { class: 'summary', role: 'alert', tabindex: '-1', 'aria-labelledby': 'c-err' },
      h('h2', { id: 'c-err' }, 'There is a problem'),
      h('ul', {}, state.errors.map(function (e) {
        return h('li', {}, e.field ? h('a', { href: '#' + e.field, onclick: function (ev) {
          ev.preventDefault(); var f = document.getElementById(e.field); if (f) f.focus();
        } }, e.msg) : e.msg);
      })));
  }
  function live() { return h('p', { role: 'status', tabindex: '-1', class: state.note ? 'notice' : 'sr', id: 'c-live' }, state.note); }
  function input(id, label, control, hint) {
    control.id = id;
    if (state.values[id] != null) control.value = state.values[id];
    control.addEventListener('input', function () { state.values[id] = control.value; });
    var err = state.errors.some(function (e) { return e.field === id; });
    if (err) control.setAttribute('aria-invalid', 'true');
    if (hint) control.setAttribute('aria-describedby', id + '-hint');
    return h('div', {}, h('label', { for: id }, label), hint ? h('span', { id: id + '-hint', class: 'hint' }, hint) : null, control);
  }

  // ---- sign in ---------------------------------------------------------

  function viewSignin() {
    return h('div', { class: 'box' }, h('h1', { tabindex: '-1' }, 'Sign in'),
      summary(),
      state.config.oidc ? [h('p', {}, h('button', { type: 'button', onclick: startOIDC }, 'Sign in with your organisation')),
        h('h2', {}, 'Or paste a token')] : null,
      h('p', {}, 'Paste a tenant admin token (development: the first start prints one; `privops token` mints more). ' +
        'It stays in this tab only.'),
      h('form', { novalidate: true, onsubmit: signIn },
        input('c-tenant', 'Tenant', h('input', { type: 'text', autocomplete: 'organization', spellcheck: 'false' })),
        input('c-token', 'Bearer token', h('textarea', { class: 'wide mono', spellcheck: 'false', autocomplete: 'off', rows: '4' })),
        h('p', {}, h('button', { type: 'submit' }, 'Sign in'))));
  }
  function tenantOf(tok) {
    try { return JSON.parse(atob(tok.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))[state.config.tenantClaim || 'tid'] || ''; } catch (e) { return ''; }
  }

  // ---- sign in with the identity provider (RFC 6749 code flow + RFC 7636 PKCE)

  var PKCE = KEY + ':pkce';
  function b64url(buf) {
    return btoa(String.fromCharCode.apply(null, new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function redirectURI() { return location.origin + location.pathname; }
  function discover() {
    return fetch(state.config.oidc.issuer + '/.well-known/openid-configuration', { credentials: 'omit' }).then(function (r) {
      if (!r.ok) throw new Error('discovery ' + r.status);
      return r.json();
    });
  }
  function startOIDC() {
    var verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
    var st = b64url(crypto.getRandomValues(new Uint8Array(16)));
    Promise.all([discover(), crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))]).then(function (x) {
      sessionStorage.setItem(PKCE, JSON.stringify({ verifier: verifier, state: st }));
      var o = state.config.oidc;
      var q = new URLSearchParams({ response_type: 'code', client_id: o.clientId, redirect_uri: redirectURI(), scope: o.scope,
        state: st, code_challenge: b64url(x[1]), code_challenge_method: 'S256' });
      location.assign(x[0].authorization_endpoint + '?' + q.toString());
    }).catch(function () { fail(['The identity provider could not be reached; try again, or paste a token.']); });
  }
  // finishOIDC redeems the code the provider sent back to this page.
  function finishOIDC(params) {
    history.replaceState(null, '', location.pathname); // the code leaves the address bar at once
    var saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(PKCE) || 'null'); sessionStorage.removeItem(PKCE); } catch (e) { saved = null; }
    if (params.get('error')) { fail(['The identity provider refused the sign-in (' + params.get('error') + ').']); return; }
    if (!saved || !params.get('code') || saved.state !== params.get('state')) { fail(['This sign-in answer does not belong to this tab; sign in again.']); return; }
    discover().then(function (d) {
      return fetch(d.token_endpoint, { method: 'POST', credentials: 'omit', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: params.get('code'), redirect_uri: redirectURI(),
          client_id: state.config.oidc.clientId, code_verifier: saved.verifier }).toString() });
    }).then(function (r) { return r.json().then(function (b) { if (!r.ok || !b.access_token) throw new Error(b.error || 'token ' + r.status); return b; }); })
      .then(function (b) { useToken(b.access_token, tenantOf(b.access_token)); })
      .catch(function (e) { fail(['The sign-in could not be completed (' + e.message + '); sign in again.']); });
  }
  function signIn(ev) {
    ev.preventDefault();
    var tok = (state.values['c-token'] || '').trim();
    var tenant = (state.values['c-tenant'] || '').trim() || tenantOf(tok);
    var errs = [];
    if (!tenant) errs.push({ msg: 'Enter the tenant', field: 'c-tenant' });
    if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(tok)) errs.push({ msg: 'Paste a bearer token (a JWT: three parts separated by dots)', field: 'c-token' });
    if (errs.length) { state.errors = errs; go('signin', true); return; }
    useToken(tok, tenant, 'c-token');
  }
  // useToken checks a token against the admin API and keeps it for this tab.
  function useToken(tok, tenant, field) {
    if (!tenant) { fail(['The token names no tenant (claim ' + (state.config.tenantClaim || 'tid') + '); paste it with the tenant instead.']); return; }
    state.tenant = tenant; state.token = tok;
    call('GET', '/requests?limit=1').then(function (res) {
      if (!res.ok) { state.token = ''; fail([problem(res)], field); return; }
      try { sessionStorage.setItem(KEY, JSON.stringify({ tenant: tenant, token: tok })); } catch (e) { /* memory only */ }
      state.values = {}; state.errors = [];
      loadQueue();
    });
  }
  function signOut() {
    try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing stored */ }
    state.token = ''; state.list = []; state.request = null; state.errors = []; state.note = '';
    go('signin');
  }

  // ---- queue -----------------------------------------------------------

  function loadQueue(more) {
    var f = state.filters, q = ['limit=100'];
    if (f.status) q.push('status=' + f.status);
    if (f.type) q.push('type=' + f.type);
    if (more && state.next) q.push('cursor=' + encodeURIComponent(state.next));
    return call('GET', '/requests?' + q.join('&')).then(function (res) {
      if (!res.ok) { fail([problem(res)]); return; }
      state.list = (more ? state.list : []).concat(res.body.requests || []);
      state.next = res.body.next || '';
      state.errors = [];
      if (state.view !== 'queue') go('queue'); else render();
    });
  }
  function viewQueue() {
    var f = state.filters;
    var rows = state.list.filter(function (r) { return f.unverified || f.status === 'awaiting-verification' || r.status !== 'awaiting-verification'; });
    rows.sort(function (a, b) { return (daysLeft(a) == null) - (daysLeft(b) == null) || (daysLeft(a) || 0) - (daysLeft(b) || 0); });
    var sel = function (id, label, opts, key) {
      var s = h('select', { id: id, onchange: function () { f[key] = s.value; if (state.bulk) state.bulk.preview = null; loadQueue().then(function () { document.getElementById(id).focus(); }); } });
      opts.forEach(function (o) { var op = h('option', { value: o[0] }, o[1]); if (f[key] === o[0]) op.selected = true; s.append(op); });
      return h('div', {}, h('label', { for: id }, label), s);
    };
    var cb = h('input', { type: 'checkbox', id: 'c-unverified', onchange: function () { f.unverified = cb.checked; if (state.bulk) state.bulk.preview = null; render(); document.getElementById('c-unverified').focus(); } });
    cb.checked = f.unverified;
    return h('div', { class: 'box' }, h('h1', { tabindex: '-1' }, 'Requests'), summary(), live(),
      h('div', { class: 'filters', role: 'group', 'aria-label': 'Filters' },
        sel('c-status', 'Status', [['', 'Any']].concat(STATUSES.map(function (s) { return [s, s]; })), 'status'),
        sel('c-type', 'Type', [['', 'Any']].concat(TYPES.map(function (s) { return [s, s]; })), 'type'),
        h('div', { class: 'check' }, cb, h('label', { for: 'c-unverified' }, 'Show unverified requests')),
        h('button', { type: 'button', class: 'secondary', onclick: function () { loadQueue(); } }, 'Refresh')),
      h('p', {}, rows.length + ' shown'),
      rows.length ? h('table', {}, h('caption', { class: 'sr' }, 'Requests, soonest deadline first'),
        h('thead', {}, h('tr', {}, ['Reference', 'Type', 'Status', 'Received', 'Due', 'Days left'].map(function (c) { return h('th', { scope: 'col' }, c); }))),
        h('tbody', {}, rows.map(function (r) {
          var dl = daysLeft(r);
          return h('tr', { class: dl != null && dl < 0 ? 'overdue' : null },
            h('td', {}, h('a', { href: '#', class: 'mono', onclick: function (ev) { ev.preventDefault(); openRequest(r.id); } }, r.id)),
            h('td', {}, r.type), h('td', {}, h('span', { class: 'badge' }, r.status)), h('td', {}, fmt(r.receivedAt)),
            h('td', {}, r.due && r.due.at ? fmt(r.due.at) : ''),
            h('td', {}, dl == null ? '—' : dl < 0 ? h('span', { class: 'overdue-text' }, 'Overdue by ' + -dl + ' days') : String(dl)));
        }))) : h('p', {}, 'No requests match.'),
      state.next ? h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: function () { loadQueue(true); } }, 'Load more')) : null,
      rows.length ? bulkPanel(rows) : null);
  }

  // ---- bulk actions ----------------------------------------------------

  // BULK says which of the shown requests an action applies to.
  var BULK = {
    approve: { label: 'Approve', path: '/approve', eligible: function (r) { return r.status === 'awaiting-decision'; } },
    deny: { label: 'Deny', path: '/deny', reason: true, eligible: function (r) { return r.status === 'awaiting-decision'; } },
    extend: { label: 'Extend', path: '/extend', reason: true, eligible: function (r) { return !TERMINAL.test(r.status) && r.status !== 'awaiting-verification' && !r.extension; } }
  };
  function bulkPanel(rows) {
    var b = state.bulk || (state.bulk = { action: 'approve', preview: null, running: false });
    var spec = BULK[b.action];
    var sel = h('select', { id: 'c-bulk-action', onchange: function () { b.action = sel.value; b.preview = null; render(); document.getElementById('c-bulk-action').focus(); } });
    Object.keys(BULK).forEach(function (k) { var o = h('option', { value: k }, BULK[k].label); if (k === b.action) o.selected = true; sel.append(o); });
    var targets = b.preview;
    return h('form', { class: 'box', novalidate: true, 'aria-labelledby': 'c-bulk-title', onsubmit: function (ev) {
      ev.preventDefault();
      if (b.running) return;
      if (spec.reason && !(state.values['c-bulk-reason'] || '').trim()) { fail(['Enter a reason to ' + spec.label.toLowerCase()], 'c-bulk-reason'); return; }
      if (!targets) {
        // The preview fixes the set: what is shown now and eligible.
        b.preview = rows.filter(spec.eligible).map(function (r) { return r.id; });
        state.errors = []; render();
        var p = document.getElementById('c-bulk-preview'); if (p) p.focus();
        return;
      }
      runBulk(spec, targets.slice(), (state.values['c-bulk-reason'] || '').trim());
    } },
      h('h2', { id: 'c-bulk-title' }, 'Bulk action on the requests shown'),
      h('div', { class: 'filters' }, h('div', {}, h('label', { for: 'c-bulk-action' }, 'Action'), sel),
        spec.reason ? h('div', { class: 'wide' }, input('c-bulk-reason', 'Reason (mailed to each subject)', h('textarea', {}))) : null),
      targets ? h('p', { id: 'c-bulk-preview', tabindex: '-1', class: 'notice' },
        spec.label + ' ' + targets.length + ' of the ' + rows.length + ' requests shown (the others are not in a state that allows it).') : null,
      h('p', {}, targets
        ? [h('button', { type: 'submit', disabled: b.running || !targets.length }, spec.label + ' ' + targets.length + ' requests'), ' ',
          h('button', { type: 'button', class: 'secondary', onclick: function () { b.preview = null; render(); } }, 'Cancel')]
        : h('button', { type: 'submit', class: 'secondary' }, 'Preview')));
  }
  // runBulk applies one action to each request in turn, each with its own
  // Idempotency-Key; a refusal is reported and the rest go on.
  function runBulk(spec, ids, reason) {
    var b = state.bulk, done = 0, failed = [];
    b.running = true; render();
    var next = function () {
      if (!ids.length) {
        b.running = false; b.preview = null; delete state.values['c-bulk-reason'];
        state.note = spec.label + ': ' + done + ' done' + (failed.length ? ', ' + failed.length + ' refused (' + failed.join('; ') + ')' : '') + '.';
        loadQueue().then(function () { var l = document.getElementById('c-live'); if (l) l.focus(); });
        return;
      }
      var id = ids.shift();
      call('POST', '/requests/' + encodeURIComponent(id) + spec.path, spec.reason ? { reason: reason } : null).then(function (res) {
        if (res.ok) done++; else failed.push(id + ': ' + problem(res));
        next();
      });
    };
    next();
  }

  // ---- detail ----------------------------------------------------------

  function openRequest(id, note) {
    return call('GET', '/requests/' + encodeURIComponent(id)).then(function (res) {
      if (!res.ok) { fail([problem(res)]); return; }
      state.request = res.body; state.errors = []; state.note = note || '';
      if (state.view !== 'detail' || !note) go('detail');
      else { render(); var l = document.getElementById('c-live'); if (l) l.focus(); }
    });
  }
  // act runs one decision; reasonId names the field that must not be empty.
  function act(label, path, reasonId, bodyOf) {
    return function (ev) {
      if (ev) ev.preventDefault();
      if (state.busy) return;
      var body = bodyOf ? bodyOf() : null;
      if (reasonId && !(state.values[reasonId] || '').trim()) { fail(['Enter a reason to ' + label.toLowerCase()], reasonId); return; }
      state.busy = true; render();
      call('POST', '/requests/' + encodeURIComponent(state.request.id) + path, body).then(function (res) {
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
    var reason = (state.values['c-hold-reason'] || '').trim();
    if (!reason) { fail(['Enter the internal reason for the hold'], 'c-hold-reason'); return; }
    state.busy = true; render();
    call('POST', '/holds', { scope: 'subject', email: state.request.subject.email, category: state.values['c-hold-category'] || HOLD_CATEGORIES[0], reason: reason })
      .then(function (res) {
        state.busy = false;
        if (!res.ok) { fail(['Hold: ' + problem(res)], 'c-hold-reason'); return; }
        delete state.values['c-hold-reason'];
        openRequest(state.request.id, 'Legal hold placed on this subject: erasures of their data are deferred.');
      });
  }
  function downloadCertificate() {
    call('GET', '/requests/' + encodeURIComponent(state.request.id) + '/certificate?format=text').then(function (res) {
      if (!res.ok) { fail(['Certificate: ' + problem(res)]); return; }
      var text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body, null, 2);
      var a = h('a', { href: URL.createObjectURL(new Blob([text], { type: 'text/plain' })), download: 'certificate-' + state.request.id + '.txt' });
      document.body.append(a); a.click(); a.remove();
    });
  }
  function viewDetail() {
    var r = state.request, busy = state.busy, dl = daysLeft(r), open = r.pauses && r.pauses.filter(function (p) { return !p.to; })[0];
    var rows = [['Type', r.type], ['Status', h('span', { class: 'badge' }, r.status)], ['Channel', r.channel],
      ['Subject', (r.subject && r.subject.email) || '(removed)'], ['Country', r.subject && r.subject.country], ['Received', fmt(r.receivedAt)],
      ['Identity verified', r.identityVerifiedAt ? fmt(r.identityVerifiedAt) : 'not yet'],
      ['Due', r.due && r.due.at ? fmt(r.due.at) + ' (' + r.due.regime + ')' : ''], ['Rule', r.due && r.due.rule],
      ['Days left', dl == null ? '—' : dl < 0 ? h('span', { class: 'overdue-text' }, 'Overdue by ' + -dl + ' days') : String(dl)]];
    if (r.extension) rows.push(['Extension', r.extension.reason + ' (by ' + r.extension.by + ')']);
    if (open) rows.push(['Paused', 'waiting for the subject: ' + open.reason]);
    if (r.decision) rows.push(['Decision', (r.decision.reason || '') + ' (by ' + r.decision.by + ', ' + fmt(r.decision.at) + ')']);
    var d = h('dl', {});
    rows.forEach(function (x) { if (x[1]) d.append(h('dt', {}, x[0]), h('dd', {}, x[1])); });
    var tasks = r.tasks || [];
    var deciding = r.status === 'awaiting-decision', runningOrOpen = !TERMINAL.test(r.status);
    var reason = function (id, label) { return input(id, label, h('textarea', {})); };
    var holdCat = h('select', {});
    HOLD_CATEGORIES.forEach(function (c) { var o = h('option', { value: c }, c); if (state.values['c-hold-category'] === c) o.selected = true; holdCat.append(o); });
    return [h('div', { class: 'box' },
      h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: function () { state.note = ''; loadQueue(); } }, '← Back to the queue')),
      h('h1', { tabindex: '-1' }, 'Request ', h('span', { class: 'mono' }, r.id)), summary(), live(), d,
      h('h2', {}, 'Tasks'),
      tasks.length ? h('table', {}, h('caption', { class: 'sr' }, 'One task per service and action'),
        h('thead', {}, h('tr', {}, ['Service', 'Action', 'Status', 'Attempts', 'Reason', ''].map(function (c) { return h('th', { scope: 'col' }, c || h('span', { class: 'sr' }, 'Retry')); }))),
        h('tbody', {}, tasks.map(function (t) {
          return h('tr', {}, h('td', {}, t.serviceName || t.service), h('td', {}, t.action), h('td', {}, h('span', { class: 'badge' }, t.status)),
            h('td', {}, String(t.attempts || 0)), h('td', {}, t.reason || (t.holdCategory ? 'hold: ' + t.holdCategory : '')),
            h('td', {}, t.status === 'failed' || t.status === 'held' ? h('button', { type: 'button', class: 'secondary', disabled: busy,
              onclick: act('Retry ' + (t.serviceName || t.service), '/tasks/' + encodeURIComponent(t.id) + '/retry') }, 'Retry') : null));
        }))) : h('p', {}, 'No tasks yet: they are created when the request is approved.'),
      h('h2', {}, 'Downloads'),
      h('p', {}, r.download && r.download.url && !r.download.expired ? h('a', { href: r.download.url, download: '' }, 'Download the export package') : null, ' ',
        r.package && (!r.download || r.download.expired) ? h('button', { type: 'button', class: 'secondary', disabled: busy, onclick: act('New download link', '/package/link') }, 'New download link') : null, ' ',
        TERMINAL.test(r.status) && r.status !== 'denied' && r.status !== 'cancelled' ? h('button', { type: 'button', class: 'secondary', onclick: downloadCertificate }, 'Download the certificate') : null,
        !r.package && !TERMINAL.test(r.status) ? 'Nothing to download yet.' : null)),
    runningOrOpen ? h('div', { class: 'box' }, h('h2', {}, 'Decide'),
      h('div', { class: 'actions' },
        deciding ? h('form', { class: 'action', onsubmit: act('Approve', '/approve') }, h('p', {}, 'Carry the request out at every service.'), h('button', { type: 'submit', disabled: busy }, 'Approve')) : null,
        deciding ? h('form', { class: 'action', novalidate: true, onsubmit: act('Deny', '/deny', 'c-deny', function () { return { reason: state.values['c-deny'] }; }) },
          reason('c-deny', 'Reason for the subject (mailed)'), h('button', { type: 'submit', class: 'danger', disabled: busy }, 'Deny')) : null,
        !r.extension ? h('form', { class: 'action', novalidate: true, onsubmit: act('Extend', '/extend', 'c-extend', function () { return { reason: state.values['c-extend'] }; }) },
          reason('c-extend', 'Reason for the extension (mailed)'), h('button', { type: 'submit', disabled: busy }, 'Extend')) : null,
        open ? h('form', { class: 'action', onsubmit: act('Resume', '/resume') }, h('p', {}, 'The subject answered: start the clock again.'), h('button', { type: 'submit', disabled: busy }, 'Resume'))
          : h('form', { class: 'action', novalidate: true, onsubmit: act('Pause', '/pause', 'c-pause', function () { return { reason: state.values['c-pause'] }; }) },
            reason('c-pause', 'Question for the subject (mailed; the clock stops)'), h('button', { type: 'submit', disabled: busy }, 'Pause')),
        r.subject && r.subject.email ? h('form', { class: 'action', novalidate: true, onsubmit: placeHold },
          input('c-hold-category', 'Legal ground (told to the subject)', holdCat), reason('c-hold-reason', 'Internal reason (never shown to the subject)'),
          h('button', { type: 'submit', disabled: busy }, 'Place a legal hold on this subject')) : null,
        tasks.some(function (t) { return t.status === 'failed' || t.status === 'held'; }) ? h('form', { class: 'action', onsubmit: act('Retry', '/retry') },
          h('p', {}, 'Retry every failed task, and held tasks no hold covers any more.'), h('button', { type: 'submit', disabled: busy }, 'Retry all')) : null)) : null];
  }

  state.config = {};
  fetch('config.json', { credentials: 'omit' }).then(function (r) { return r.ok ? r.json() : {}; }, function () { return {}; }).then(function (cfg) {
    state.config = cfg || {};
    var params = new URLSearchParams(location.search);
    if (state.config.oidc && (params.has('code') || params.has('error'))) { state.view = 'signin'; render(); finishOIDC(params); return; }
    if (state.token) loadQueue(); else go('signin');
  });
})();
