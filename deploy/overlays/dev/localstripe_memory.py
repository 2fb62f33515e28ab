"""localstripe with its store kept in memory only, holding PaymentIntents
to Stripe's documented contract where localstripe is more lenient.

The `localstripe` command loads and rewrites one fixed file,
/tmp/localstripe.pickle, shared by every instance on the machine: two
instances (tests in parallel, or a test beside `make dev`) would see and
overwrite each other's data. This launcher starts it with an empty store
that is never written to disk. Arguments are localstripe's own
(`--port N`).

Stripe's contract modelled here (localstripe knows neither): a
PaymentIntent accepts `automatic_payment_methods[enabled]` and
`[allow_redirects]`; without `allow_redirects=never` it may need a
redirect-based method, so Stripe refuses a server-side confirm that
gives no `return_url` ("A `return_url` must be specified because this
PaymentIntent is configured to automatically accept the payment methods
enabled in the Dashboard..."). Automatic payment methods are Stripe's
default since API version 2023-08-16. And an authorized manual-capture
intent is announced as Stripe does, with
`payment_intent.amount_capturable_updated`. A card token (Stripe.js's
`createToken`, which localstripe's Stripe.js has) becomes a PaymentMethod
with `card[token]`, once: a token is single-use, and a create retried with
the same `Idempotency-Key` gets the first answer again.
"""
import sys

from aiohttp import web

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


_create_charge = resources.PaymentIntent._create_charge


def _charge_and_announce(self, on_failure_now):
    """Stripe tells a manual-capture intent's authorization with
    `payment_intent.amount_capturable_updated` (localstripe tells nothing),
    its object in Stripe's shape: the charge by id, the amounts and methods
    Stripe's clients require."""
    _create_charge(self, on_failure_now)
    if self.capture_method != "manual" or self.status != "requires_capture":
        return
    event = resources.Event("payment_intent.amount_capturable_updated", self)
    intent = event.data["object"]
    charge = intent.get("latest_charge")
    if isinstance(charge, dict):
        intent["latest_charge"] = charge.get("id")
    intent.pop("charges", None)
    intent.update(amount_capturable=self.amount, amount_received=0,
                  confirmation_method="automatic", payment_method_types=["card"])
    event.pending_webhooks = 1
    resources.schedule_webhook(event)


resources.PaymentIntent._create_charge = _charge_and_announce
resources.PaymentIntent._api_create = classmethod(_create)
resources.PaymentIntent._api_confirm = classmethod(_confirm)
# The extra routes were bound to the original methods at import.
resources.extra_apis[:] = [
    (method, url, resources.PaymentIntent._api_confirm
     if url == "/v1/payment_intents/{id}/confirm" else func)
    for method, url, func in resources.extra_apis
]
_create_method = resources.PaymentMethod._api_create.__func__


def _create_payment_method(cls, type=None, card=None, **data):
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


resources.PaymentMethod._api_create = classmethod(_create_payment_method)

_replies = {}


@web.middleware
async def _idempotent_payment_methods(request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or request.path != "/v1/payment_methods" or not key:
        return await handler(request)
    if key not in _replies:
        response = await handler(request)
        _replies[key] = (response.status, response.body)
    status, body = _replies[key]
    return web.Response(status=status, body=body, content_type="application/json")


if "--from-scratch" not in sys.argv:
    sys.argv.append("--from-scratch")

from localstripe.server import app, start  # noqa: E402

app.middlewares.append(_idempotent_payment_methods)
start()
