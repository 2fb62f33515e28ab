// The public API (/api/v1) as the page uses it: JSON in and out, the
// traveller's session (access and refresh tokens) kept in localStorage and
// refreshed when the access token runs out, without the traveller noticing.

const BASE = '/api/v1';
const KEY = 'airline.session';

/** An error answer, in the API's one shape: `{error: {code, message, field?}}`. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `The service answered ${status}.`);
    this.status = status;
    this.code = e.code || (status === 0 ? 'network' : 'unknown');
    this.field = e.field || null;
    this.retryAfter = null;
  }
}

export function session() {
  try {
    return JSON.parse(localStorage.getItem(KEY)) || null;
  } catch {
    return null;
  }
}

function keep(pair, user) {
  const s = {
    access: pair.access_token,
    refresh: pair.refresh_token,
    user: user || pair.user || (session() || {}).user || null,
  };
  localStorage.setItem(KEY, JSON.stringify(s));
  return s;
}

export function forget() {
  localStorage.removeItem(KEY);
}

let refreshing = null;

/** One refresh at a time: concurrent calls that met a 401 wait for it. */
function refresh() {
  const s = session();
  if (!s || !s.refresh) return Promise.resolve(false);
  refreshing ??= fetch(`${BASE}/auth/refresh`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({refresh_token: s.refresh}),
  })
    .then(async (r) => {
      if (!r.ok) {
        if (r.status === 401) forget();
        return false;
      }
      keep(await r.json());
      return true;
    })
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/**
 * Calls the API. `opts.auth` sends the access token (refreshed once on a
 * 401); `opts.key` sends an Idempotency-Key. Resolves with the JSON body
 * (null for 204), rejects with an ApiError.
 */
export async function api(path, opts = {}) {
  const send = () => {
    const headers = {accept: 'application/json'};
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.key) headers['idempotency-key'] = opts.key;
    const s = session();
    if (opts.auth && s) headers.authorization = `Bearer ${s.access}`;
    return fetch(BASE + path, {
      method: opts.method || 'GET',
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  };
  let r;
  try {
    r = await send();
    if (r.status === 401 && opts.auth && (await refresh())) r = await send();
  } catch {
    throw new ApiError(0, {error: {code: 'network', message: 'The service cannot be reached. Check your connection and try again.'}});
  }
  if (r.status === 204) return null;
  const body = await r.json().catch(() => null);
  if (!r.ok) {
    const err = new ApiError(r.status, body);
    err.retryAfter = r.headers.get('retry-after');
    throw err;
  }
  return body;
}

export async function signUp(name, email, password) {
  const pair = await api('/auth/signup', {method: 'POST', body: {name, email, password}});
  return keep(pair, pair.user);
}

export async function logIn(email, password, otp) {
  const body = {email, password};
  if (otp) body.otp = otp;
  const pair = await api('/auth/login', {method: 'POST', body});
  keep(pair, null);
  const user = await api('/auth/me', {auth: true});
  // The tokens as they are now (the call may have refreshed them).
  const s = {...session(), user};
  localStorage.setItem(KEY, JSON.stringify(s));
  return s;
}

export async function logOut() {
  const s = session();
  if (s) {
    await api('/auth/logout', {method: 'POST', auth: true, body: {refresh_token: s.refresh}}).catch(() => null);
  }
  forget();
}
