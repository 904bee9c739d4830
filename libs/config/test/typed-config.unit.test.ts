/**
 * The resolved configuration is typed from the settings table: a misspelled setting or a value of
 * the wrong type is a compile error (tools/test.sh type-checks the tests, so the @ts-expect-error
 * lines below fail the run if they ever compile).
 */
import { SETTINGS, type Config, type SettingName } from '../src';
import { main } from './helpers';

describe('the typed configuration', () => {
  it('has one key per setting of the table, and types each by its kind', () => {
    const c: Config = main({ 'mkosi.conf': '[Content]\nPackages=systemd\n' }) as Config;
    const packages: string[] = c.Packages;
    const epoch: number | null = c.SourceDateEpoch;
    const trees: { source: string; target: string | null }[] = c.ExtraTrees;
    expect([packages, epoch, trees]).toEqual([['systemd'], null, []]);
    expect(Object.keys(c).sort()).toEqual(SETTINGS.map((d) => d.name).sort());
    // @ts-expect-error a misspelled setting does not compile
    expect(c.Pakages).toBeUndefined();
    // @ts-expect-error a list is not a string
    const wrong: string = c.Packages;
    expect(wrong).toEqual(['systemd']);
    // @ts-expect-error not a setting name
    const name: SettingName = 'Pakages';
    expect(name).toBe('Pakages');
  });
});
