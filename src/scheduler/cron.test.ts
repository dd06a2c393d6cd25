import { afterEach, describe, expect, it, vi } from 'vitest';
import { cronMatches, nodeCronDriver } from './cron.js';
import { parseConfig, ConfigError } from '../config/load.js';

const at = (iso: string) => new Date(iso);

describe('schedule expressions shown in the README', () => {
  it('hourly (the default), every 15 minutes, daily at 03:00, weekdays at 06:30', () => {
    expect(cronMatches('0 * * * *', 'UTC', at('2026-03-02T13:00:00Z'))).toBe(true);
    expect(cronMatches('0 * * * *', 'UTC', at('2026-03-02T13:30:00Z'))).toBe(false);
    expect(cronMatches('*/15 * * * *', 'UTC', at('2026-03-02T13:45:00Z'))).toBe(true);
    expect(cronMatches('*/15 * * * *', 'UTC', at('2026-03-02T13:50:00Z'))).toBe(false);
    expect(cronMatches('0 3 * * *', 'UTC', at('2026-03-02T03:00:00Z'))).toBe(true);
    expect(cronMatches('30 6 * * 1-5', 'UTC', at('2026-03-06T06:30:00Z'))).toBe(true); // a Friday
    expect(cronMatches('30 6 * * 1-5', 'UTC', at('2026-03-07T06:30:00Z'))).toBe(false); // a Saturday
  });

  it('ANDs day-of-month with day-of-week (standard cron ORs them)', () => {
    // "0 9 1 * 1": 09:00 on the 1st only when the 1st is a Monday.
    expect(cronMatches('0 9 1 * 1', 'UTC', at('2026-06-01T09:00:00Z'))).toBe(true); // Monday the 1st
    expect(cronMatches('0 9 1 * 1', 'UTC', at('2026-03-01T09:00:00Z'))).toBe(false); // Sunday the 1st: standard cron fires
    expect(cronMatches('0 9 1 * 1', 'UTC', at('2026-03-02T09:00:00Z'))).toBe(false); // Monday the 2nd: standard cron fires
    // So "the first Monday of the month" is simply "0 9 1-7 * 1" (or "0 9 * * 1#1").
    const firstMondays = ['2026-03-02', '2026-04-06', '2026-05-04'];
    for (const d of firstMondays) expect(cronMatches('0 9 1-7 * 1', 'UTC', at(`${d}T09:00:00Z`))).toBe(true);
    expect(cronMatches('0 9 1-7 * 1', 'UTC', at('2026-03-09T09:00:00Z'))).toBe(false); // second Monday
    expect(cronMatches('0 9 1-7 * 1', 'UTC', at('2026-03-03T09:00:00Z'))).toBe(false); // Tuesday the 3rd
    expect(cronMatches('0 9 * * 1#1', 'UTC', at('2026-04-06T09:00:00Z'))).toBe(true);
  });

  it('takes a seconds field first when there are six fields', () => {
    expect(cronMatches('*/2 * * * * *', 'UTC', at('2026-03-02T13:00:04Z'))).toBe(true);
    expect(cronMatches('*/2 * * * * *', 'UTC', at('2026-03-02T13:00:05Z'))).toBe(false);
  });

  it('reads the expression in the configured time zone, daylight saving included', () => {
    // 09:00 in Berlin: 08:00Z in winter (CET), 07:00Z in summer (CEST).
    expect(cronMatches('0 9 * * *', 'Europe/Berlin', at('2026-01-15T08:00:00Z'))).toBe(true);
    expect(cronMatches('0 9 * * *', 'Europe/Berlin', at('2026-07-15T07:00:00Z'))).toBe(true);
    expect(cronMatches('0 9 * * *', 'Europe/Berlin', at('2026-07-15T09:00:00Z'))).toBe(false);
    expect(cronMatches('0 9 * * *', 'UTC', at('2026-07-15T09:00:00Z'))).toBe(true);
  });
});

describe('config validation of schedules', () => {
  const config = (schedule: string, extra = '') => `${extra}targets:\n  - id: a\n    kind: oci\n    url: http://127.0.0.1:5000\n    schedule: "${schedule}"\n`;

  it('accepts node-cron expressions and names the bad one with its path', () => {
    expect(parseConfig(config('*/2 * * * * *')).targets[0].schedule).toBe('*/2 * * * * *');
    expect(() => parseConfig(config('61 * * * *'))).toThrow(ConfigError);
    expect(() => parseConfig(config('61 * * * *'))).toThrow(/targets\[0\]\.schedule: must be a cron expression.*61 is a invalid expression for minute/);
    expect(() => parseConfig(config('every hour'))).toThrow(/targets\[0\]\.schedule/);
  });

  it('checks the time zone and the retention schedule', () => {
    expect(() => parseConfig(config('0 * * * *', 'timezone: Mars/Olympus\n'))).toThrow(/timezone: must be an IANA time zone/);
    expect(parseConfig(config('0 * * * *', 'timezone: Europe/Berlin\n')).timezone).toBe('Europe/Berlin');
    expect(() => parseConfig(config('0 * * * *', 'retention:\n  olderThan: 90d\n  schedule: "0 25 * * *"\n'))).toThrow(/retention\.schedule/);
    expect(parseConfig(config('0 * * * *', 'retention:\n  olderThan: 90d\n')).retention).toEqual({ olderThan: '90d', schedule: '0 3 * * *', events: false });
  });
});

describe('the node-cron driver', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ticks at each matching instant with that instant as the slot (fake timers, no real waiting)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(at('2026-03-02T09:59:30Z'));
    const slots: string[] = [];
    const handle = nodeCronDriver().schedule({ name: 'test', expression: '0 * * * *', timezone: 'UTC', onTick: (slot) => slots.push(slot.toISOString()) });
    expect(handle.nextRun()?.toISOString()).toBe('2026-03-02T10:00:00.000Z');
    await vi.advanceTimersByTimeAsync(2 * 3_600_000 + 1_000);
    handle.stop();
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(slots).toEqual(['2026-03-02T10:00:00.000Z', '2026-03-02T11:00:00.000Z']);
  });
});
