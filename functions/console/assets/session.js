/* Signing in and staying signed in: a pasted bearer token (dev mode), or
   the identity provider's authorization code flow with PKCE (RFC 6749,
   RFC 7636), and renewal before the access token expires: with the refresh
   token if the provider issued one (grant_type=refresh_token), else a
   banner asking to sign in again that keeps the page where it is.

   The tokens live in memory and in sessionStorage (this tab only, gone when
   the tab closes; "Sign out" clears them at once); never in a URL. The
   provider's one-time code does arrive in the URL, as the flow requires: it
   is removed from the address bar at once, and is useless without the PKCE
   verifier this tab kept. */
import { KEY, DAY, OPERATOR_ROLES, state, views, hooks, keep, h, go, render, fail, problem, request, summary, input } from './core.js';

const PKCE = KEY + ':pkce';
const RESUME = KEY + ':resume';
// RENEW_BEFORE: renew this long before the access token expires.
const RENEW_BEFORE = 60000;

export function claims(tok) {
  try { return JSON.parse(atob(tok.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) || {}; } catch (e) { return {}; }
}
function tenantOf(tok) { return claims(tok)[state.config.tenantClaim || 'tid'] || ''; }
// isOperator: the token carries an operator role (the roles claim).
function isOperator(tok) {
  let roles = claims(tok)[state.config.rolesClaim || 'roles'] || [];
  if (typeof roles === 'string') roles = roles.split(/[\s,]+/);
  return roles.some((r) => OPERATOR_ROLES.indexOf(r) >= 0);
}

views.signin = function viewSignin() {
  return h('div', { class: 'box' }, h('h1', { tabindex: '-1' }, 'Sign in'),
    summary(),
    state.config.oidc ? [h('p', {}, h('button', { type: 'button', onclick: () => startOIDC() }, 'Sign in with your organisation')),
      h('h2', {}, 'Or paste a token')] : null,
    h('p', {}, 'Paste a tenant admin or operator token (development: the first start prints one; `privops token` mints more). ' +
      'It stays in this tab only.'),
    h('form', { novalidate: true, onsubmit: signIn },
      input('c-tenant', 'Tenant', h('input', { type: 'text', autocomplete: 'organization', spellcheck: 'false' }), 'Leave empty for an operator token, or when the token names it.'),
      input('c-token', 'Bearer token', h('textarea', { class: 'wide mono', spellcheck: 'false', autocomplete: 'off', rows: '4' })),
      h('p', {}, h('button', { type: 'submit' }, 'Sign in'))));
};

function b64url(buf) {
  return btoa(String.fromCharCode.apply(null, new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
function redirectURI() { return location.origin + location.pathname; }
function discover() {
  return fetch(state.config.oidc.issuer + '/.well-known/openid-configuration', { credentials: 'omit' }).then((r) => {
    if (!r.ok) throw new Error('discovery ' + r.status);
    return r.json();
  });
}
// startOIDC sends the admin to the provider; resume (a snapshot of the page)
// is kept in this tab to come back to.
function startOIDC(resume) {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const st = b64url(crypto.getRandomValues(new Uint8Array(16)));
  Promise.all([discover(), crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))]).then(([d, challenge]) => {
    sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state: st }));
    if (resume) sessionStorage.setItem(RESUME, JSON.stringify(resume));
    const o = state.config.oidc;
    const q = new URLSearchParams({ response_type: 'code', client_id: o.clientId, redirect_uri: redirectURI(), scope: o.scope,
      state: st, code_challenge: b64url(challenge), code_challenge_method: 'S256' });
    location.assign(d.authorization_endpoint + '?' + q.toString());
  }).catch(() => fail(['The identity provider could not be reached; try again, or paste a token.']));
}
function tokenCall(params) {
  return discover().then((d) => fetch(d.token_endpoint, { method: 'POST', credentials: 'omit',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() }))
    .then((r) => r.json().then((b) => { if (!r.ok || !b.access_token) throw new Error(b.error || 'token ' + r.status); return b; }));
}
// finishOIDC redeems the code the provider sent back to this page.
function finishOIDC(params) {
  history.replaceState(null, '', location.pathname); // the code leaves the address bar at once
  let pk = null, resume = null;
  try {
    pk = JSON.parse(sessionStorage.getItem(PKCE) || 'null'); sessionStorage.removeItem(PKCE);
    resume = JSON.parse(sessionStorage.getItem(RESUME) || 'null'); sessionStorage.removeItem(RESUME);
  } catch (e) { pk = null; }
  if (params.get('error')) { fail(['The identity provider refused the sign-in (' + params.get('error') + ').']); return; }
  if (!pk || !params.get('code') || pk.state !== params.get('state')) { fail(['This sign-in answer does not belong to this tab; sign in again.']); return; }
  tokenCall({ grant_type: 'authorization_code', code: params.get('code'), redirect_uri: redirectURI(),
    client_id: state.config.oidc.clientId, code_verifier: pk.verifier })
    .then((b) => useToken(b.access_token, tenantOf(b.access_token), null, b, resume))
    .catch((e) => fail(['The sign-in could not be completed (' + e.message + '); sign in again.']));
}
function signIn(ev) {
  ev.preventDefault();
  const tok = (state.values['c-token'] || '').trim();
  const tenant = (state.values['c-tenant'] || '').trim() || tenantOf(tok);
  const errs = [];
  if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(tok)) errs.push({ msg: 'Paste a bearer token (a JWT: three parts separated by dots)', field: 'c-token' });
  else if (!tenant && !isOperator(tok)) errs.push({ msg: 'Enter the tenant', field: 'c-tenant' });
  if (errs.length) { state.errors = errs; go('signin', true); return; }
  useToken(tok, tenant, 'c-token');
}

// useToken checks a token against the API it is for (an operator token the
// operator API, a tenant token the admin API) and keeps it for this tab.
// The console shows an operator the tenant list only, never a request.
function useToken(tok, tenant, field, grant, resume) {
  const operator = isOperator(tok);
  if (!tenant && !operator) { fail(['The token names no tenant (claim ' + (state.config.tenantClaim || 'tid') + '); paste it with the tenant instead.']); return; }
  state.tenant = operator ? '' : tenant; state.token = tok; state.operator = operator;
  state.refresh = (grant && grant.refresh_token) || '';
  state.expiring = false;
  const check = operator ? '/api/operator/tenants?limit=1' : '/api/admin/' + encodeURIComponent(tenant) + '/requests?limit=1';
  request('GET', check).then((res) => {
    if (!res.ok) { state.token = ''; fail([problem(res)], field); return; }
    keep();
    state.values = {}; state.errors = [];
    schedule();
    if (resume && hooks.restore) { hooks.restore(resume); return; }
    hooks.home();
  });
}
hooks.signOut = function signOut() {
  try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing stored */ }
  clearTimeout(timer);
  state.token = ''; state.refresh = ''; state.list = []; state.request = null; state.errors = []; state.note = ''; state.expiring = false;
  go('signin');
};

// ---- renewal -----------------------------------------------------------

let timer = 0;
let renewing = null;
function expiresAt() { const e = claims(state.token).exp; return e ? e * 1000 : 0; }
// schedule arranges the renewal RENEW_BEFORE the token's expiry.
export function schedule() {
  clearTimeout(timer);
  const exp = expiresAt();
  if (!exp || !state.token) return;
  const wait = Math.max(0, exp - RENEW_BEFORE - Date.now());
  // setTimeout fires at once past 2^31-1 ms (24.8 days): a long-lived token
  // is looked at again daily instead.
  timer = wait > DAY ? setTimeout(schedule, DAY) : setTimeout(renew, wait);
}
// renew trades the refresh token for a new access token, silently; without
// one (or when the provider refuses it) the banner asks to sign in again.
function renew() {
  if (renewing) return renewing;
  if (!state.refresh || !state.config.oidc) {
    state.expiring = true; render();
    return Promise.resolve(false);
  }
  renewing = tokenCall({ grant_type: 'refresh_token', refresh_token: state.refresh, client_id: state.config.oidc.clientId,
    scope: state.config.oidc.scope })
    .then((b) => {
      state.token = b.access_token;
      if (b.refresh_token) state.refresh = b.refresh_token; // rotated
      state.expiring = false; keep(); schedule();
      return true;
    }, () => { state.refresh = ''; keep(); state.expiring = true; render(); return false; })
    .finally(() => { renewing = null; });
  return renewing;
}
// Before each call: a token about to expire is renewed first (a timer may
// have slept while the laptop did).
hooks.beforeCall = function () {
  const exp = expiresAt();
  if (exp && state.refresh && exp - Date.now() < RENEW_BEFORE / 2) return renew().then(() => undefined);
  return Promise.resolve();
};
hooks.onUnauthorized = function (res) {
  if (state.view !== 'signin' && state.token) { state.expiring = true; }
  return res;
};
// banner: the sign-in is ending or ended and cannot be renewed silently.
hooks.banner = function () {
  if (!state.expiring || !state.token || state.view === 'signin') return null;
  const ended = expiresAt() && expiresAt() <= Date.now();
  return h('div', { class: 'box renew', role: 'region', 'aria-labelledby': 'c-renew' },
    h('h2', { id: 'c-renew' }, ended ? 'Your sign-in has ended' : 'Your sign-in ends soon'),
    h('p', {}, 'Sign in again to go on; this page stays as it is.'),
    state.config.oidc ? h('p', {}, h('button', { type: 'button', onclick: () => startOIDC(hooks.snapshot()) }, 'Sign in again')) : null,
    h('form', { novalidate: true, onsubmit: pasteAgain },
      input('c-renew-token', state.config.oidc ? 'Or paste a new token' : 'Paste a new token', h('textarea', { class: 'wide mono', spellcheck: 'false', autocomplete: 'off', rows: '2' })),
      h('p', {}, h('button', { type: 'submit', class: 'secondary' }, 'Use this token'))));
};
// pasteAgain swaps in a new pasted token in place: the page keeps its state.
function pasteAgain(ev) {
  ev.preventDefault();
  const tok = (state.values['c-renew-token'] || '').trim();
  if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(tok) || isOperator(tok) !== state.operator || (!state.operator && tenantOf(tok) && tenantOf(tok) !== state.tenant)) {
    state.errors = [{ msg: 'Paste a token for the same tenant and role', field: 'c-renew-token' }]; render();
    const f = document.getElementById('c-renew-token'); if (f) f.focus();
    return;
  }
  state.token = tok; state.refresh = ''; state.expiring = false; state.errors = [];
  delete state.values['c-renew-token'];
  keep(); schedule(); render();
}

// start reads the page's configuration and signs in or resumes.
export function start() {
  fetch('config.json', { credentials: 'omit' }).then((r) => (r.ok ? r.json() : {}), () => ({})).then((cfg) => {
    state.config = cfg || {};
    const params = new URLSearchParams(location.search);
    if (state.config.oidc && (params.has('code') || params.has('error'))) { state.view = 'signin'; render(); finishOIDC(params); return; }
    if (state.token) { schedule(); hooks.home(); } else go('signin');
    // The sign-in form (or the first page) is on screen: e2e/measure.mjs reads this mark.
    performance.mark('privops-interactive');
  });
}
