/**
 * Time windows and expiry, evaluated in the window's own time zone (so daylight-saving
 * changes move the window with the wall clock, as people expect).
 */
import type { ScheduleModel, Weekday } from './model';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'long', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Day of week and minutes since midnight of `at` in `timeZone`. */
export function wallClock(at: Date, timeZone: string): { day: Weekday; minutes: number } {
  let day = 'monday';
  let hour = 0;
  let minute = 0;
  for (const part of formatter(timeZone).formatToParts(at)) {
    if (part.type === 'weekday') day = part.value.toLowerCase();
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return { day: day as Weekday, minutes: hour * 60 + minute };
}

function toMinutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** Whether `at` falls inside the window: listed day, start ≤ time < end. */
export function windowOpen(schedule: ScheduleModel, at: Date): boolean {
  const { day, minutes } = wallClock(at, schedule.timeZone);
  return schedule.daysOfWeek.includes(day) && minutes >= toMinutes(schedule.startTime) && minutes < toMinutes(schedule.endTime);
}

/** Whether a rule's `expiresAt` has come at `at` (an expired rule is not enforced). */
export function ruleExpired(gate: { expiresAt?: string }, at: Date): boolean {
  return gate.expiresAt !== undefined && at.getTime() >= Date.parse(gate.expiresAt);
}

/** Whether a rule with this window and expiry applies at `at`. */
export function ruleActive(gate: { schedule?: ScheduleModel; expiresAt?: string }, at: Date): boolean {
  if (ruleExpired(gate, at)) return false;
  return !gate.schedule || windowOpen(gate.schedule, at);
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Default of how many days ahead synth warns of a rule's expiry. */
export const EXPIRY_WARNING_DAYS_DEFAULT = 14;

/**
 * What synth says about a rule's expiry at `now`: `expired` once `expiresAt` has come (the rule
 * is then not enforced), `expiring` within `warningDays` of it, nothing otherwise.
 */
export function expiryNotice(
  rule: { expiresAt?: string },
  now: Date,
  warningDays: number,
): { kind: 'expired' | 'expiring'; message: string } | undefined {
  if (rule.expiresAt === undefined) return undefined;
  const at = Date.parse(rule.expiresAt);
  if (now.getTime() >= at) {
    return {
      kind: 'expired',
      message: `expired at ${rule.expiresAt} and is no longer enforced (an expired ALLOW allows nothing, an expired DENY denies nothing); delete the rule, or set a later expiresAt if the exception was renewed`,
    };
  }
  if (at - now.getTime() <= warningDays * DAY_MS) {
    const days = Math.ceil((at - now.getTime()) / DAY_MS);
    return {
      kind: 'expiring',
      message: `expires at ${rule.expiresAt} (in ${days} day${days === 1 ? '' : 's'}) and is no longer enforced after it; set a later expiresAt if the exception is renewed, or delete the rule`,
    };
  }
  return undefined;
}
