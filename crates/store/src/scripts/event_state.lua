-- Shared by the event scripts: an event being processed has the state
-- `p:<received_at>:<lease end>` (the end on Redis's clock, 0 once let go), or
-- `p:<received_at>` as versions before wrote it (their lease a key of its own).
-- Its receive time and lease end ('' for the older form); nil when not being processed.
local function processing(state)
  if not state then
    return nil
  end
  return string.match(state, '^p:(%-?%d+):?(%d*)$')
end
-- The state of an event received at `received_at` whose lease ends at `ends`.
local function leased(received_at, ends)
  return 'p:' .. received_at .. ':' .. ends
end
