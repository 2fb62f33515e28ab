// The web app's small building blocks, shared by its pages (app.js, the
// booking journey; account.js, the account): DOM construction, money and
// times, notices, form fields and their errors.

const main = document.getElementById('main');

/** Goes to `hash` (renders again when it is already there). */
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}


/** An element: `h('p', {class: 'x'}, 'text', child)`; `on*` attributes are listeners. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c !== null && c !== undefined && c !== false) el.append(c.nodeType ? c : String(c));
  }
  return el;
}

/** Replaces `el`'s children, skipping the empty ones (null, false). */
export function fill(el, ...nodes) {
  el.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false));
}

export function show(...nodes) {
  fill(main, ...nodes);
}

export function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  setTimeout(() => {
    if (t.textContent === text) t.textContent = '';
  }, 4000);
}

export const decimals = (currency) =>
  new Intl.NumberFormat('en', {style: 'currency', currency}).resolvedOptions().maximumFractionDigits;

export function money(m) {
  if (!m) return '';
  return new Intl.NumberFormat(undefined, {style: 'currency', currency: m.currency}).format(
    m.amount / 10 ** decimals(m.currency),
  );
}

/** A time in the airport's own zone, with the zone's name. */
export function localTime(iso, zone, withDate = true) {
  const opts = {hour: '2-digit', minute: '2-digit', timeZoneName: 'short'};
  if (withDate) Object.assign(opts, {weekday: 'short', day: 'numeric', month: 'short'});
  if (zone) opts.timeZone = zone;
  return new Intl.DateTimeFormat(undefined, opts).format(new Date(iso));
}

export const duration = (min) => `${Math.floor(min / 60)}h ${String(min % 60).padStart(2, '0')}m`;
export const cabinName = (c) => c.replace('_', ' ').replace(/^./, (x) => x.toUpperCase());
export const seatOrder = (a, b) => parseInt(a) - parseInt(b) || a.localeCompare(b);

export function notice(kind, ...content) {
  return h('div', {class: `notice ${kind}`, role: kind === 'bad' ? 'alert' : 'status'}, ...content);
}

/** Plain words for an API error the traveller can act on. */
export function explain(err) {
  switch (err.code) {
    case 'network':
    case 'unavailable':
    case 'timeout':
      return 'The booking service is busy or out of reach right now. Nothing was booked or charged; please try again in a moment.';
    case 'rate_limited':
      return `Too many attempts. Please wait ${err.retryAfter || 'a few'} seconds and try again.`;
    case 'unauthorized':
      return 'Your session has ended. Please log in again.';
    case 'email_not_verified':
      return 'Please confirm your email address first: follow the link we emailed you (your account page sends a new one).';
    default:
      return err.message;
  }
}

/** Shows an API error next to its field (`data-field`), or in `where`. */
export function showError(form, err, where) {
  for (const el of form.querySelectorAll('.error')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const input = err.field && form.querySelector(`[data-field="${CSS.escape(err.field)}"]`);
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    const slot = document.getElementById(input.getAttribute('aria-describedby'));
    if (slot) slot.textContent = err.message;
    input.focus();
  } else {
    where.replaceChildren(notice('bad', explain(err)));
  }
}

let fieldSeq = 0;
/** A labelled input with its error slot; `field` is the API's name for it. */
export function field(label, attrs) {
  const id = `f${++fieldSeq}`;
  const input = h(attrs.tag || 'input', {id, 'aria-describedby': `${id}-err`, 'data-field': attrs.field, ...attrs, tag: null, field: null});
  return h('label', {for: id}, label, input, h('span', {class: 'error', id: `${id}-err`}));
}

export function select(label, name, options, value) {
  const id = `f${++fieldSeq}`;
  return h('label', {for: id}, label,
    h('select', {id, name, 'data-field': name, 'aria-describedby': `${id}-err`},
      options.map(([v, text]) => h('option', {value: v, selected: String(v) === String(value)}, text))),
    h('span', {class: 'error', id: `${id}-err`}));
}

export async function busy(button, work) {
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.disabled = false;
  }
}

