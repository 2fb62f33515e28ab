"""The traveller's web app in headless Chromium (Debian's), driven by
Playwright as a traveller would: keyboard and clicks, no API calls except
where another traveller acts (the last seat taken from under us).

Run by api/tests/webapp.rs against a gateway on the whole stack, with
localstripe's Stripe.js. Each journey saves screenshots in OUT.

usage: webapp.py BASE OUT --date YYYY-MM-DD --last-seat-flight ID
"""
import argparse
import base64
import email
import email.policy
import glob
import hashlib
import hmac
import json
import os
import re
import sys
import time
import urllib.request
import uuid

from playwright.sync_api import expect, sync_playwright

GOOD = "4242424242424242"
DECLINED = "4000000000000341"  # attaches, then the charge is declined
THREE_D_SECURE = "4000002500003155"

args = argparse.ArgumentParser()
args.add_argument("base")
args.add_argument("out")
args.add_argument("--date", required=True)
args.add_argument("--last-seat-flight", type=int, required=True)
args.add_argument("--short-window", required=True, help="a gateway whose payment window is 4 s")
args.add_argument("--mail-dir", required=True, help="where the SMTP sink writes the emails")
args = args.parse_args()
os.makedirs(args.out, exist_ok=True)
expect.set_options(timeout=30_000)
problems = []


def shot(page, name):
    page.screenshot(path=os.path.join(args.out, f"{name}.png"), full_page=True)


def api(method, path, body=None, token=None, key=None):
    """Another traveller, straight on the API."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if key:
        headers["idempotency-key"] = key
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(args.base + "/api/v1" + path, data, headers, method=method)
    with urllib.request.urlopen(request) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


def mailed_token(subject, to):
    """The token of the link in the latest email about `subject` to `to`."""
    deadline = time.time() + 30
    while time.time() < deadline:
        for path in sorted(glob.glob(os.path.join(args.mail_dir, "*.eml")), reverse=True):
            with open(path, "rb") as f:
                msg = email.message_from_binary_file(f, policy=email.policy.default)
            if subject in str(msg["subject"]) and to.lower() in str(msg["to"]).lower():
                found = re.search(r"token=([A-Za-z0-9_-]+)", msg.get_body(("plain",)).get_content())
                if found:
                    return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no {subject!r} email reached {to}")


def totp(secret, at=None):
    """What an authenticator app shows for `secret` (RFC 6238, 6 digits, 30 s)."""
    secret = secret.replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, int((at or time.time()) // 30).to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 15
    return f"{(int.from_bytes(mac[offset:offset + 4], 'big') & 0x7FFFFFFF) % 1_000_000:06d}"


def verify(page, address):
    """Opens the confirmation link of the email sent to `address`."""
    page.goto(f"{args.base}/#/verify-email?token={mailed_token('Confirm your email address', address)}")
    expect(page.get_by_role("heading", name="Email address confirmed")).to_be_visible()


def sign_up(page, name, email):
    page.goto(args.base + "/#/signup")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="My bookings")).to_be_visible()
    verify(page, email)


def search(page, date, travellers="1"):
    page.goto(args.base + "/#/")
    origin = page.get_by_label("From")
    origin.fill("Lon")
    # Autocomplete over cities and airports: London's airport is offered.
    expect(page.locator('#from-list option[value="LHR"]')).to_have_count(1)
    origin.fill("LHR")
    page.get_by_label("To").fill("cdg")
    page.get_by_label("Date").fill(date)
    page.get_by_label("Travellers").select_option(travellers)
    page.get_by_role("button", name="Search flights").click()


def pick_seat(page, seat):
    """With the keyboard: focus the seat, press Enter."""
    button = page.locator(f'[data-seat="{seat}"]')
    expect(button).to_be_enabled()
    button.focus()
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-pressed", "true")


def passengers(page, people, email=None):
    for i, (first, last, born) in enumerate(people):
        group = page.locator("fieldset").nth(i)
        group.get_by_label("First name").fill(first)
        group.get_by_label("Last name").fill(last)
        group.get_by_label("Date of birth").fill(born)
    if email:
        page.get_by_label("Contact email").fill(email)


def card(page, number):
    slot = page.locator("#card-element")
    expect(slot.locator('input[placeholder="number"]')).to_be_visible()
    slot.locator('input[placeholder="number"]').fill(number)
    slot.locator('input[placeholder="exp_month"]').fill("12")
    slot.locator('input[placeholder="exp_year"]').fill("30")
    slot.locator('input[placeholder="cvc"]').fill("123")
    slot.locator('input[placeholder="postal_code"]').fill("75001")


def pay(page):
    page.get_by_role("button", name="Pay").click()


def confirmed(page):
    expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
    expect(page.locator("dl.facts dd").first).to_contain_text("ticket")
    return page.locator("[data-ref]").inner_text()


def journey(page):
    """Search → results (filters, sort) → seat map → passengers (an error
    from the API shown at its field) → pay → confirmation with tickets."""
    search(page, args.date)
    shot(page, "01-search-results")
    expect(page.get_by_role("heading", name="1 flight", exact=True)).to_be_visible()
    expect(page.get_by_text("ZZ10 · London to Paris")).to_be_visible()
    # Filters and sort round-trip through the URL.
    page.get_by_label("Departs after").fill("06:00")
    page.get_by_label("Sort by").select_option("price")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"departs_after=06%3A00.*sort=price"))
    page.get_by_role("link", name="Choose seats on ZZ10").click()
    expect(page.get_by_role("heading", name="Pick your seats")).to_be_visible()
    pick_seat(page, "5A")
    shot(page, "02-seat-map")
    page.get_by_role("button", name="Continue to passengers").click()
    passengers(page, [("Ada", "Lovelace", "2099-12-10")])
    page.get_by_role("button", name="Hold seats and continue to payment").click()
    # The API's own message, next to the field it names.
    dob = page.locator("fieldset").nth(0).get_by_label("Date of birth")
    expect(dob).to_have_attribute("aria-invalid", "true")
    message = page.locator("#" + dob.get_attribute("aria-describedby")).inner_text()
    assert message, "no message next to the date of birth"
    shot(page, "03-passengers-error")
    passengers(page, [("Ada", "Lovelace", "1990-12-10")])
    # Texts too: the page sends the number without its spaces.
    page.get_by_label("Mobile number for text messages (optional)").fill("+44 7400 123456")
    page.get_by_role("button", name="Hold seats and continue to payment").click()
    expect(page.get_by_role("heading", name="Pay to confirm")).to_be_visible()
    expect(page.locator(".countdown")).to_have_text(re.compile(r"^\d+:\d\d$"))
    card(page, GOOD)
    shot(page, "04-pay")
    pay(page)
    ref = confirmed(page)
    expect(page.get_by_text("texted +447400123456")).to_be_visible()
    shot(page, "05-confirmation")
    return ref


def hold_seat(page, seat, person):
    """Search, pick `seat` on ZZ10, name its passenger, hold."""
    search(page, args.date)
    page.get_by_role("link", name="Choose seats on ZZ10").click()
    pick_seat(page, seat)
    page.get_by_role("button", name="Continue to passengers").click()
    passengers(page, [person])
    page.get_by_role("button", name="Hold seats and continue to payment").click()


def decline_then_good(page):
    """A declined card shows why; another card then goes through."""
    hold_seat(page, "6B", ("Grace", "Hopper", "1985-01-02"))
    card(page, DECLINED)
    pay(page)
    expect(page.get_by_text("The payment did not go through")).to_be_visible()
    shot(page, "06-declined")
    card(page, GOOD)
    pay(page)
    confirmed(page)


def three_d_secure(page):
    """A card that needs 3-D Secure: Stripe.js asks, the traveller confirms,
    Stripe's webhook confirms the booking."""
    search(page, args.date, travellers="2")
    page.get_by_role("link", name="Choose seats on ZZ10").click()
    # Let the system pick two economy seats.
    page.get_by_role("button", name="Choose 2 seats for me").click()
    passengers(page, [("Alan", "Turing", "1970-06-23"), ("Joan", "Clarke", "1971-06-24")])
    page.get_by_role("button", name="Hold seats and continue to payment").click()
    card(page, THREE_D_SECURE)
    pay(page)
    expect(page.get_by_role("button", name="Complete authentication")).to_be_visible()
    shot(page, "07-3d-secure")
    page.get_by_role("button", name="Complete authentication").click()
    confirmed(page)
    expect(page.locator("dl.facts dt")).to_have_count(2)


def three_d_secure_fails_then_another_card(page):
    """The 3-D Secure dialog does not outlive its page; a failed 3-D Secure
    is told at once, and the next card given is the one charged."""
    hold_seat(page, "7B", ("Hedy", "Lamarr", "1984-11-09"))
    card(page, THREE_D_SECURE)
    pay(page)
    complete = page.get_by_role("button", name="Complete authentication")
    expect(complete).to_be_visible()
    ref = page.locator("[data-ref]").inner_text()
    # Away and back: the dialog went with the page.
    page.get_by_role("link", name="My bookings").click()
    expect(page.get_by_role("heading", name="My bookings")).to_be_visible()
    expect(complete).to_have_count(0)
    page.get_by_role("link", name=ref).click()
    # The bank's check fails: said at once, in plain words.
    card(page, THREE_D_SECURE)
    pay(page)
    page.get_by_role("button", name="Fail authentication").click()
    expect(page.get_by_text("Your bank did not confirm this payment")).to_be_visible(timeout=1_000)
    shot(page, "07b-3d-secure-failed")
    # Another card: a new attempt, no dialog, that card charged.
    card(page, GOOD)
    pay(page)
    confirmed(page)
    expect(complete).to_have_count(0)


def last_seat_lost(page):
    """The seat goes to someone else between choosing and holding: plain
    words, nothing charged, a way back to the seat map."""
    flight = args.last_seat_flight
    page.goto(f"{args.base}/#/flight/{flight}?travellers=1")
    pick_seat(page, "3A")
    page.get_by_role("button", name="Continue to passengers").click()
    passengers(page, [("Mary", "Jackson", "1980-04-09")])
    other_email = f"other-{uuid.uuid4().hex[:8]}@airline.test"
    other = api("POST", "/auth/signup", {"name": "Other", "email": other_email, "password": "correct horse battery"})
    api("POST", "/auth/verify-email", {"token": mailed_token("Confirm your email address", other_email)})
    api("POST", "/bookings", {"flight_id": flight, "seats": ["3A"], "contact_email": "other@airline.test",
                              "passengers": [{"first_name": "Other", "last_name": "Person", "date_of_birth": "1980-01-01"}]},
        token=other["access_token"], key=str(uuid.uuid4()))
    page.get_by_role("button", name="Hold seats and continue to payment").click()
    expect(page.get_by_text("Someone else has just booked seat 3A")).to_be_visible()
    shot(page, "08-seat-lost")
    page.get_by_role("link", name="Choose other seats").click()
    expect(page.locator('[data-seat="3A"]')).to_be_disabled()


def cancel_with_refund(page, ref):
    """My bookings → the booking → the refund shown before confirming."""
    page.get_by_role("link", name="My bookings").click()
    page.get_by_role("link", name=ref).click()
    page.get_by_role("button", name="Cancel this booking").click()
    expect(page.get_by_text("€100.00 refunded in full")).to_be_visible()
    shot(page, "09-cancel")
    page.get_by_role("button", name="Yes, cancel and refund").click()
    expect(page.get_by_role("heading", name="Booking cancelled")).to_be_visible()
    expect(page.get_by_text("A refund of €100.00")).to_be_visible()
    shot(page, "10-cancelled")


def window_closes(browser):
    """The payment window closes while the traveller looks at the pay page
    (the gateway at --short-window gives 4 s): the seats are released and
    the page says so, with a way back to the seat map."""
    page = browser.new_page(viewport={"width": 1100, "height": 900}, locale="en-GB")
    page.on("pageerror", lambda e: problems.append(str(e)))
    global_base = args.base
    args.base = args.short_window
    try:
        sign_up(page, "Katherine Johnson", f"kj-{uuid.uuid4().hex[:8]}@airline.test")
        hold_seat(page, "12C", ("Katherine", "Johnson", "1978-08-26"))
        expect(page.get_by_role("heading", name="Your seats were released")).to_be_visible()
        expect(page.get_by_text("Nothing was charged")).to_be_visible()
        shot(page, "12-window-closed")
        page.get_by_role("link", name="Choose seats on this flight again").click()
        expect(page.locator('[data-seat="12C"]')).to_be_enabled()
    finally:
        args.base = global_base
        page.close()


def log_in(page, email):
    page.get_by_role("link", name="Log in").click()
    # The link re-renders the login page after its hashchange: fill the new
    # form (its sign-up link carries no `next`), not the one being replaced.
    expect(page.get_by_role("link", name="Create an account")).to_have_attribute("href", "#/signup?")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My bookings")).to_be_visible()
    expect(page.locator(".status")).not_to_have_count(0)


def account(browser):
    """The account a traveller manages: confirm the address from the email,
    two-step sign-in with an authenticator app, the sessions, a forgotten
    password reset by email, deletion."""
    page = browser.new_page(viewport={"width": 1100, "height": 900}, locale="en-GB")
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: d.accept())
    grace = f"grace-{uuid.uuid4().hex[:8]}@airline.test"
    page.goto(args.base + "/#/signup")
    page.get_by_label("Name").fill("Grace Hopper")
    page.get_by_label("Email").fill(grace)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("link", name="Grace Hopper").click()
    expect(page.get_by_text("Confirm your email address to book")).to_be_visible()
    verify(page, grace)
    page.goto(args.base + "/#/account")
    expect(page.get_by_text(f"{grace} · confirmed")).to_be_visible()
    on = page.get_by_role("form", name="Turn two-step sign-in on")
    on.get_by_label("Password").fill("correct horse battery")
    on.get_by_role("button", name="Turn two-step sign-in on").click()
    secret = page.locator("code.secret").inner_text()
    page.get_by_label("The 6-digit code the app shows").fill(totp(secret))
    page.get_by_role("button", name="Confirm with a code").click()
    codes = page.get_by_role("list", name="Recovery codes").locator("code")
    expect(codes).to_have_count(10)
    recovery = codes.all_inner_texts()
    shot(page, "13-two-step-on")
    page.get_by_role("button", name="Done").click()
    page.get_by_role("button", name="Log out").first.click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    # Signing in asks for the app's code once the password is right.
    page.goto(args.base + "/#/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Email").fill(grace)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    code = page.get_by_label("Code from your authenticator app (or a recovery code)")
    expect(code).to_be_visible()
    code.fill(totp(secret, time.time() + 30))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My bookings")).to_be_visible()
    page.goto(args.base + "/#/account")
    expect(page.get_by_role("list", name="Your sessions").get_by_role("listitem")).to_have_count(1)
    expect(page.get_by_text("(this device)")).to_be_visible()
    shot(page, "14-account")
    page.get_by_role("button", name="Log out everywhere").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    # Forgotten: reset by the emailed link (and a recovery code).
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    page.get_by_label("Email").fill(grace)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_text("a link is on its way")).to_be_visible()
    page.goto(f"{args.base}/#/reset-password?token={mailed_token('Reset your password', grace)}")
    page.get_by_label("New password", exact=True).fill("lantern ferry orchard 7")
    page.get_by_role("button", name="Change password").click()
    page.get_by_label("Code from your authenticator app (or a recovery code)").fill(recovery[0])
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    page.get_by_role("link", name="Log in").last.click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Email").fill(grace)
    page.get_by_label("Password").fill("lantern ferry orchard 7")
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Code from your authenticator app (or a recovery code)").fill(recovery[1])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My bookings")).to_be_visible()
    page.goto(args.base + "/#/account")
    delete = page.get_by_role("form", name="Delete my account")
    delete.get_by_label("Password").fill("lantern ferry orchard 7")
    delete.get_by_label("Code from your authenticator app (or a recovery code)").fill(recovery[2])
    delete.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Account deleted")).to_be_visible()
    shot(page, "15-deleted")
    page.close()


def quietly_refreshed(page):
    """The access token expires (the test gateway gives 5 s): the next call
    refreshes it and the traveller sees nothing."""
    time.sleep(6)
    page.get_by_role("link", name="My bookings").click()
    expect(page.get_by_role("heading", name="My bookings")).to_be_visible()
    expect(page.locator(".status")).not_to_have_count(0)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    # Logged out, my bookings asks for a login first.
    page.goto(args.base + "/#/bookings")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1100, "height": 900}, locale="en-GB")
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    ada = f"ada-{uuid.uuid4().hex[:8]}@airline.test"
    sign_up(page, "Ada Lovelace", ada)
    ref = journey(page)
    decline_then_good(page)
    three_d_secure(page)
    three_d_secure_fails_then_another_card(page)
    last_seat_lost(page)
    cancel_with_refund(page, ref)
    window_closes(browser)
    account(browser)
    quietly_refreshed(page)
    log_in(page, ada)
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, locale="en-GB")
    phone.on("pageerror", lambda e: problems.append(str(e)))
    search(phone, args.date)
    expect(phone.get_by_role("link", name="Choose seats on ZZ10")).to_be_visible()
    shot(phone, "11-phone")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the phone page scrolls sideways: {width}px"
    browser.close()

# Expected browser errors: the API's 4xx answers the journeys provoke on
# purpose (the bad date of birth, the lost seat, the declined card).
unexpected = [m for m in problems if "status of 4" not in m]
if unexpected:
    print("browser errors:", *unexpected, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print("web app journeys passed; screenshots in", args.out)
