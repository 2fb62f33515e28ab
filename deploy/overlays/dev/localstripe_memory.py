"""localstripe with its store kept in memory only, holding PaymentIntents
to Stripe's documented contract where localstripe is more lenient.

The `localstripe` command loads and rewrites one fixed file,
/tmp/localstripe.pickle, shared by every instance on the machine: two
instances (tests in parallel, or a test beside `make dev`) would see and
overwrite each other's data. This launcher starts it with an empty store
that is never written to disk. Arguments are localstripe's own
(`--port N`).

Stripe's contract modelled here, where localstripe knows it not or is
more lenient:

- `automatic_payment_methods[enabled]` and `[allow_redirects]` on a
  PaymentIntent: without `allow_redirects=never` it may need a
  redirect-based method, so Stripe refuses a server-side confirm that
  gives no `return_url` ("A `return_url` must be specified because this
  PaymentIntent is configured to automatically accept the payment methods
  enabled in the Dashboard..."). Automatic payment methods are Stripe's
  default since API version 2023-08-16.
- Stripe's test cards (https://docs.stripe.com/testing), `TEST_CARDS`
  below: a card refused when it is tokenized (4242424242424241), declines
  when a PaymentIntent or a charge is confirmed (localstripe declined most
  of them only when attaching to a customer, which it still does), and
  3-D Secure required, then authorized or declined. A decline answers 402
  with Stripe's `card_error` body (`code`, `decline_code`, `message`,
  `charge`, `payment_intent`, `payment_method`); the intent goes back to
  `requires_payment_method` with `payment_method` null and the error in
  `last_payment_error`, until it is updated or confirmed again. A failed
  3-D Secure leaves `last_payment_error` =
  `payment_intent_authentication_failure`. A new payment method on an
  intent whose attempt failed makes it `requires_confirmation` again.
- Webhooks, the intent in Stripe's shape (the charge by id, the amounts
  and methods Stripe's clients require): an authorized manual-capture
  intent is announced with `payment_intent.amount_capturable_updated`, a
  decline or a failed 3-D Secure with one `payment_intent.payment_failed`.
- A card token (Stripe.js's `createToken`, which localstripe's Stripe.js
  has) becomes a PaymentMethod with `card[token]`, once: a token is
  single-use.
- Idempotent requests (https://docs.stripe.com/api/idempotent_requests):
  a POST to /v1/... repeating an `Idempotency-Key` of the same API key
  gets the first answer again (`Idempotent-Replayed: true`) if its method,
  path and parameters are the same, a 400 `idempotency_error` if not, a
  409 while the first is in flight. Answers 400, 409 and 429 are not
  kept (Stripe keeps a result once the endpoint started executing).
- localstripe's Stripe.js (`/js.stripe.com/v3/`) answers
  `confirmCardPayment` as Stripe.js does: a 3-D Secure that failed, or a
  payment declined after it, resolves `{error}` (from the intent's
  `last_payment_error`, with `payment_intent`), not `{paymentIntent}`. Its
  3-D Secure box is `[data-localstripe-3ds]`, fixed above the page.
"""
import os
import sys

from aiohttp import web

import localstripe
import localstripe.resources as resources
from localstripe.errors import UserError

resources.Store.dump_to_disk = lambda self: None

RETURN_URL_REQUIRED = (
    "A `return_url` must be specified because this PaymentIntent is "
    "configured to automatically accept the payment methods enabled in the "
    "Dashboard, some of which may require a full page redirect to succeed. "
    "If you do not want to accept redirect-based payment methods, set "
    "`automatic_payment_methods[enabled]` to `true` and "
    "`automatic_payment_methods[allow_redirects]` to `never` when creating "
    "Setup Intents and Payment Intents."
)

DECLINED = "Your card was declined."
INSUFFICIENT_FUNDS = "Your card has insufficient funds."

# Stripe's testing table for cards, https://docs.stripe.com/testing
# ("Declined payments", "3D Secure authentication"): the number, and the
# error Stripe answers (code, decline_code, message) when it is refused:
# 'create' when it is tokenized or made a PaymentMethod, 'charge' when a
# PaymentIntent (or a charge) is confirmed with it, 'after_auth' when its
# 3-D Secure (localstripe's `_requires_authentication`) succeeded.
# Any other card is authorized: 4242424242424242, 4000000000003055 (3-D
# Secure supported, not required), and 4000002500003155, 4000002760003184,
# 4000000000003220, 4000000000003063 once authenticated.
TEST_CARDS = {
    "4000000000000002": ("card_declined", "generic_decline", DECLINED, "charge"),
    "4000000000009995": ("card_declined", "insufficient_funds", INSUFFICIENT_FUNDS, "charge"),
    "4000000000009987": ("card_declined", "lost_card", DECLINED, "charge"),
    "4000000000009979": ("card_declined", "stolen_card", DECLINED, "charge"),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired.", "charge"),
    "4000000000000127": ("incorrect_cvc", "incorrect_cvc",
                         "Your card's security code is incorrect.", "charge"),
    "4000000000000119": ("processing_error", "processing_error",
                         "An error occurred while processing your card. "
                         "Try again in a little bit.", "charge"),
    # Attaches to a customer, declined when charged.
    "4000000000000341": ("card_declined", "generic_decline", DECLINED, "charge"),
    "4100000000000019": ("card_declined", "fraudulent", DECLINED, "charge"),
    "4242424242424241": ("incorrect_number", None, "Your card number is incorrect.", "create"),
    "4000008400001629": ("card_declined", "generic_decline", DECLINED, "after_auth"),
    "4000008260003178": ("card_declined", "insufficient_funds", INSUFFICIENT_FUNDS, "after_auth"),
}

AUTHENTICATION_FAILED = (
    "The provided PaymentMethod has failed authentication. You can provide "
    "payment_method_data or a new PaymentMethod to attempt to fulfill this "
    "PaymentIntent again."
)


class CardError(UserError):
    """Stripe's error body as given (UserError makes every error an
    `invalid_request_error`): a `card_error`, 402 unless told."""

    def __init__(self, error, status=402):
        super().__init__(status)
        self.body = {"error": error}


def _doc_url(code):
    return "https://stripe.com/docs/error-codes/" + code.replace("_", "-")


def _card_rule(source, *when):
    """The testing table's refusal of a card (PaymentMethod, or localstripe's
    legacy Card), if it is refused at one of `when`."""
    if getattr(source, "type", None) != "card":
        return None
    rule = TEST_CARDS.get(getattr(source, "_card_number", None))
    return rule if rule and rule[3] in when else None


def _refuse_at_creation(card):
    """Stripe refuses some numbers when the card is tokenized."""
    number = card.get("number") if isinstance(card, dict) else None
    rule = TEST_CARDS.get(number)
    if rule and rule[3] == "create":
        code, decline_code, message, _ = rule
        error = {"type": "card_error", "code": code, "message": message,
                 "doc_url": _doc_url(code)}
        if decline_code:
            error["decline_code"] = decline_code
        raise CardError(error)


def _method_export(method_id):
    """The PaymentMethod object of an error, as Stripe gives it (only a real
    `pm_`: localstripe's legacy cards are not in a PaymentMethod's shape)."""
    method = resources.store.get("payment_method:" + (method_id or ""))
    return method._export() if method is not None else None


def _stripe_intent(intent):
    """An intent's object in Stripe's shape, as Stripe's clients read it
    (async-stripe's PaymentIntent, in an error or an event): the charge by
    id, no `charges` (gone since API version 2022-11-15), the amounts and
    methods localstripe leaves out."""
    obj = intent._export()
    charge = obj.get("latest_charge")
    if isinstance(charge, dict):
        obj["latest_charge"] = charge.get("id")
    obj.pop("charges", None)
    status = obj["status"]
    obj.update(amount_capturable=intent.amount if status == "requires_capture" else 0,
               amount_received=intent.amount if status == "succeeded" else 0,
               confirmation_method="automatic", payment_method_types=["card"])
    return obj


def _announce(intent, event_type):
    """Send the webhook `event_type` about `intent`, in Stripe's shape."""
    event = resources.Event(event_type, intent)
    event.data["object"] = _stripe_intent(intent)
    event.pending_webhooks = 1
    resources.schedule_webhook(event)


def _fail_attempt(intent, error):
    """Stripe after a payment attempt failed: the intent needs a new payment
    method (`payment_method` null), the error is `last_payment_error`."""
    intent._payment_error = error
    intent.payment_method = None


# --- PaymentIntents: the return_url rule ----------------------------------

_create_intent = resources.PaymentIntent._api_create.__func__
_confirm_intent = resources.PaymentIntent._api_confirm.__func__


def _redirects_allowed(automatic):
    if automatic is None:
        return True
    if not isinstance(automatic, dict) or set(automatic) - {"enabled", "allow_redirects"}:
        raise UserError(400, "Invalid automatic_payment_methods")
    enabled = resources.try_convert_to_bool(automatic.get("enabled"))
    redirects = automatic.get("allow_redirects", "always")
    if type(enabled) is not bool or redirects not in ("always", "never"):
        raise UserError(400, "Invalid automatic_payment_methods")
    return enabled and redirects == "always"


def _create(cls, automatic_payment_methods=None, **data):
    redirects = _redirects_allowed(automatic_payment_methods)
    if resources.try_convert_to_bool(data.get("confirm")) and redirects \
            and data.pop("return_url", None) is None:
        raise UserError(400, RETURN_URL_REQUIRED)
    obj = _create_intent(cls, **data)
    obj._redirects_allowed = redirects
    return obj


def _confirm(cls, id, return_url=None, **kwargs):
    # A confirm with the client secret comes from Stripe.js, which handles
    # redirects itself; the server's confirm needs a return_url.
    obj = cls._api_retrieve(id)
    if "client_secret" not in kwargs and return_url is None \
            and getattr(obj, "_redirects_allowed", True):
        raise UserError(400, RETURN_URL_REQUIRED)
    return _confirm_intent(cls, id, **kwargs)


# --- PaymentIntents: attempts, their errors and their webhooks ------------

_create_charge = resources.PaymentIntent._create_charge
_start_confirm = resources.PaymentIntent._confirm
_update_intent = resources.PaymentIntent._update
_intent_status = resources.PaymentIntent.status.fget
_authenticate_intent = resources.PaymentIntent._api_authenticate.__func__


def _charge_and_announce(self, on_failure_now):
    """Stripe tells a manual-capture intent's authorization with
    `payment_intent.amount_capturable_updated` (localstripe tells nothing)."""
    _create_charge(self, on_failure_now)
    if self.capture_method == "manual" and self.status == "requires_capture":
        _announce(self, "payment_intent.amount_capturable_updated")


def _report_failure(self):
    """localstripe's, the event in Stripe's shape: a decline at confirm is
    one `payment_intent.payment_failed`, and the 402 card_error."""
    _announce(self, "payment_intent.payment_failed")
    if self.invoice:
        resources.Invoice._api_retrieve(self.invoice)._on_payment_failure_now()
    self.latest_charge._raise_failure()


def _report_async_failure(self):
    _announce(self, "payment_intent.payment_failed")
    if self.invoice:
        resources.Invoice._api_retrieve(self.invoice)._on_payment_failure_later()


def _new_attempt(self, on_failure_now):
    # Stripe clears last_payment_error when the intent is confirmed again...
    self._payment_error = None
    _start_confirm(self, on_failure_now)


def _update(self, **data):
    # ... or updated for any reason.
    _update_intent(self, **data)
    self._payment_error = None


def _status(self):
    # A failed attempt leaves `payment_method` null (`_fail_attempt`): one
    # set since is a new attempt to confirm, though localstripe's status,
    # seeing the declined charge, says requires_payment_method.
    status = _intent_status(self)
    if status == "requires_payment_method" and self.payment_method:
        return "requires_confirmation"
    return status


def _last_payment_error(self):
    error = getattr(self, "_payment_error", None)
    if error is None:
        return None
    error = dict(error)
    method = _method_export(error.pop("payment_method", None))
    if method is not None:
        error["payment_method"] = method
    return error


def _authenticate(cls, id, **kwargs):
    """localstripe's stand-in for the bank's 3-D Secure page, which its
    Stripe.js calls. Answers the intent as Stripe.js then sees it, a decline
    after a successful authentication included (in `last_payment_error`).
    A failed authentication is Stripe's `payment_intent_authentication_failure`
    and its `payment_intent.payment_failed` (localstripe sends none)."""
    before = resources.store.get("payment_intent:" + str(id))
    method = getattr(before, "payment_method", None)
    try:
        obj = _authenticate_intent(cls, id, **kwargs)
    except CardError:
        # Only the charge after a successful authentication raises one.
        return cls._api_retrieve(id)
    if obj._authentication_failed:
        _fail_attempt(obj, {
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure",
            "message": AUTHENTICATION_FAILED,
            "doc_url": _doc_url("payment_intent_authentication_failure"),
            "payment_method": method,
        })
        _announce(obj, "payment_intent.payment_failed")
    return obj


resources.PaymentIntent._api_create = classmethod(_create)
resources.PaymentIntent._api_confirm = classmethod(_confirm)
resources.PaymentIntent._api_authenticate = classmethod(_authenticate)
resources.PaymentIntent._create_charge = _charge_and_announce
resources.PaymentIntent._report_failure = _report_failure
resources.PaymentIntent._report_async_failure = _report_async_failure
resources.PaymentIntent._confirm = _new_attempt
resources.PaymentIntent._update = _update
resources.PaymentIntent.status = property(_status)
resources.PaymentIntent.last_payment_error = property(_last_payment_error)
# The extra routes were bound to the original methods at import.
_rebound = {
    "/v1/payment_intents/{id}/confirm": resources.PaymentIntent._api_confirm,
    "/v1/payment_intents/{id}/_authenticate": resources.PaymentIntent._api_authenticate,
}
resources.extra_apis[:] = [
    (method, url, _rebound.get(url, func)) for method, url, func in resources.extra_apis
]

# --- Charges: the testing table's declines --------------------------------

_charging_declined = resources.PaymentMethod._charging_is_declined
_set_declined = resources.Charge._set_auth_failure


def _charging_is_declined(self):
    # localstripe's legacy cards and sources ask PaymentMethod's.
    return _card_rule(self, "charge", "after_auth") is not None or _charging_declined(self)


def _set_auth_failure(self):
    """A declined charge, its code and message from the testing table, and
    its intent's attempt failed (every path: confirm, 3-D Secure, invoice,
    asynchronous)."""
    _set_declined(self)
    source = resources.PaymentMethod._api_retrieve(self.payment_method)
    rule = _card_rule(source, "charge", "after_auth")
    if rule:
        self.failure_code, self._decline_code, self.failure_message, _ = rule
    else:
        # localstripe's other declines: a card's is Stripe's generic one.
        self._decline_code = "generic_decline" if source.type == "card" else None
    intent = resources.store.get("payment_intent:" + (self.payment_intent or ""))
    if intent is not None:
        _fail_attempt(intent, dict(_charge_error(self), payment_method=self.payment_method))


def _charge_error(self):
    error = {"type": "card_error", "code": self.failure_code,
             "message": self.failure_message, "charge": self.id,
             "doc_url": _doc_url(self.failure_code)}
    if self._decline_code:
        error["decline_code"] = self._decline_code
    return error


def _raise_failure(self):
    """Stripe's 402 for a declined charge: the card_error, with the payment
    method and, for an intent's, the intent (back to requires_payment_method)."""
    error = _charge_error(self)
    method = _method_export(self.payment_method)
    if method is not None:
        error["payment_method"] = method
    if self.payment_intent:
        error["payment_intent"] = _stripe_intent(
            resources.PaymentIntent._api_retrieve(self.payment_intent))
    raise CardError(error)


resources.PaymentMethod._charging_is_declined = _charging_is_declined
resources.Charge._set_auth_failure = _set_auth_failure
resources.Charge._raise_failure = _raise_failure

# --- Tokens and PaymentMethods --------------------------------------------

_create_token = resources.Token._api_create.__func__
_create_method = resources.PaymentMethod._api_create.__func__


def _create_card_token(cls, card=None, **data):
    _refuse_at_creation(card)
    return _create_token(cls, card=card, **data)


def _create_payment_method(cls, type=None, card=None, **data):
    if type == "card":
        _refuse_at_creation(card)
    if type != "card" or not isinstance(card, dict) or set(card) != {"token"}:
        return _create_method(cls, type=type, card=card, **data)
    token = resources.Token._api_retrieve(card["token"])
    if getattr(token, "_used", False):
        raise UserError(400, "You cannot use a Stripe token more than once: "
                        + card["token"], {"code": "token_already_used"})
    details = {"number": token.card._card_number, "exp_month": token.card.exp_month,
               "exp_year": token.card.exp_year, "cvc": "123"}
    method = _create_method(cls, type=type, card=details, **data)
    token._used = token.used = True
    return method


resources.Token._api_create = classmethod(_create_card_token)
resources.PaymentMethod._api_create = classmethod(_create_payment_method)


# --- HTTP: after localstripe.server's import, whose routes bind the ------
# --- functions above when it is imported --------------------------------

if "--from-scratch" not in sys.argv:
    sys.argv.append("--from-scratch")

from localstripe.server import (  # noqa: E402
    app, get_api_key, get_post_data, json_response, start, unflatten_data)

# Idempotent requests: (API key, Idempotency-Key) -> the first request
# (method, path, parameters) and its answer (status, body, content type),
# None while it is in flight. Kept for the process's life (Stripe: 24 h).
_idempotent = {}


def _idempotency_error(status, message, code=None):
    error = {"type": "idempotency_error", "message": message}
    if code:
        error["code"] = code
    return json_response({"error": error}, status=status)


@web.middleware
async def _idempotent_requests(request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not request.path.startswith("/v1/") or not key:
        return await handler(request)
    # Per account: the secret key, else the publishable key of Stripe.js.
    data = await get_post_data(request, remove_auth=False) or {}
    account = get_api_key(request) or (data.get("key") if isinstance(data, dict) else None)
    slot = (account, key)
    # Parsed (form or JSON), so the order and encoding do not matter.
    sent = (request.method, request.path, data, unflatten_data(request.query))
    if slot in _idempotent:
        first, answer = _idempotent[slot]
        if first[:2] != sent[:2]:
            return _idempotency_error(400, (
                "Keys for idempotent requests can only be used for the same "
                f"endpoint they were first used for ('{sent[1]}' vs '{first[1]}'). "
                f"Try using a key other than '{key}' if you meant to execute a "
                "different request."))
        if first != sent:
            return _idempotency_error(400, (
                "Keys for idempotent requests can only be used with the same "
                "parameters they were first used with. Try using a key other "
                f"than '{key}' if you meant to execute a different request."))
        if answer is None:
            return _idempotency_error(409, (
                "There is currently another in-progress request using this "
                "Idempotent Key (that probably means you submitted twice, and "
                f"the other request is still going through): {key}. Please try "
                "again later."), code="idempotency_key_in_use")
        status, body, content_type = answer
        return web.Response(status=status, body=body, headers={
            "Content-Type": content_type, "Idempotent-Replayed": "true"})
    _idempotent[slot] = (sent, None)
    try:
        try:
            response = await handler(request)
        except UserError as e:
            response = e.to_response()
    except BaseException:
        del _idempotent[slot]
        raise
    if response.status in (400, 409, 429):
        # Refused before the endpoint ran: not kept, a retry runs again.
        del _idempotent[slot]
    else:
        _idempotent[slot] = (sent, (response.status, response.body,
                                    response.headers.get("Content-Type")))
    return response


def _patched(source, old, new):
    """`source` with the one `old` made `new`: a localstripe whose Stripe.js
    changed stops here rather than serve it unpatched."""
    if source.count(old) != 1:
        raise RuntimeError("localstripe-v3.js changed, the launcher's patch no "
                           "longer applies: " + old.strip().splitlines()[0])
    return source.replace(old, new)


with open(os.path.join(os.path.dirname(localstripe.__file__), "localstripe-v3.js")) as f:
    STRIPE_JS = f.read()
# The 3-D Secure box: findable, and above the page.
STRIPE_JS = _patched(STRIPE_JS, """\
    Object.assign(box.style, {
      position: 'absolute',
""", """\
    box.setAttribute('data-localstripe-3ds', '');
    Object.assign(box.style, {
      position: 'fixed',
      zIndex: '1000',
""")
# confirmCardPayment: `_authenticate` answers the intent; an intent neither
# authorized nor paid (3-D Secure failed, or declined after it) is Stripe.js's
# `{error}`, as its `last_payment_error` with the intent.
STRIPE_JS = _patched(STRIPE_JS, """\
        if (response.status !== 200 || body.error) {
          return {error: body.error};
        } else {
          return {paymentIntent: body};
        }
""", """\
        if (response.status !== 200 || body.error) {
          return {error: body.error};
        } else if (!['requires_capture', 'succeeded', 'processing']
                   .includes(body.status)) {
          return {error: Object.assign(
            {type: 'invalid_request_error',
             message: `payment_intent has status ${body.status}`},
            body.last_payment_error, {payment_intent: body})};
        } else {
          return {paymentIntent: body};
        }
""")


@web.middleware
async def _stripe_js(request, handler):
    # Stands for server.py's route (aiohttp has no way to replace one).
    if request.method in ("GET", "HEAD") and request.path == "/js.stripe.com/v3/":
        return web.Response(text=STRIPE_JS, content_type="application/javascript")
    return await handler(request)


app.middlewares.append(_stripe_js)
app.middlewares.append(_idempotent_requests)

if __name__ == "__main__":
    start()
