// The traveller's web app: search, seats, passengers, payment, the booking
// and the account, on the public API. No framework: a hash router and one
// render function per page, building DOM nodes (never HTML from data).
// Here: the router, search, the seat map and the passengers; the booking
// page (payment, confirmation, cancel) is booking.js, the account pages
// account.js, the page's lifetime page.js.

import {ApiError, api, logIn, logOut, session, signUp} from './api.js';
import {h, fill, show, toast, decimals, money, localTime, duration, cabinName, seatOrder, notice, explain, showError, field, select, busy, go} from './ui.js';
import {accountPage, forgotPage, resetPage, unlockPage, verifyEmailPage, verifyBanner} from './account.js';
import {bookingPage, dismissOverlays} from './booking.js';
import {current, every, nextPage} from './page.js';

const main = document.getElementById('main');
const DRAFT = 'airline.draft';
const CABINS = ['economy', 'premium_economy', 'business', 'first'];

function draft() {
  try {
    return JSON.parse(sessionStorage.getItem(DRAFT)) || null;
  } catch {
    return null;
  }
}

const saveDraft = (d) => sessionStorage.setItem(DRAFT, JSON.stringify(d));

// ---------- routing ----------

function route() {
  const [path, query] = location.hash.replace(/^#/, '').split('?');
  return {parts: (path || '/').split('/').filter(Boolean), params: new URLSearchParams(query || '')};
}

async function render() {
  const gen = nextPage();
  dismissOverlays();
  nav();
  const {parts, params} = route();
  const [page, id] = parts;
  const views = {flight: () => flightPage(id, params), passengers: passengersPage, booking: () => bookingPage(id, gen),
    bookings: () => bookingsPage(params, gen), login: () => loginPage(params), signup: () => signupPage(params),
    account: accountPage, forgot: forgotPage, 'verify-email': () => verifyEmailPage(params),
    'reset-password': () => resetPage(params), unlock: () => unlockPage(params)};
  try {
    await (views[page] || (() => searchPage(params)))();
  } catch (err) {
    if (!current(gen)) return;
    if (err instanceof ApiError && err.status === 401) return go(`#/login?next=${encodeURIComponent(location.hash)}`);
    show(h('h1', {}, 'Something went wrong'), notice('bad', err instanceof ApiError ? explain(err) : 'This page could not be shown. Please reload.'),
      h('p', {}, h('a', {href: '#/'}, 'Back to search')));
  }
  if (current(gen)) main.focus();
}

function nav() {
  const s = session();
  const el = document.getElementById('nav');
  if (s) {
    el.replaceChildren(
      h('a', {href: '#/bookings'}, 'My bookings'),
      h('a', {href: '#/account'}, s.user ? s.user.name || s.user.email : 'Account'),
      h('button', {class: 'link', type: 'button', onclick: async () => { await logOut(); go('#/'); }}, 'Log out'),
    );
  } else {
    el.replaceChildren(h('a', {href: '#/login'}, 'Log in'), h('a', {href: '#/signup'}, 'Sign up'));
  }
}

// ---------- search ----------

function airportInput(label, name, value) {
  const listId = `${name}-list`;
  const wrap = field(label, {name, field: name, value: value || '', list: listId, autocomplete: 'off',
    placeholder: 'City, airport or code', required: true, maxlength: 100});
  const list = h('datalist', {id: listId});
  const input = wrap.querySelector('input');
  let timer;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2 || /^[A-Z]{3}$/.test(q)) return;
    timer = setTimeout(async () => {
      const found = await api(`/airports?q=${encodeURIComponent(q)}&per_page=8`).catch(() => null);
      if (!found) return;
      list.replaceChildren(...found.items.map((a) =>
        h('option', {value: a.iata_code}, `${a.city.city_name} — ${a.name} (${a.iata_code})`)));
    }, 200);
  });
  wrap.append(list);
  return wrap;
}

async function searchPage(params) {
  const today = new Date().toISOString().slice(0, 10);
  const form = h('form', {class: 'grid card', novalidate: true, 'aria-label': 'Search flights'},
    airportInput('From', 'from', params.get('from')),
    airportInput('To', 'to', params.get('to')),
    field('Date', {type: 'date', name: 'date', field: 'date', value: params.get('date') || '', min: today}),
    select('Travellers', 'travellers', [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => [n, n]), params.get('travellers') || 1),
    select('Cabin', 'cabin', [['', 'Any cabin'], ...CABINS.map((c) => [c, cabinName(c)])], params.get('cabin') || ''),
    h('button', {class: 'primary', type: 'submit'}, 'Search flights'));
  const out = h('section', {'aria-live': 'polite'});
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) {
      const value = String(v).trim();
      // A typed three-letter code is an airport code, whatever its case.
      if (value) next.set(k, (k === 'from' || k === 'to') && /^[a-z]{3}$/i.test(value) ? value.toUpperCase() : value);
    }
    go(`#/?${next}`);
  });
  show(h('h1', {}, 'Where to?'), form, out);
  if (params.get('from') || params.get('to') || params.get('date')) await results(params, form, out);
}

async function results(params, form, out) {
  const q = new URLSearchParams(params);
  q.set('per_page', '10');
  let page;
  try {
    page = await api(`/flights?${q}`);
  } catch (err) {
    if (err instanceof ApiError && err.status < 500) return showError(form, err, out);
    throw err;
  }
  const currency = page.items[0] ? page.items[0].fare.currency : 'EUR';
  const scale = 10 ** decimals(currency);
  const major = (name) => (params.get(name) ? Number(params.get(name)) / scale : '');
  const filters = h('form', {class: 'filters', novalidate: true, 'aria-label': 'Filter and sort'},
    field(`Min price (${currency})`, {type: 'number', name: 'min_price', field: 'min_price', min: 0, step: 'any', value: major('min_price')}),
    field(`Max price (${currency})`, {type: 'number', name: 'max_price', field: 'max_price', min: 0, step: 'any', value: major('max_price')}),
    field('Departs after', {type: 'time', name: 'departs_after', field: 'departs_after', value: params.get('departs_after') || ''}),
    field('Departs before', {type: 'time', name: 'departs_before', field: 'departs_before', value: params.get('departs_before') || ''}),
    select('Sort by', 'sort', [['departure_time', 'Departure'], ['price', 'Lowest price'], ['-price', 'Highest price'], ['duration', 'Shortest']], params.get('sort') || 'departure_time'),
    h('button', {type: 'submit'}, 'Apply'));
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams(params);
    next.delete('page');
    for (const [k, v] of new FormData(filters)) {
      const value = String(v).trim();
      if (!value) next.delete(k);
      else next.set(k, k.endsWith('_price') ? String(Math.round(Number(value) * scale)) : value);
    }
    go(`#/?${next}`);
  });
  const travellers = params.get('travellers') || '1';
  const list = h('ul', {class: 'results'}, page.items.map((f) => h('li', {class: 'card'},
    h('div', {class: 'row'},
      h('div', {},
        h('strong', {}, `${f.origin.code} ${localTime(f.departure_time, f.origin.time_zone)}`), ' → ',
        h('strong', {}, `${f.destination.code} ${localTime(f.arrival_time, f.destination.time_zone)}`),
        h('div', {class: 'muted'}, `${f.flight_number} · ${f.origin.city} to ${f.destination.city} · ${duration(f.duration_minutes)} · ${f.seats_available} seats left`)),
      h('div', {},
        h('div', {class: 'price'}, money(f.fare)),
        h('a', {href: `#/flight/${f.id}?travellers=${travellers}&cabin=${params.get('cabin') || ''}`, class: 'button',
          'aria-label': `Choose seats on ${f.flight_number} at ${money(f.fare)}`}, 'Choose seats'))))));
  const pages = Math.max(1, Math.ceil(page.total / page.per_page));
  const to = (n) => { const next = new URLSearchParams(params); next.set('page', n); return `#/?${next}`; };
  fill(out,
    filters,
    h('h2', {}, page.total ? `${page.total} flight${page.total === 1 ? '' : 's'}` : 'No flights match'),
    page.total ? list : h('p', {class: 'muted'}, 'Try another date, widen the price range or the departure window.'),
    pages > 1 ? h('nav', {class: 'pager', 'aria-label': 'Pages'},
      page.page > 1 ? h('a', {href: to(page.page - 1)}, '← Previous') : null,
      h('span', {}, `Page ${page.page} of ${pages}`),
      page.page < pages ? h('a', {href: to(page.page + 1)}, 'Next →') : null) : null);
}

// ---------- seat map ----------

async function flightPage(id, params) {
  const [flight, seats] = await Promise.all([api(`/flights/${encodeURIComponent(id)}`), api(`/flights/${encodeURIComponent(id)}/seats`)]);
  const wanted = Math.min(9, Math.max(1, Number(params.get('travellers')) || 1));
  const picked = new Map(); // seat number -> seat
  const summary = h('div', {'aria-live': 'polite'});
  const map = h('div', {});
  let current = seats.seats;

  const update = () => {
    const total = [...picked.values()].reduce((sum, s) => sum + s.fare.amount, 0);
    const currency = flight.cabins[0] ? flight.cabins[0].fare.currency : 'EUR';
    summary.replaceChildren(
      h('p', {}, picked.size ? `Seats ${[...picked.keys()].sort(seatOrder).join(', ')} · ${money({amount: total, currency})}` : `Choose ${wanted} seat${wanted > 1 ? 's' : ''}.`),
      h('button', {class: 'primary', type: 'button', disabled: picked.size !== wanted,
        onclick: () => toPassengers({seats: [...picked.keys()].sort(seatOrder), total: {amount: total, currency}})}, 'Continue to passengers'));
  };
  const toPassengers = (choice) => {
    saveDraft({flight: {id: flight.id, number: flight.flight_number, from: flight.origin, to: flight.destination, departure: flight.departure_time},
      travellers: choice.seats ? choice.seats.length : choice.count, ...choice});
    go('#/passengers');
  };
  const drawMap = () => {
    const byCabin = new Map();
    for (const s of current) {
      if (!byCabin.has(s.cabin)) byCabin.set(s.cabin, new Map());
      const row = parseInt(s.seat_number);
      const rows = byCabin.get(s.cabin);
      if (!rows.has(row)) rows.set(row, []);
      rows.get(row).push(s);
    }
    map.replaceChildren(...[...byCabin].map(([cabin, rows]) => h('section', {class: 'cabin', 'aria-label': cabinName(cabin)},
      h('h2', {}, `${cabinName(cabin)} · from ${money((flight.cabins.find((c) => c.cabin === cabin) || {}).fare)}`),
      [...rows].sort((a, b) => a[0] - b[0]).map(([row, list]) => {
        list.sort((a, b) => a.seat_number.localeCompare(b.seat_number));
        const aisle = Math.ceil(list.length / 2);
        return h('div', {class: 'seatrow'}, h('span', {class: 'rowno', 'aria-hidden': 'true'}, row),
          list.map((s, i) => h('button', {
            type: 'button', class: `seat${i === aisle ? ' gap' : ''}`, 'data-seat': s.seat_number,
            disabled: s.status !== 'available' && !picked.has(s.seat_number),
            'aria-pressed': String(picked.has(s.seat_number)),
            'aria-label': `Seat ${s.seat_number}, ${cabinName(s.cabin)}, ${s.status === 'available' ? money(s.fare) : 'taken'}`,
            onclick: () => {
              if (picked.has(s.seat_number)) picked.delete(s.seat_number);
              else if (picked.size >= wanted) return toast(`You have chosen ${wanted} seat${wanted > 1 ? 's' : ''}; unselect one first.`);
              else picked.set(s.seat_number, s);
              drawMap();
              update();
              map.querySelector(`[data-seat="${s.seat_number}"]`).focus();
            },
          }, s.seat_number.replace(/^\d+/, ''))));
      }))));
  };
  const autoCabin = params.get('cabin') || (flight.cabins[0] || {}).cabin;
  const auto = h('form', {class: 'filters', 'aria-label': 'Let us choose'},
    select('Cabin', 'cabin', flight.cabins.filter((c) => c.seats_available >= wanted).map((c) => [c.cabin, `${cabinName(c.cabin)} · ${money(c.fare)} · ${c.seats_available} left`]), autoCabin),
    h('button', {type: 'submit'}, `Choose ${wanted} seat${wanted > 1 ? 's' : ''} for me`));
  auto.addEventListener('submit', (e) => {
    e.preventDefault();
    const cabin = new FormData(auto).get('cabin');
    const fare = (flight.cabins.find((c) => c.cabin === cabin) || {}).fare;
    if (cabin) toPassengers({cabin, count: wanted, total: fare && {amount: fare.amount * wanted, currency: fare.currency}});
  });
  show(
    h('h1', {}, `${flight.flight_number}: ${flight.origin.city} → ${flight.destination.city}`),
    h('div', {class: 'card'}, h('dl', {class: 'facts'},
      h('dt', {}, 'Departs'), h('dd', {}, `${flight.origin.name} (${flight.origin.code}), ${localTime(flight.departure_time, flight.origin.time_zone)}`),
      h('dt', {}, 'Arrives'), h('dd', {}, `${flight.destination.name} (${flight.destination.code}), ${localTime(flight.arrival_time, flight.destination.time_zone)}`),
      h('dt', {}, 'Duration'), h('dd', {}, duration(flight.duration_minutes)),
      h('dt', {}, 'Aircraft'), h('dd', {}, flight.airplane.model))),
    select('Travellers', 'travellers', [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => [n, n]), wanted),
    h('h2', {}, 'Pick your seats'),
    h('p', {class: 'legend muted'}, 'Grey seats are taken. Seat availability refreshes every few seconds.'),
    map, h('div', {class: 'card'}, summary), h('h2', {}, 'Or let us choose'), auto);
  main.querySelector('select[name=travellers]').addEventListener('change', (e) => {
    const next = new URLSearchParams(params);
    next.set('travellers', e.target.value);
    go(`#/flight/${id}?${next}`);
  });
  drawMap();
  update();
  every(5000, async () => {
    const fresh = await api(`/flights/${encodeURIComponent(id)}/seats`).catch(() => null);
    if (!fresh) return;
    current = fresh.seats;
    const lost = [...picked.keys()].filter((n) => (current.find((s) => s.seat_number === n) || {}).status !== 'available');
    lost.forEach((n) => picked.delete(n));
    if (lost.length) toast(`Seat ${lost.join(', ')} was just taken by another traveller.`);
    const focused = document.activeElement && document.activeElement.dataset.seat;
    drawMap();
    update();
    if (focused) map.querySelector(`[data-seat="${focused}"]`)?.focus();
  });
}

// ---------- passengers and the hold ----------

function needLogin(next) {
  return h('div', {class: 'card'}, h('p', {}, 'Log in or create an account to hold your seats and pay.'),
    h('p', {}, h('a', {href: `#/login?next=${encodeURIComponent(next)}`}, 'Log in'), ' or ',
      h('a', {href: `#/signup?next=${encodeURIComponent(next)}`}, 'create an account')));
}

async function passengersPage() {
  const d = draft();
  if (!d) return go('#/');
  const s = session();
  const head = [h('h1', {}, 'Who is flying?'), h('p', {class: 'muted'},
    `${d.flight.number} ${d.flight.from.code} → ${d.flight.to.code}, ${localTime(d.flight.departure, d.flight.from.time_zone)} · `,
    d.seats ? `seats ${d.seats.join(', ')}` : `${d.count} × ${cabinName(d.cabin)}`, d.total ? ` · ${money(d.total)}` : '')];
  if (!s) return show(...head, needLogin('#/passengers'));
  const out = h('div', {'aria-live': 'polite'});
  const unconfirmed = await verifyBanner();
  if (unconfirmed) out.append(unconfirmed);
  const people = Array.from({length: d.travellers}, (_, i) => h('fieldset', {class: 'card grid'},
    h('legend', {}, d.seats ? `Seat ${d.seats[i]}` : `Traveller ${i + 1}`),
    field('First name', {name: `first_name_${i}`, field: `passengers[${i}].first_name`, autocomplete: i ? 'off' : 'given-name'}),
    field('Last name', {name: `last_name_${i}`, field: `passengers[${i}].last_name`, autocomplete: i ? 'off' : 'family-name'}),
    field('Date of birth', {type: 'date', name: `date_of_birth_${i}`, field: `passengers[${i}].date_of_birth`})));
  const submit = h('button', {class: 'primary', type: 'submit'}, 'Hold seats and continue to payment');
  const form = h('form', {novalidate: true, 'aria-label': 'Passengers'}, people,
    h('div', {class: 'card grid'}, field('Contact email', {type: 'email', name: 'contact_email', field: 'contact_email',
      value: (s.user && s.user.email) || '', autocomplete: 'email'}),
      field('Mobile number for text messages (optional)', {type: 'tel', name: 'contact_phone', field: 'contact_phone',
        autocomplete: 'tel', placeholder: '+447400123456', inputmode: 'tel'})),
    out, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const body = {
      flight_id: d.flight.id,
      seats: d.seats || {cabin: d.cabin, count: d.count},
      passengers: people.map((_, i) => ({first_name: data.get(`first_name_${i}`), last_name: data.get(`last_name_${i}`),
        date_of_birth: data.get(`date_of_birth_${i}`)})),
      contact_email: data.get('contact_email'),
    };
    const phone = (data.get('contact_phone') || '').replace(/[\s()-]/g, '');
    if (phone) body.contact_phone = phone;
    // One key per request body: a retry of the same hold is the same hold.
    const json = JSON.stringify(body);
    if (d.body !== json) Object.assign(d, {body: json, key: crypto.randomUUID()});
    saveDraft(d);
    busy(submit, async () => {
      out.replaceChildren(h('p', {class: 'muted'}, 'Holding your seats…'));
      try {
        const booking = await api('/bookings', {method: 'POST', auth: true, key: d.key, body});
        sessionStorage.removeItem(DRAFT);
        go(`#/booking/${booking.booking_id}`);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        if (err.status === 401) return show(...head, needLogin('#/passengers'));
        if (err.code === 'seats_unavailable') {
          return out.replaceChildren(notice('bad', h('strong', {}, 'Someone else has just booked ', d.seats ? `seat ${d.seats.join(', ')}` : 'the last of these seats', '. '),
            'Nothing was charged. ', h('a', {href: `#/flight/${d.flight.id}?travellers=${d.travellers}`}, 'Choose other seats')));
        }
        showError(form, err, out);
      }
    });
  });
  show(...head, form);
}

// ---------- account ----------

async function bookingsPage(params, gen) {
  if (!session()) return go(`#/login?next=${encodeURIComponent('#/bookings')}`);
  const page = Number(params.get('page')) || 1;
  const list = h('ul', {class: 'results', 'aria-live': 'polite'});
  const fill = async () => {
    const mine = await api(`/bookings?page=${page}&per_page=10`, {auth: true});
    if (!current(gen)) return;
    list.replaceChildren(...(mine.items.length ? mine.items.map((b) => h('li', {class: 'card'},
      h('div', {class: 'row'},
        h('a', {href: `#/booking/${b.booking_id}`}, h('strong', {}, b.booking_ref), b.flight ? ` · ${b.flight.flight_number} ${b.flight.origin} → ${b.flight.destination}` : ''),
        h('span', {class: `status ${b.status}`}, b.status.replace('_', ' '))),
      b.flight ? h('div', {class: 'muted'}, `Departs ${localTime(b.flight.departure_time, null)}`) : null))
      : [h('li', {}, 'No bookings yet. ', h('a', {href: '#/'}, 'Find a flight'))]));
    list.dataset.hasMore = String(mine.has_more);
  };
  await fill();
  show(h('h1', {}, 'My bookings'), list, h('nav', {class: 'pager', 'aria-label': 'Pages'},
    page > 1 ? h('a', {href: `#/bookings?page=${page - 1}`}, '← Newer') : null,
    list.dataset.hasMore === 'true' ? h('a', {href: `#/bookings?page=${page + 1}`}, 'Older →') : null));
  every(5000, () => fill().catch(() => null));
}

function accountForm(title, fields, action, params, alt) {
  const out = h('div', {'aria-live': 'polite'});
  const submit = h('button', {class: 'primary', type: 'submit'}, title);
  const form = h('form', {class: 'card grid', novalidate: true, 'aria-label': title}, fields, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    busy(submit, async () => {
      try {
        await action(data);
        go(params.get('next') || '#/bookings');
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        showError(form, err, out);
      }
    });
  });
  show(h('h1', {}, title), out, form, h('p', {}, alt));
}

function loginPage(params) {
  // Shown once the password was right and the account asks for its code.
  const otp = h('div', {hidden: true}, field('Code from your authenticator app (or a recovery code)',
    {name: 'otp', field: 'otp', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 14}));
  accountForm('Log in', [
    field('Email', {type: 'email', name: 'email', field: 'email', autocomplete: 'email'}),
    field('Password', {type: 'password', name: 'password', field: 'password', autocomplete: 'current-password'}),
    otp,
  ], async (d) => {
    try {
      await logIn(d.email, d.password, d.otp || undefined);
    } catch (err) {
      if (err.code === 'otp_required') {
        otp.hidden = false;
        otp.querySelector('input').focus();
        err.field = 'otp';
        err.message = 'Enter the code your authenticator app shows.';
      }
      throw err;
    }
  }, params,
  [h('a', {href: '#/forgot'}, 'Forgot your password?'), ' · New here? ', h('a', {href: `#/signup?${params}`}, 'Create an account')]);
}

function signupPage(params) {
  accountForm('Create account', [
    field('Name', {name: 'name', field: 'name', autocomplete: 'name'}),
    field('Email', {type: 'email', name: 'email', field: 'email', autocomplete: 'email'}),
    field('Password', {type: 'password', name: 'password', field: 'password', autocomplete: 'new-password'}),
  ], (d) => signUp(d.name, d.email, d.password), params,
  ['Have an account? ', h('a', {href: `#/login?${params}`}, 'Log in')]);
}

window.addEventListener('hashchange', render);
render();
