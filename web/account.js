// The traveller's account: the pages the emailed links open (confirm the
// address, reset the password, unlock sign-in), and the account page
// (address, password, two-step sign-in, sessions, data export, deletion).

import {ApiError, api, forget, session} from './api.js';
import {busy, field, go, h, notice, show, showError} from './ui.js';

/** A form that calls `action(data)` and shows its error next to its field. */
function form(label, fields, action, submitText = label) {
  const out = h('div', {'aria-live': 'polite'});
  const submit = h('button', {class: 'primary', type: 'submit'}, submitText);
  const el = h('form', {class: 'card grid', novalidate: true, 'aria-label': label}, fields, out, submit);
  el.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(el));
    busy(submit, async () => {
      out.replaceChildren();
      try {
        await action(data, out, el);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        showError(el, err, out);
      }
    });
  });
  return el;
}

const password = (label, name, autocomplete) =>
  field(label, {type: 'password', name, field: name, autocomplete, required: true});
const codeField = (name = 'otp') =>
  field('Code from your authenticator app (or a recovery code)', {name, field: name, inputmode: 'numeric',
    autocomplete: 'one-time-code', maxlength: 14});

/** The `token` of the link that opened the page, or a notice saying it is missing. */
function linkToken(params, title) {
  const token = params.get('token');
  if (!token) show(h('h1', {}, title), notice('bad', 'This link is incomplete. Open it again from the email.'));
  return token;
}

export async function verifyEmailPage(params) {
  const title = 'Confirm your email address';
  const token = linkToken(params, title);
  if (!token) return;
  try {
    await api('/auth/verify-email', {method: 'POST', body: {token}});
    show(h('h1', {}, 'Email address confirmed'), notice('good', 'Thank you. You can book flights now.'),
      h('p', {}, h('a', {href: '#/', class: 'button primary'}, 'Find a flight')));
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    show(h('h1', {}, title), notice('bad', err.message),
      h('p', {}, session() ? h('a', {href: '#/account'}, 'Send a new link from your account') : h('a', {href: '#/login?next=%23%2Faccount'}, 'Log in to send a new link')));
  }
}

export function forgotPage() {
  show(h('h1', {}, 'Forgot your password?'),
    h('p', {}, 'We will email you a link to choose a new one.'),
    form('Send me a link', [field('Email', {type: 'email', name: 'email', field: 'email', autocomplete: 'email', required: true})],
      async (d, out, el) => {
        await api('/auth/password-reset', {method: 'POST', body: {email: d.email}});
        el.replaceWith(notice('good', `If an account uses ${d.email}, a link is on its way. It works for one hour.`));
      }));
}

export function resetPage(params) {
  const title = 'Choose a new password';
  const token = linkToken(params, title);
  if (!token) return;
  const otp = h('div', {hidden: true}, codeField());
  show(h('h1', {}, title),
    form(title, [password('New password', 'password', 'new-password'), otp], async (d, out) => {
      const body = {token, password: d.password};
      if (d.otp) body.otp = d.otp;
      try {
        await api('/auth/password-reset/confirm', {method: 'POST', body});
      } catch (err) {
        if (err.code === 'otp_required') {
          otp.hidden = false;
          otp.querySelector('input').focus();
          out.replaceChildren(notice('bad', 'Your account also asks for a code from your authenticator app.'));
          return;
        }
        throw err;
      }
      forget();
      show(h('h1', {}, 'Password changed'), notice('good', 'Your password is changed, and you were signed out everywhere.'),
        h('p', {}, h('a', {href: '#/login', class: 'button primary'}, 'Log in')));
    }, 'Change password'));
}

export async function unlockPage(params) {
  const title = 'Sign in again';
  const token = linkToken(params, title);
  if (!token) return;
  try {
    await api('/auth/unlock', {method: 'POST', body: {token}});
    show(h('h1', {}, 'Sign-in unlocked'), notice('good', 'This device can sign in to your account again.'),
      h('p', {}, h('a', {href: '#/login', class: 'button primary'}, 'Log in')));
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    show(h('h1', {}, title), notice('bad', err.message));
  }
}

/** "Confirm your address" above pages that book, for an unconfirmed account. */
export async function verifyBanner() {
  if (!session()) return null;
  const me = await api('/auth/me', {auth: true}).catch(() => null);
  if (!me || me.email_verified) return null;
  const resend = h('button', {class: 'link', type: 'button'}, 'Send the link again');
  const banner = notice('bad', `Confirm your email address to book: we sent a link to ${me.email}. `, resend);
  resend.addEventListener('click', () => busy(resend, async () => {
    await api('/auth/verify-email/resend', {method: 'POST', auth: true, body: {}}).catch(() => null);
    resend.replaceWith('A new link is on its way.');
  }));
  return banner;
}

function download(name, data) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], {type: 'application/json'}));
  const a = h('a', {href: url, download: name});
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function sessionsSection(sessions, refresh) {
  const when = (iso) => new Date(iso).toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'short'});
  const list = h('ul', {class: 'list', 'aria-label': 'Your sessions'}, sessions.map((s) => {
    const end = h('button', {class: 'link', type: 'button'}, s.current ? 'Log out' : 'Sign this device out');
    end.addEventListener('click', () => busy(end, async () => {
      await api(`/auth/sessions/${s.id}`, {method: 'DELETE', auth: true});
      if (s.current) {
        forget();
        return go('#/login');
      }
      refresh();
    }));
    return h('li', {}, h('strong', {}, s.device || 'Unknown device'), s.current ? ' (this device)' : '',
      h('span', {class: 'muted'}, ` · signed in ${when(s.started_at)}, last used ${when(s.last_used_at)} `), end);
  }));
  const everywhere = h('button', {type: 'button'}, 'Log out everywhere');
  everywhere.addEventListener('click', () => busy(everywhere, async () => {
    await api('/auth/logout-everywhere', {method: 'POST', auth: true, body: {}});
    forget();
    go('#/login');
  }));
  return h('section', {class: 'card', 'aria-labelledby': 'sessions-h'}, h('h2', {id: 'sessions-h'}, 'Where you are signed in'), list, everywhere);
}

function twoFactorSection(me, refresh) {
  const section = h('section', {class: 'card', 'aria-labelledby': 'tfa-h'}, h('h2', {id: 'tfa-h'}, 'Two-step sign-in'));
  if (me.two_factor) {
    section.append(h('p', {}, 'On: signing in asks for a code from your authenticator app.'),
      form('Turn two-step sign-in off', [password('Password', 'password', 'current-password'), codeField('code')], async (d) => {
        await api('/auth/totp/disable', {method: 'POST', auth: true, body: {password: d.password, code: d.code}});
        refresh();
      }));
    return section;
  }
  section.append(h('p', {}, 'Off. Turn it on to ask for a code from an authenticator app when you sign in.'),
    form('Turn two-step sign-in on', [password('Password', 'password', 'current-password')], async (d, out, el) => {
      const enrol = await api('/auth/totp', {method: 'POST', auth: true, body: {password: d.password}});
      el.replaceWith(h('div', {},
        h('p', {}, 'Add this account to your authenticator app: ', h('a', {href: enrol.otpauth_url}, 'open it in the app'),
          ', or type this key: ', h('code', {class: 'secret'}, enrol.secret.replace(/(.{4})/g, '$1 ').trim())),
        form('Confirm with a code', [field('The 6-digit code the app shows', {name: 'code', field: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6})],
          async (c, out2, el2) => {
            const {recovery_codes: codes} = await api('/auth/totp/confirm', {method: 'POST', auth: true, body: {code: c.code}});
            el2.replaceWith(h('div', {}, notice('good', 'Two-step sign-in is on.'),
              h('p', {}, 'Keep these recovery codes somewhere safe. Each signs you in once if you lose your phone; they are shown only now.'),
              h('ul', {class: 'codes', 'aria-label': 'Recovery codes'}, codes.map((code) => h('li', {}, h('code', {}, code)))),
              h('button', {type: 'button', onclick: refresh}, 'Done')));
          })));
    }));
  return section;
}

export async function accountPage() {
  if (!session()) return go(`#/login?next=${encodeURIComponent('#/account')}`);
  const me = await api('/auth/me', {auth: true});
  const refresh = () => accountPage().catch(() => go('#/login'));
  const sessions = await api('/auth/sessions', {auth: true});
  const address = h('section', {class: 'card', 'aria-labelledby': 'me-h'}, h('h2', {id: 'me-h'}, me.name),
    h('p', {}, me.email, ' · ', me.email_verified ? 'confirmed' : 'not confirmed yet'));
  const banner = await verifyBanner();
  if (banner) address.append(banner);
  const change = h('section', {class: 'card', 'aria-labelledby': 'pw-h'}, h('h2', {id: 'pw-h'}, 'Password'),
    form('Change password', [password('Current password', 'current_password', 'current-password'),
      password('New password', 'new_password', 'new-password')], async (d, out, el) => {
      await api('/auth/password', {method: 'PUT', auth: true, body: {current_password: d.current_password, new_password: d.new_password}});
      el.reset();
      out.replaceChildren(notice('good', 'Password changed. Your other devices were signed out.'));
    }));
  const exportButton = h('button', {type: 'button'}, 'Download my data');
  exportButton.addEventListener('click', () => busy(exportButton, async () => {
    download('my-airline-data.json', await api('/auth/export', {auth: true}));
  }));
  const removal = h('section', {class: 'card', 'aria-labelledby': 'data-h'}, h('h2', {id: 'data-h'}, 'Your data'),
    h('p', {}, 'Download everything we hold about you: your account, sessions and bookings.'), exportButton,
    h('h3', {}, 'Delete your account'),
    h('p', {}, 'We forget your name, address and password. The records of your bookings stay, as accounting law requires.'),
    form('Delete my account', [password('Password', 'password', 'current-password'), ...(me.two_factor ? [codeField()] : [])], async (d) => {
      if (!window.confirm('Delete your account for good?')) return;
      const body = {password: d.password};
      if (d.otp) body.otp = d.otp;
      await api('/auth/me', {method: 'DELETE', auth: true, body});
      forget();
      show(h('h1', {}, 'Account deleted'), notice('good', 'Your account is deleted. Thank you for flying with us.'),
        h('p', {}, h('a', {href: '#/'}, 'Back to search')));
    }));
  show(h('h1', {}, 'Your account'), address, change, twoFactorSection(me, refresh), sessionsSection(sessions, refresh), removal);
}
