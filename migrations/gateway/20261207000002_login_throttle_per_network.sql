-- Failed logins counted per (address, client network) and, at a much higher
-- bar, per address alone (scope '*'): a stranger guessing from elsewhere
-- no longer locks the owner out of their own network, and spreading guesses
-- over many networks still meets the global bar (api/src/auth/throttle.rs).
-- The counts are transient: the old per-address rows are dropped.
delete from login_throttle;
alter table login_throttle add column scope text not null;
alter table login_throttle drop constraint login_throttle_pkey;
alter table login_throttle add constraint login_throttle_pkey primary key (email, scope);
create index login_throttle_updated_idx on login_throttle (updated_at);
