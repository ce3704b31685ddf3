/**
 * The instants a diff evaluates. Time windows and expiry switch rules on and off; rather than
 * pick one moment, the diff finds every combination of open and closed windows (and passed
 * expiry dates) that occurs in the week from its start time, minute by minute, and evaluates one
 * instant of each. With `--at` it evaluates that instant only.
 */
import type { PolicyModel, ScheduleModel, Weekday } from '../../policy/model';
import { WEEKDAYS } from '../../policy/model';
import { windowOpen } from '../../policy/schedule';

export interface TimeGate {
  /** `W1`, `E1`. */
  readonly id: string;
  /** `mon-fri 08:00-18:00 Europe/Berlin`, `until 2027-01-31T00:00:00Z`. */
  readonly text: string;
  /** Keys of the rules (of either output) with this window or expiry. */
  readonly rules: readonly string[];
  readonly schedule?: ScheduleModel;
  readonly expiresAt?: string;
}

export interface TimeState {
  readonly at: Date;
  /** Per gate: open (window) or not yet passed (expiry). */
  readonly open: readonly boolean[];
  /** `W1 open, E1 passed`; empty when there are no gates. */
  readonly label: string;
}

export interface TimeStates {
  readonly gates: readonly TimeGate[];
  readonly states: readonly TimeState[];
}

const SHORT: Readonly<Record<Weekday, string>> = {
  monday: 'mon',
  tuesday: 'tue',
  wednesday: 'wed',
  thursday: 'thu',
  friday: 'fri',
  saturday: 'sat',
  sunday: 'sun',
};

function daysText(days: readonly Weekday[]): string {
  if (days.length === 7) return 'daily';
  const idx = days.map((d) => WEEKDAYS.indexOf(d)).sort((a, b) => a - b);
  const contiguous = idx.every((v, i) => i === 0 || v === idx[i - 1] + 1);
  if (contiguous && idx.length > 2) return `${SHORT[WEEKDAYS[idx[0]]]}-${SHORT[WEEKDAYS[idx[idx.length - 1]]]}`;
  return idx.map((i) => SHORT[WEEKDAYS[i]]).join(',');
}

export function scheduleText(s: ScheduleModel): string {
  return `${daysText(s.daysOfWeek)} ${s.startTime}-${s.endTime} ${s.timeZone}`;
}

const WEEK_MINUTES = 7 * 24 * 60;

/** The gates of both policies and one instant per combination that occurs. */
export function timeStates(models: readonly PolicyModel[], start: Date, fixed: boolean): TimeStates {
  const gates: TimeGate[] = [];
  const byKey = new Map<string, TimeGate & { rules: string[] }>();
  for (const m of models) {
    for (const r of m.rules) {
      const key = r.level === 'cluster' ? `cluster/${r.name}` : `${r.level}/${r.namespace}/${r.name}`;
      const add = (k: string, make: () => Omit<TimeGate, 'id' | 'rules'>) => {
        let g = byKey.get(k);
        if (!g) {
          g = { ...make(), id: '', rules: [] };
          byKey.set(k, g);
        }
        if (!g.rules.includes(key)) g.rules.push(key);
      };
      if (r.schedule)
        add(`s:${JSON.stringify(r.schedule)}`, () => ({ text: scheduleText(r.schedule as ScheduleModel), schedule: r.schedule }));
      if (r.expiresAt) add(`e:${r.expiresAt}`, () => ({ text: `until ${r.expiresAt}`, expiresAt: r.expiresAt }));
    }
  }
  let w = 0;
  let e = 0;
  for (const g of [...byKey.values()].sort(
    (a, b) => (a.schedule ? 0 : 1) - (b.schedule ? 0 : 1) || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0),
  )) {
    gates.push({ ...g, id: g.schedule ? `W${++w}` : `E${++e}`, rules: [...g.rules].sort() });
  }
  const vector = (at: Date) =>
    gates.map((g) => (g.schedule ? windowOpen(g.schedule, at) : at.getTime() < Date.parse(g.expiresAt as string)));
  const label = (open: readonly boolean[]) =>
    gates.map((g, i) => `${g.id} ${g.schedule ? (open[i] ? 'open' : 'closed') : open[i] ? 'not passed' : 'passed'}`).join(', ');
  if (fixed || gates.length === 0) {
    const open = vector(start);
    return { gates, states: [{ at: start, open, label: label(open) }] };
  }
  const first = Math.floor(start.getTime() / 60000) * 60000;
  const seen = new Map<string, TimeState>();
  for (let m = 0; m < WEEK_MINUTES; m++) {
    const at = new Date(first + m * 60000);
    const open = vector(at);
    const key = open.map((o) => (o ? '1' : '0')).join('');
    if (!seen.has(key)) seen.set(key, { at, open, label: label(open) });
  }
  const states = [...seen.values()].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  return { gates, states };
}
