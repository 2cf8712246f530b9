// Loaded with `node --import` before the runner: prints every module Node loads through its ES
// module loader (the runner's files and the packages they import) as a `LOADED <url>` line on
// stderr. Node's module hooks have no counterpart on Bun and Deno.
import { register } from 'node:module';

const hook = `export async function load(url, context, next) {
  if (!url.startsWith('node:')) process.stderr.write('LOADED ' + url + '\\n');
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
