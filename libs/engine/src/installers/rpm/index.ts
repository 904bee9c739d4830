/** What the RPM family's installers (dnf, zypper) share: rpm's database, the keys, the locks. */
export * from './database';
export * from './keys';
export * from './locks';
