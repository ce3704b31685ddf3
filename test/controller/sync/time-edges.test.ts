/**
 * The next instant a time-gated list may open or close: the controller requeues the list then
 * instead of polling, so the gate must not change anywhere before that instant.
 */
import fc from 'fast-check';
import { nextGateChange } from '../../../lib/controller/sync/time-edges';
import type { ScheduleModel, Weekday } from '../../../lib/policy/model';
import { ruleActive } from '../../../lib/policy/schedule';

const MINUTE = 60_000;
const DAYS: Weekday[] = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const window = (startTime: string, endTime: string, timeZone = 'UTC', daysOfWeek: Weekday[] = DAYS): ScheduleModel => ({
  daysOfWeek,
  startTime,
  endTime,
  timeZone,
});

describe('nextGateChange', () => {
  test('window edges in the window time zone', () => {
    // 2026-01-05 is a Monday.
    expect(new Date(nextGateChange({ schedule: window('09:00', '17:00') }, Date.parse('2026-01-05T08:59:30Z'))!).toISOString()).toBe(
      '2026-01-05T09:00:00.000Z',
    );
    expect(new Date(nextGateChange({ schedule: window('09:00', '17:00') }, Date.parse('2026-01-05T09:00:00Z'))!).toISOString()).toBe(
      '2026-01-05T17:00:00.000Z',
    );
    expect(new Date(nextGateChange({ schedule: window('09:00', '17:00') }, Date.parse('2026-01-05T18:00:00Z'))!).toISOString()).toBe(
      '2026-01-06T09:00:00.000Z',
    );
    // Midnight is an edge when the window starts at 00:00 or ends at 24:00 (the day changes there).
    expect(
      new Date(
        nextGateChange({ schedule: window('20:00', '24:00', 'UTC', ['monday']) }, Date.parse('2026-01-05T21:00:00Z'))!,
      ).toISOString(),
    ).toBe('2026-01-06T00:00:00.000Z');
    expect(
      new Date(nextGateChange({ schedule: window('09:00', '17:00', 'Asia/Kolkata') }, Date.parse('2026-01-05T03:00:00Z'))!).toISOString(),
    ).toBe('2026-01-05T03:30:00.000Z');
  });

  test('expiry: the instant itself, then never again', () => {
    expect(nextGateChange({ expiresAt: '2026-01-05T10:00:00.250Z' }, Date.parse('2026-01-05T09:00:00Z'))).toBe(
      Date.parse('2026-01-05T10:00:00.250Z'),
    );
    expect(nextGateChange({ expiresAt: '2026-01-05T10:00:00Z' }, Date.parse('2026-01-05T10:00:00Z'))).toBeUndefined();
    expect(
      nextGateChange({ schedule: window('09:00', '17:00'), expiresAt: '2026-01-05T10:00:00Z' }, Date.parse('2026-01-05T09:30:00Z')),
    ).toBe(Date.parse('2026-01-05T10:00:00Z'));
    expect(nextGateChange({}, Date.parse('2026-01-05T09:30:00Z'))).toBeUndefined();
  });

  test('daylight saving: a window edge after the change is found from the change, not an hour off', () => {
    // Europe/Berlin went from UTC+1 to UTC+2 at 2026-03-29T01:00:00Z (02:00 local became 03:00).
    const schedule = window('03:30', '05:00', 'Europe/Berlin');
    const first = nextGateChange({ schedule }, Date.parse('2026-03-28T23:30:00Z'))!; // 00:30 local, UTC+1
    expect(new Date(first).toISOString()).toBe('2026-03-29T01:00:00.000Z'); // the offset change
    expect(ruleActive({ schedule }, new Date(first))).toBe(false); // 03:00 local
    const opens = nextGateChange({ schedule }, first)!;
    expect(new Date(opens).toISOString()).toBe('2026-03-29T01:30:00.000Z'); // 03:30 local, UTC+2
    expect(ruleActive({ schedule }, new Date(opens))).toBe(true);
  });

  test('property: the gate is the same at every minute before the next change', () => {
    const zones = [
      'UTC',
      'Europe/Berlin',
      'America/New_York',
      'Asia/Kolkata',
      'Australia/Lord_Howe',
      'Pacific/Chatham',
      'America/St_Johns',
    ];
    const hhmm = fc
      .tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 15, 30, 45))
      .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
    fc.assert(
      fc.property(
        fc.record({
          days: fc.uniqueArray(fc.constantFrom(...DAYS), { minLength: 1, maxLength: 7 }),
          start: hhmm,
          end: fc.oneof(hhmm, fc.constant('24:00')),
          zone: fc.constantFrom(...zones),
          // Around the 2026 daylight-saving changes of the northern and southern zones, and any time.
          at: fc.oneof(
            fc.integer({ min: Date.parse('2026-03-07T00:00:00Z'), max: Date.parse('2026-04-06T00:00:00Z') }),
            fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2027-01-01T00:00:00Z') }),
          ),
          expiresInMinutes: fc.option(fc.integer({ min: 1, max: 3000 })),
        }),
        ({ days, start, end, zone, at, expiresInMinutes }) => {
          fc.pre(start < end);
          const gate = {
            schedule: window(start, end, zone, days),
            ...(expiresInMinutes !== null ? { expiresAt: new Date(at + expiresInMinutes * MINUTE - 7).toISOString() } : {}),
          };
          const next = nextGateChange(gate, at)!;
          expect(next).toBeGreaterThan(at);
          expect(next - at).toBeLessThanOrEqual(25 * 60 * MINUTE);
          const now = ruleActive(gate, new Date(at));
          // Every minute boundary before the change, and the last millisecond before it.
          for (let m = at - (at % MINUTE) + MINUTE; m < next; m += MINUTE) expect(ruleActive(gate, new Date(m))).toBe(now);
          expect(ruleActive(gate, new Date(next - 1))).toBe(now);
        },
      ),
      { numRuns: 40 },
    );
  });
});
