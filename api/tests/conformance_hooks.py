"""Schemathesis hooks for api/tests/conformance.rs.

The document states every rule a JSON Schema can state. A few rules tie two
inputs together, or an input to what the database holds; a request can be
valid by the document and still break one. Each such refusal is listed here,
by operation, status, error code and field, and only those are accepted as
"valid data refused" (ST202). Anything else the gateway refuses, that the
document allows, still fails the run.
"""

import re
from urllib.parse import parse_qsl, urlsplit

import schemathesis

def _refusals(status, code, *fields):
    """`(status, code, field)` for each field; without one, a refusal that
    names no field."""
    return {(status, code, field) for field in fields or ("",)}


def _invalid(*fields):
    return _refusals(422, "validation_failed", *fields)


# (method, path) -> {(status, code, field)} the gateway may answer to a
# request the document allows, because of a rule across inputs or state.
BEYOND_THE_SCHEMA = {
    # An airport that does not exist, or `to` equal to `from`; `max_price`
    # below `min_price`; `departs_before` before `departs_after`; a sort key
    # given twice.
    ("GET", "/api/v1/flights"): _refusals(
        400, "invalid_parameter", "from", "to", "max_price", "departs_before", "sort"
    ),
    ("POST", "/api/v1/bookings"): (
        # The same Idempotency-Key as an earlier, different request.
        _refusals(422, "idempotency_key_reused")
        # A seat the flight does not have, or a flight cancelled, departed
        # or closed for booking; a payment Stripe refuses to create.
        | _refusals(422, "booking_rejected")
        | _refusals(422, "payment_rejected")
        # One passenger per seat; a date of birth after today; a seat
        # listed twice in other spelling ("12a", "12A").
        | _invalid("passengers", "passengers[*].date_of_birth", "seats[*]")
        # A number outside its country's numbering plan, or not a mobile
        # (libphonenumber's metadata); `sms` in channels without a number.
        | _invalid("contact_phone")
    ),
    # Departure in the past, arrival not after departure or more than 30
    # hours later, destination equal to origin, an airport or airplane that
    # does not exist, a fare for a cabin the airplane lacks or none for one
    # it has.
    ("POST", "/api/v1/flights"): _invalid(
        "departure_time", "arrival_time", "destination", "origin", "airplane_id", "fares.*"
    ),
    # The new times against each other and the flight's current ones; a
    # fare for a cabin the flight does not have.
    ("PATCH", "/api/v1/flights/{id}"): _invalid("arrival_time", "departure_time", "fares.*"),
    # A city that does not exist; a zone the database does not know.
    ("POST", "/api/v1/airports"): _invalid("city_id", "time_zone"),
    ("PUT", "/api/v1/airports/{id}"): _invalid("city_id", "time_zone"),
    # Overlapping row ranges, a repeated seat letter, over 1,000 seats.
    ("POST", "/api/v1/airplanes"): _invalid("seat_map.*"),
    ("PUT", "/api/v1/airplanes/{id}"): _invalid("seat_map.*"),
    # A password zxcvbn estimates guessable (its rules, and the account's
    # own address and name as known words, are beyond a schema).
    ("POST", "/api/v1/auth/signup"): _invalid("password"),
    ("PUT", "/api/v1/auth/password"): _invalid("new_password"),
    # A link token the gateway never issued, or spent, expired, replaced.
    ("POST", "/api/v1/auth/verify-email"): _refusals(422, "link_invalid"),
    ("POST", "/api/v1/auth/unlock"): _refusals(422, "link_invalid"),
    ("POST", "/api/v1/auth/password-reset/confirm"): (
        _refusals(422, "link_invalid") | _invalid("password")
    ),
    # A code that is not the authenticator's current one.
    ("POST", "/api/v1/auth/totp/confirm"): _refusals(422, "wrong_code"),
    # Only Stripe can sign an event.
    ("POST", "/api/v1/webhooks/stripe"): _refusals(400, "invalid_signature", "Stripe-Signature"),
}


def _generalise(field):
    """`passengers[3].date_of_birth` -> `passengers[*].date_of_birth`,
    `fares.first` -> `fares.*`, `seat_map.sections[0].to_row` -> `seat_map.*`."""
    field = re.sub(r"\[\d+\]", "[*]", field or "")
    return field


def _matches(allowed, field):
    for pattern in allowed:
        if pattern == field:
            return True
        if pattern.endswith(".*") and field.startswith(pattern[:-1]):
            return True
    return False


def _lenient_query(response):
    """Query values are trimmed, and an empty one is the same as none (as
    HTML forms send them): such a value is accepted although its raw form
    breaks the parameter's schema. Judged on the query string as sent."""
    query = urlsplit(response.request.url).query
    return any(
        v == "" or v != v.strip() for _, v in parse_qsl(query, keep_blank_values=True)
    )


def _padded_string(value):
    """Text fields are trimmed before they are checked (`" Ada "` is Ada),
    as the document's description says."""
    if isinstance(value, str):
        return value != value.strip()
    if isinstance(value, dict):
        return any(_padded_string(v) for v in value.values())
    if isinstance(value, list):
        return any(_padded_string(v) for v in value)
    return False


def _integral_float(value):
    """JSON Schema counts 1.0 as an integer; the gateway, as the document's
    description says, wants integers written without a decimal point."""
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_integral_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_integral_float(v) for v in value)
    return False


@schemathesis.hook
def filter_failure(context, failure, case, response):
    code = getattr(failure, "code", None)
    if code == "ST201":
        return not (_lenient_query(response) or _padded_string(getattr(case, "body", None)))
    if code != "ST202":
        return True
    if response.status_code == 422 and _integral_float(getattr(case, "body", None)):
        return False
    key = (case.operation.method.upper(), case.operation.path)
    allowed = BEYOND_THE_SCHEMA.get(key)
    if not allowed:
        return True
    try:
        error = response.json()["error"]
    except Exception:
        return True
    field = _generalise(error.get("field"))
    fields = {f for (s, c, f) in allowed if s == response.status_code and c == error.get("code")}
    # Keep (report) the failure unless the refusal is one listed above.
    return not _matches(fields, field)
