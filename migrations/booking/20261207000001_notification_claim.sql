-- An email's send is claimed, committed, before the SMTP conversation:
-- no transaction (and no row lock) stays open while the mail server
-- talks, and the claim's lease tells a concurrent attempt to wait. A claim
-- whose lease ran out belongs to an attempt that died: the next attempt
-- takes it over.
alter table notification add column claimed_until timestamptz;
