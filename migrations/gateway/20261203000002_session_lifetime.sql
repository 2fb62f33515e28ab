-- Sessions end: every refresh token carries the moment its session (its
-- family) began, and no rotation reaches past SESSION_MAX_AGE from there.
-- A used token may be presented once more within REFRESH_REUSE_GRACE
-- (two tabs refreshing at once); `reused_at` records that second use, and
-- a third use revokes the family as before.
alter table refresh_token
    add column session_started_at timestamptz,
    add column reused_at timestamptz;
update refresh_token r
   set session_started_at = f.started
  from (select family_id, min(created_at) as started from refresh_token group by family_id) f
 where r.family_id = f.family_id;
alter table refresh_token
    alter column session_started_at set not null,
    alter column session_started_at set default now();
