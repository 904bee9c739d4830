/**
 * `nx g @kiln/nx:init` (also what `nx add @kiln/nx` runs): registers the plugin in nx.json, once,
 * keeps mkosi's build and local directories out of git, and adds the package to package.json.
 */
import { addDependenciesToPackageJson, formatFiles, readNxJson, updateNxJson, type GeneratorCallback, type Tree } from '@nx/devkit';
import { normalizeOptions, name as PLUGIN, type KilnPluginOptions } from '../../plugin';

export interface InitOptions extends KilnPluginOptions {
  skipPackageJson?: boolean;
  skipFormat?: boolean;
}

/**
 * Build products and per-checkout files that mkosi writes or reads beside a project's config.
 * mkosi documents mkosi.local.conf and mkosi.local/ as local configuration kept out of version
 * control; kiln hashes them (gitignored files included) so Nx still sees them.
 */
export const GITIGNORE = ['mkosi.output/', 'mkosi.cache/', 'mkosi.tools/', 'mkosi.local.conf', 'mkosi.local/', 'kiln.local.toml'];

export async function initGenerator(tree: Tree, options: InitOptions): Promise<GeneratorCallback> {
  registerPlugin(tree, options);
  ignoreBuildDirectories(tree);
  let install: GeneratorCallback = () => undefined;
  if (!options.skipPackageJson && tree.exists('package.json') && !declared(tree)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const version: string = require('../../../package.json').version;
    install = addDependenciesToPackageJson(tree, {}, { [PLUGIN]: `^${version}` });
  }
  if (!options.skipFormat) await formatFiles(tree);
  return install;
}

export default initGenerator;

/** Adds the plugin to nx.json unless it is there already (as a string or with options). */
function registerPlugin(tree: Tree, options: KilnPluginOptions): void {
  const nxJson = readNxJson(tree) ?? {};
  nxJson.plugins ??= [];
  if (nxJson.plugins.some((p) => (typeof p === 'string' ? p : p.plugin) === PLUGIN)) return;
  // Only options that differ from the defaults, so nx.json says what is special about this workspace.
  const defaults = normalizeOptions(undefined);
  const given = normalizeOptions(options);
  const changed = Object.fromEntries(Object.entries(given).filter(([k, v]) => defaults[k as keyof typeof defaults] !== v));
  nxJson.plugins.push(Object.keys(changed).length ? { plugin: PLUGIN, options: changed } : PLUGIN);
  updateNxJson(tree, nxJson);
}

function ignoreBuildDirectories(tree: Tree): void {
  const text = tree.exists('.gitignore') ? (tree.read('.gitignore', 'utf-8') ?? '') : '';
  const present = new Set(text.split('\n').map((l) => l.trim()));
  const missing = GITIGNORE.filter((l) => !present.has(l) && !present.has(`/${l}`) && !present.has(l.replace(/\/$/, '')));
  if (!missing.length) return;
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  tree.write('.gitignore', `${text}${sep}${text ? '\n' : ''}# kiln / mkosi\n${missing.join('\n')}\n`);
}

function declared(tree: Tree): boolean {
  const pkg = JSON.parse(tree.read('package.json', 'utf-8') ?? '{}') as Record<string, Record<string, string> | undefined>;
  return Boolean(pkg.dependencies?.[PLUGIN] ?? pkg.devDependencies?.[PLUGIN]);
}
