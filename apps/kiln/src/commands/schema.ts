import { tomlJsonSchema } from '@kiln/config';

export function schemaCommand(): void {
  process.stdout.write(`${JSON.stringify(tomlJsonSchema(), null, 2)}\n`);
}
