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

/** Whether a rule with this window and expiry applies at `at`. */
export function ruleActive(gate: { schedule?: ScheduleModel; expiresAt?: string }, at: Date): boolean {
  if (gate.expiresAt && at.getTime() >= Date.parse(gate.expiresAt)) return false;
  return !gate.schedule || windowOpen(gate.schedule, at);
}
