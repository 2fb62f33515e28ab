// The booking page: paying (the card, 3-D Secure), waiting for the
// confirmation, the confirmed booking and its cancellation, and what an
// ended booking says.

import {ApiError, api} from './api.js';
import {h, fill, show, money, localTime, cabinName, notice, explain, busy} from './ui.js';
import {current, every} from './page.js';

const WAITING = ['holding', 'confirming'];

export async function bookingPage(id, gen) {
  const booking = await api(`/bookings/${encodeURIComponent(id)}`, {auth: true});
  const flight = await api(`/flights/${booking.flight_id}`).catch(() => null);
  if (!current(gen)) return;
  const view = h('div', {});
  show(view);
  draw(view, booking, flight, gen);
}

function draw(view, b, flight, gen) {
  const again = async () => {
    const fresh = await api(`/bookings/${encodeURIComponent(b.booking_id)}`, {auth: true}).catch(() => null);
    if (fresh && current(gen)) draw(view, fresh, flight, gen);
  };
  const zone = flight && flight.origin.time_zone;
  const facts = h('div', {class: 'card'},
    h('div', {class: 'row'}, h('span', {}, 'Booking reference ', h('strong', {'data-ref': b.booking_ref}, b.booking_ref)),
      h('span', {class: `status ${b.status}`}, b.status.replace('_', ' '))),
    b.flight ? h('p', {}, `${b.flight.flight_number} ${b.flight.origin} → ${b.flight.destination}, departs ${localTime(b.flight.departure_time, zone)}`) : null,
    h('dl', {class: 'facts'}, b.seats.map((s, i) => [
      h('dt', {}, `Seat ${s.seat_number} (${cabinName(s.cabin)})`),
      h('dd', {}, b.passengers[i] ? `${b.passengers[i].first_name} ${b.passengers[i].last_name}` : '',
        b.ticket_numbers[i] ? h('span', {class: 'muted'}, ` · ticket ${b.ticket_numbers[i]}`) : '')])),
    b.total ? h('p', {}, 'Total ', h('span', {class: 'price'}, money(b.total))) : null);
  const parts = {
    awaiting_payment: () => payPart(view, b, again, gen),
    confirmed: () => confirmedPart(b, again),
    completed: () => [h('h1', {}, 'Have a good trip'), notice('ok', 'This flight has departed.')],
    expired: () => [h('h1', {}, 'Your seats were released'),
      notice('bad', `The payment window closed${b.payment_due_at ? ` at ${localTime(b.payment_due_at, null, false)}` : ''} before a payment went through, so the seats went back on sale. Nothing was charged.`),
      h('p', {}, h('a', {href: `#/flight/${b.flight_id}?travellers=${b.seats.length || 1}`}, 'Choose seats on this flight again'))],
    cancelled: () => [h('h1', {}, 'Booking cancelled'), notice('ok',
      b.payment.refund ? `A refund of ${money(b.payment.refund.amount)} has been made to your card; it usually shows within 5–10 days.` : 'Nothing was charged.',
      b.reason ? ` ${b.reason}` : '')],
    failed: () => [h('h1', {}, 'This booking could not be completed'), notice('bad', b.reason || 'Nothing was charged.'),
      h('p', {}, h('a', {href: '#/'}, 'Search again'))],
    needs_attention: () => [h('h1', {}, 'We are looking into this booking'),
      notice('', 'Something needs a person to finish this booking. Our team has been told and will email you; you do not need to do anything.')],
  };
  if (b.status !== 'awaiting_payment') dismissOverlays();
  const body = WAITING.includes(b.status)
    ? [h('h1', {}, b.status === 'holding' ? 'Holding your seats…' : 'Confirming your payment…'), h('p', {class: 'muted'}, 'This takes a few seconds.')]
    : (parts[b.status] || (() => [h('h1', {}, 'Your booking')]))();
  fill(view, body, facts);
  if (WAITING.includes(b.status)) setTimeout(() => current(gen) && again(), 1000);
}

function payPart(view, b, again, gen) {
  const due = b.payment_due_at ? new Date(b.payment_due_at) : null;
  const clock = h('span', {class: 'countdown'});
  const tick = () => {
    const left = due ? Math.max(0, Math.round((due - Date.now()) / 1000)) : 0;
    clock.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
    if (due && left === 0) again();
  };
  tick();
  if (due) every(1000, tick);
  const out = h('div', {'aria-live': 'polite'});
  const pay = h('button', {class: 'primary', type: 'submit'}, `Pay ${money(b.total)}`);
  const cardSlot = h('div', {id: 'card-element'});
  const form = h('form', {class: 'card', 'aria-label': 'Card payment'},
    h('label', {for: 'card-element'}, 'Card'), cardSlot, h('span', {class: 'error', id: 'card-error'}), out, pay);
  const key = document.body.dataset.stripeKey;
  let stripe = null;
  let card = null;
  if (window.Stripe && key) {
    stripe = window.Stripe(key);
    card = stripe.elements().create('card');
    setTimeout(() => card.mount(cardSlot));
  } else {
    out.replaceChildren(notice('bad', 'Card payments cannot be taken right now. Your seats stay held until the deadline; please try again shortly.'));
    pay.disabled = true;
  }
  const failed = (text) => out.replaceChildren(notice('bad', text));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(pay, async () => {
      out.replaceChildren(h('p', {class: 'muted'}, 'Paying…'));
      const {token, error} = await stripe.createToken(card);
      if (error || !token) return failed((error && error.message) || 'Check the card details and try again.');
      let booking;
      try {
        booking = await api(`/bookings/${encodeURIComponent(b.booking_id)}/payment`, {method: 'POST', auth: true,
          key: crypto.randomUUID(), body: {payment_method: token.id}});
      } catch (err) {
        if (err instanceof ApiError && ['invalid_state', 'payment_in_progress', 'payment_attempts_exhausted'].includes(err.code)) {
          failed(explain(err));
          return setTimeout(again, 1500);
        }
        return failed(err instanceof ApiError ? explain(err) : 'The payment could not be sent. Please try again.');
      }
      const action = booking.payment && booking.payment.next_action;
      if (booking.status === 'awaiting_payment' && action) {
        out.replaceChildren(h('p', {class: 'muted'}, 'Your bank asks you to confirm this payment…'));
        const result = await withOverlays(() => stripe.confirmCardPayment(action.client_secret));
        if (!current(gen)) return;
        if (!authorized(result)) {
          // Told at once; the next card the traveller gives is a new
          // attempt, charged on an intent of its own.
          return failed(authenticationFailed(result));
        }
        return waitForConfirmation(b.booking_id, gen, view, again);
      }
      if (current(gen)) again();
    });
  });
  const lastError = b.payment.last_error;
  return [h('h1', {}, 'Pay to confirm'),
    h('p', {}, 'Your seats are held at this price for ', clock, due ? ` (until ${localTime(b.payment_due_at, null, false)}).` : '.'),
    lastError ? notice('bad', h('strong', {}, 'The payment did not go through: '), lastError.message, ' Try again or use another card.') : null,
    form];
}

/** Whether Stripe.js's answer to 3-D Secure authorized the payment (Stripe.js
 * answers `{error}` when it did not; an intent left needing a payment method
 * did not either, whatever the answer's shape). */
function authorized(result) {
  if (!result || result.error) return false;
  const intent = result.paymentIntent;
  return Boolean(intent) && ['requires_capture', 'succeeded', 'processing'].includes(intent.status);
}

/** One sentence for a 3-D Secure that did not authorize the payment. */
function authenticationFailed(result) {
  const error = result && result.error;
  // A card declined after authentication: Stripe's own words are the traveller's.
  if (error && error.type === 'card_error' && error.message) {
    return `${error.message} Nothing was charged; please use another card.`;
  }
  return 'Your bank did not confirm this payment, so nothing was charged. Enter your card again or use another one.';
}

// Stripe.js's 3-D Secure dialog lives outside the page (on document.body):
// it must not outlive the page that opened it.
const overlays = new Set();

/** Runs `work`, remembering what Stripe.js adds to the body meanwhile. */
async function withOverlays(work) {
  const seen = new MutationObserver((changes) => {
    for (const change of changes) for (const node of change.addedNodes) overlays.add(node);
  });
  seen.observe(document.body, {childList: true});
  try {
    return await work();
  } finally {
    seen.disconnect();
    for (const node of overlays) if (!node.isConnected) overlays.delete(node);
  }
}

export function dismissOverlays() {
  for (const node of overlays) node.remove();
  overlays.clear();
}

/** After 3-D Secure: Stripe tells us by webhook; the page waits for the booking to move on. */
function waitForConfirmation(id, gen, view, again) {
  let tries = 0;
  const poll = async () => {
    const b = await api(`/bookings/${encodeURIComponent(id)}`, {auth: true}).catch(() => null);
    if (!current(gen)) return;
    if (b && (b.status !== 'awaiting_payment' || b.payment.last_error || ++tries > 30)) return again();
    setTimeout(poll, 1000);
  };
  poll();
}

function confirmedPart(b, again) {
  const out = h('div', {'aria-live': 'polite'});
  const cancel = h('button', {type: 'button'}, 'Cancel this booking');
  cancel.addEventListener('click', () => {
    const yes = h('button', {class: 'danger', type: 'button'}, 'Yes, cancel and refund');
    out.replaceChildren(h('div', {class: 'card', role: 'alertdialog', 'aria-label': 'Confirm cancellation'},
      h('p', {}, `Cancel booking ${b.booking_ref}? Your seats will be released and `, h('strong', {}, `${money(b.total)} refunded in full`), ' to the card you paid with.'),
      h('div', {class: 'row'}, yes, h('button', {type: 'button', onclick: () => out.replaceChildren()}, 'Keep my booking'))));
    yes.focus();
    yes.addEventListener('click', () => busy(yes, async () => {
      try {
        await api(`/bookings/${encodeURIComponent(b.booking_id)}/cancel`, {method: 'POST', auth: true, key: crypto.randomUUID(), body: {}});
        again();
      } catch (err) {
        out.replaceChildren(notice('bad', err instanceof ApiError && err.code === 'booking_confirming'
          ? 'Your payment is still being confirmed. Try again in a few seconds.' : explain(err)));
      }
    }));
  });
  return [h('h1', {}, 'You are booked'),
    notice('ok', h('strong', {}, `Booking ${b.booking_ref} is confirmed. `),
      `We have emailed your e-tickets to ${b.contact_email}`,
      (b.channels || []).includes('sms') && b.contact_phone ? `, texted ${b.contact_phone}` : '',
      ', and we will remind you before departure.'),
    h('h2', {}, 'Change of plans?'), h('p', {class: 'muted'}, 'You can cancel until departure for a full refund.'), cancel, out];
}
