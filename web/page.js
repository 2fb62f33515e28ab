// The page's lifetime: each page change is a new generation, and what the
// old page started (timers, answers still on their way) must not touch the
// new one.

let generation = 0;
const timers = new Set();

/** A new page: stops the old page's timers; answers its generation. */
export function nextPage() {
  for (const id of timers) clearInterval(id);
  timers.clear();
  return ++generation;
}

/** Whether `gen` is still the page on screen. */
export const current = (gen) => gen === generation;

/** A timer that stops when the page changes. */
export function every(ms, fn) {
  const id = setInterval(fn, ms);
  timers.add(id);
  return id;
}
