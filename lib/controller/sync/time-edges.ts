/**
 * When a time-gated list may next open or close: the controller requeues the list for that
 * instant instead of polling the clock.
 *
 * A window is evaluated per wall-clock minute in its time zone (lib/policy/schedule.ts), and
 * every UTC offset in use is a whole number of minutes, so the gate only changes on a UTC minute
 * boundary. The next candidate is the nearest wall-clock start or end (midnight is one of them
 * when a day change matters: a window from 00:00 or to 24:00); a UTC offset change (daylight saving) before that moves the wall
 * clock, so the list is requeued at the change instead and the next edge computed from there.
 */
import type { ScheduleModel } from '../../policy/model';
import { wallClock } from '../../policy/schedule';

const MINUTE_MS = 60_000;
const DAY_MINUTES = 1440;
const WEEK_MINUTES = 7 * DAY_MINUTES;
const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

/**
 * The first instant after `at` at which the gate (window and expiry) may change, or undefined
 * when it never changes again (expired, or no gate).
 */
export function nextGateChange(gate: { readonly schedule?: ScheduleModel; readonly expiresAt?: string }, at: number): number | undefined {
  const expiry = gate.expiresAt !== undefined ? Date.parse(gate.expiresAt) : Infinity;
  if (at >= expiry) return undefined;
  const edge = gate.schedule ? nextWindowEdge(gate.schedule, at) : Infinity;
  const next = Math.min(expiry, edge);
  return Number.isFinite(next) ? next : undefined;
}

function toMinutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

function nextWindowEdge(schedule: ScheduleModel, at: number): number {
  const { minutes } = wallClock(new Date(at), schedule.timeZone);
  let ahead = DAY_MINUTES; // both edges in this minute: the same minute tomorrow
  for (const edge of [toMinutes(schedule.startTime), toMinutes(schedule.endTime)]) {
    const m = (((edge - minutes) % DAY_MINUTES) + DAY_MINUTES) % DAY_MINUTES;
    if (m > 0) ahead = Math.min(ahead, m);
  }
  const candidate = at - (at % MINUTE_MS) + ahead * MINUTE_MS;
  return offsetChangeBefore(schedule.timeZone, at, candidate) ?? candidate;
}

/** Minutes the zone's wall clock is ahead of UTC at `at`. */
function utcOffsetMinutes(timeZone: string, at: number): number {
  const local = wallClock(new Date(at), timeZone);
  const d = new Date(at);
  const wall = DAYS.indexOf(local.day) * DAY_MINUTES + local.minutes;
  const utc = d.getUTCDay() * DAY_MINUTES + d.getUTCHours() * 60 + d.getUTCMinutes();
  const diff = (((wall - utc) % WEEK_MINUTES) + WEEK_MINUTES) % WEEK_MINUTES;
  return diff > WEEK_MINUTES / 2 ? diff - WEEK_MINUTES : diff;
}

/**
 * The first minute boundary in (from, to] with another UTC offset than `from`, if the offset at
 * `to` differs (zones change their offset at most once within a day or so).
 */
function offsetChangeBefore(timeZone: string, from: number, to: number): number | undefined {
  const before = utcOffsetMinutes(timeZone, from);
  if (utcOffsetMinutes(timeZone, to) === before) return undefined;
  // Binary search over minute boundaries: lo keeps the old offset, hi has the new one.
  let lo = from - (from % MINUTE_MS);
  let hi = to;
  while (hi - lo > MINUTE_MS) {
    const mid = lo + Math.floor((hi - lo) / MINUTE_MS / 2) * MINUTE_MS;
    if (utcOffsetMinutes(timeZone, mid) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}
