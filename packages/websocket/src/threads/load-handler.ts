import type { HandlerClass, HandlerHooks } from '../handler/handler.js';

/** Set while a wsz thread imports the handler module, so a Server started there can say what is wrong. */
export const IN_WORKER = Symbol.for('wsz.inWorker');

/**
 * Imports the user's handler class in a thread of ours (a hook worker or an I/O thread): the export
 * named `exportName` of `moduleUrl` (the class's `static module = import.meta.url`). Throws an error
 * that says what to do when the module cannot be loaded or does not export the class.
 */
export async function loadHandler(moduleUrl: string, exportName: string): Promise<HandlerClass<HandlerHooks<unknown>>> {
  (globalThis as Record<symbol, unknown>)[IN_WORKER] = true;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(moduleUrl)) as Record<string, unknown>;
  } catch (error) {
    const message = String((error as Error).message);
    const ts = /\.[cm]?tsx?$/.test(moduleUrl) && /file extension/i.test(message);
    // Node strips types but does not transform: enums, namespaces, parameter properties need more than that.
    const stripOnly = (error as { code?: unknown }).code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX';
    throw new Error(
      `cannot import handler module ${moduleUrl} in a worker thread: ${message.replace(/\.$/, '')}` +
        (ts
          ? '. It is TypeScript: run Node 22.18 or later (24 LTS), which strips types itself, run the app with tsx ' +
            '(`tsx app.ts` or `node --import tsx app.ts`), or compile it to JavaScript.'
          : stripOnly
            ? '. Node only strips types: write the handler module without TypeScript-only syntax (enums, namespaces, ' +
              'parameter properties), or run the app with tsx (`node --import tsx app.ts`).'
            : ''),
    );
  }
  const H = mod[exportName] ?? (mod.default as { name?: string } | undefined);
  if (typeof H !== 'function' || (H.name !== exportName && mod[exportName] === undefined)) {
    const classes = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
    throw new Error(
      `handler module ${moduleUrl} does not export class ${exportName} (it exports ${classes.length > 0 ? classes.join(', ') : 'no class'}): ` +
        `worker threads import the module that \`static module\` names and take the class by its exported name. ` +
        `If ${exportName} is defined in another file, set \`static module = import.meta.url;\` in that class itself ` +
        `(a subclass needs its own); if it is defined here, add \`export\` to it.`,
    );
  }
  return H as HandlerClass<HandlerHooks<unknown>>;
}
