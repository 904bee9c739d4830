// Checks GitHub Actions workflow files with GitHub's own parser (@actions/workflow-parser, the one
// behind the Actions language service): schema, expressions, job graph. Prints one JSON line per
// file, {file, errors, jobs: [{id, needs}]}, and exits 1 when any file has errors. With --env
// CONTEXT_JSON, it also evaluates the workflow's top-level `env:` with GitHub's expression
// evaluator (@actions/expressions) against the given contexts (github, secrets, vars), and prints
// the values as `env` (what a run with those contexts gets: which token a pull request is given).
//
//   node tools/validate-github-workflow.mjs [--env '{"github":{...},"secrets":{...}}'] .github/workflows/kiln.yml
//
// The package imports its JSON schema without an import attribute (it is written for bundlers),
// which Node refuses; the load hook below adds the attribute.
import * as fs from 'node:fs';
import { register } from 'node:module';

const hook = `export async function load(url, context, next) {
  return next(url, url.endsWith('.json') ? { ...context, importAttributes: { ...context.importAttributes, type: 'json' } } : context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
const { parseWorkflow, convertWorkflowTemplate, NoOperationTraceWriter } = await import('@actions/workflow-parser');
const { Evaluator, Lexer, Parser, data } = await import('@actions/expressions');
const { parse } = await import('yaml');

/** A JSON value as the evaluator's data. */
function toData(v) {
  if (v === null || v === undefined) return new data.Null();
  if (typeof v === 'string') return new data.StringData(v);
  if (typeof v === 'boolean') return new data.BooleanData(v);
  if (typeof v === 'number') return new data.NumberData(v);
  const d = new data.Dictionary();
  for (const [k, x] of Object.entries(v)) d.add(k, toData(x));
  return d;
}

/** `${{ expr }}` evaluated against the contexts; other text as it is. */
function evaluate(value, contexts) {
  const m = /^\$\{\{(.*)\}\}$/s.exec(String(value).trim());
  if (!m) return String(value);
  const expr = new Parser(new Lexer(m[1]).lex().tokens, Object.keys(contexts), []).parse();
  return new Evaluator(expr, toData(contexts)).evaluate().coerceString();
}

const args = process.argv.slice(2);
const envAt = args.indexOf('--env');
const contexts = envAt >= 0 ? JSON.parse(args.splice(envAt, 2)[1]) : undefined;

let failed = false;
for (const file of args) {
  const parsed = parseWorkflow({ name: file, content: fs.readFileSync(file, 'utf8') }, new NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors().map((e) => e.message);
  let jobs = [];
  if (parsed.value) {
    const template = await convertWorkflowTemplate(parsed.context, parsed.value);
    errors.push(...(template.errors ?? []).map((e) => e.Message));
    jobs = (template.jobs ?? []).map((j) => ({ id: j.id.value, needs: (j.needs ?? []).map((n) => n.value) }));
  }
  failed ||= errors.length > 0;
  const out = { file, errors: [...new Set(errors)], jobs };
  if (contexts) out.env = Object.fromEntries(Object.entries(parse(fs.readFileSync(file, 'utf8')).env ?? {}).map(([k, v]) => [k, evaluate(v, contexts)]));
  process.stdout.write(`${JSON.stringify(out)}\n`);
}
process.exitCode = failed ? 1 : 0;
