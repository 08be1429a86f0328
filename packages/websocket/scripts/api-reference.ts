/**
 * Writes docs/api.md, the API reference, from the TSDoc in the source, with the TypeScript compiler
 * API: every public name of `wsz`, `wsz/client`, `wsz/testing` and `wsz/protocol`, its signature,
 * its doc comment and tags (defaults, errors). Members marked `@internal`, private or protected are
 * left out. `pnpm api` writes the file; test/docs checks that it is current.
 *
 *   node --import tsx packages/websocket/scripts/api-reference.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../', import.meta.url));
const ENTRIES: Array<[name: string, file: string]> = [
  ['wsz', 'src/index.ts'],
  ['wsz/client', 'src/client/index.ts'],
  ['wsz/testing', 'src/testing/index.ts'],
  ['wsz/protocol', 'src/protocol/index.ts'],
];
export const OUTPUT = fileURLToPath(new URL('../../../docs/api.md', import.meta.url));

const PRINT =
  ts.TypeFormatFlags.NoTruncation |
  ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType |
  ts.TypeFormatFlags.WriteArrowStyleSignature;

function isInternal(node: ts.Node): boolean {
  return ts.getJSDocTags(node).some((t) => t.tagName.text === 'internal') || /@internal\b/.test(leadingComment(node));
}

function leadingComment(node: ts.Node): string {
  const text = node.getSourceFile().getFullText();
  return (ts.getLeadingCommentRanges(text, node.getFullStart()) ?? []).map((r) => text.slice(r.pos, r.end)).join('\n');
}

function hidden(node: ts.Node): boolean {
  const flags = ts.getCombinedModifierFlags(node as ts.Declaration);
  if (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) return true;
  const name = (node as ts.NamedDeclaration).name;
  if (name && (ts.isPrivateIdentifier(name) || (ts.isIdentifier(name) && name.text.startsWith('_')))) return true;
  return isInternal(node);
}

/** A symbol's doc comment and tags, as Markdown. */
function docs(symbol: ts.Symbol, checker: ts.TypeChecker): string {
  const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
  const tags = symbol
    .getJsDocTags(checker)
    .filter((t) => !['internal', 'module'].includes(t.name))
    .map((t) => {
      const body = ts
        .displayPartsToString(t.text)
        .trim()
        .replace(/\s*\n\s*/g, ' ');
      if (t.name === 'param') return `- **param** ${body.replace(/^(\w+)\s*/, '`$1` ')}`;
      return `- **${t.name}**${body ? ` ${body}` : ''}`;
    });
  return links([text, tags.join('\n')].filter(Boolean).join('\n\n'));
}

/** `{@link X}` and `{@link X | text}` as code. */
function links(text: string): string {
  return text.replace(
    /\{@link\s+([^}|\s]+)\s*(?:\|\s*([^}]*))?\}/g,
    (_m, target: string, label?: string) => `\`${(label ?? target).trim()}\``,
  );
}

/** The source text of a declaration's signature line(s), without its body. */
function declarationText(node: ts.Node): string {
  const sf = node.getSourceFile();
  const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });
  let shown: ts.Node = node;
  if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) {
    shown = ts.isFunctionDeclaration(node)
      ? ts.factory.updateFunctionDeclaration(
          node,
          node.modifiers?.filter((m) => m.kind !== ts.SyntaxKind.AsyncKeyword),
          node.asteriskToken,
          node.name,
          node.typeParameters,
          node.parameters,
          node.type,
          undefined,
        )
      : ts.factory.updateMethodDeclaration(
          node,
          node.modifiers,
          node.asteriskToken,
          node.name,
          node.questionToken,
          node.typeParameters,
          node.parameters,
          node.type,
          undefined,
        );
  }
  return printer.printNode(ts.EmitHint.Unspecified, shown, sf).replace(/;\s*$/, '');
}

function memberLine(member: ts.Symbol, decl: ts.Declaration, checker: ts.TypeChecker): string | null {
  if (hidden(decl)) return null;
  const name = member.getName();
  if (name === '__constructor' || name === 'prototype') return null;
  const isStatic = (ts.getCombinedModifierFlags(decl) & ts.ModifierFlags.Static) !== 0 ? 'static ' : '';
  let signature: string;
  if (ts.isMethodDeclaration(decl) || ts.isMethodSignature(decl)) {
    signature = `${isStatic}${declarationText(decl).replace(/^(public |static |readonly )+/, '')}`;
    if (ts.isMethodSignature(decl))
      signature = `${isStatic}${name}${decl.questionToken ? '?' : ''}${checker.signatureToString(checker.getSignatureFromDeclaration(decl)!, undefined, PRINT)}`;
  } else if (ts.isGetAccessorDeclaration(decl)) {
    signature = `${isStatic}get ${name}(): ${checker.typeToString(checker.getTypeOfSymbolAtLocation(member, decl), undefined, PRINT)}`;
  } else if (ts.isSetAccessorDeclaration(decl)) {
    return null;
  } else {
    const readonly = (ts.getCombinedModifierFlags(decl) & ts.ModifierFlags.Readonly) !== 0 ? 'readonly ' : '';
    const optional = (member.flags & ts.SymbolFlags.Optional) !== 0 ? '?' : '';
    const type =
      (decl as ts.PropertyDeclaration).type?.getText() ??
      checker.typeToString(checker.getTypeOfSymbolAtLocation(member, decl), undefined, PRINT);
    signature = `${isStatic}${readonly}${name}${optional}: ${type.replace(/\s+/g, ' ')}`;
  }
  const doc = docs(member, checker);
  return `- \`${signature.replace(/\s+/g, ' ')}\`${doc ? `\n\n${indent(doc)}` : ''}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l ? `  ${l}` : l))
    .join('\n');
}

function kindOf(decl: ts.Declaration): string {
  if (ts.isClassDeclaration(decl)) return 'class';
  if (ts.isInterfaceDeclaration(decl)) return 'interface';
  if (ts.isTypeAliasDeclaration(decl)) return 'type';
  if (ts.isFunctionDeclaration(decl)) return 'function';
  if (ts.isEnumDeclaration(decl)) return 'enum';
  if (ts.isVariableDeclaration(decl)) return 'const';
  return 'value';
}

function section(name: string, symbol: ts.Symbol, checker: ts.TypeChecker): string {
  const decls = symbol.getDeclarations() ?? [];
  const decl = decls[0]!;
  const out: string[] = [`### \`${name}\` (${kindOf(decl)})`];
  const doc = docs(symbol, checker);
  if (ts.isClassDeclaration(decl) || ts.isInterfaceDeclaration(decl)) {
    const heritage = (decl.heritageClauses ?? []).map((h) => h.getText()).join(' ');
    const params = decl.typeParameters ? `<${decl.typeParameters.map((p) => p.getText()).join(', ')}>` : '';
    const abstract =
      ts.isClassDeclaration(decl) && ts.getCombinedModifierFlags(decl) & ts.ModifierFlags.Abstract ? 'abstract ' : '';
    out.push('```ts\n' + `${abstract}${kindOf(decl)} ${name}${params}${heritage ? ` ${heritage}` : ''}` + '\n```');
    if (doc) out.push(doc);
    const lines: string[] = [];
    if (ts.isClassDeclaration(decl)) {
      for (const c of decl.members.filter(ts.isConstructorDeclaration)) {
        if (hidden(c)) continue;
        const params = c.parameters.filter(
          (p) => (!isInternal(p) && !/@param role internal/.test(leadingComment(c))) || p.name.getText() !== 'role',
        );
        const sig = `new ${name}(${params.map((p) => p.getText().replace(/\s+/g, ' ')).join(', ')})`;
        const cdoc = ts
          .displayPartsToString(checker.getSignatureFromDeclaration(c)!.getDocumentationComment(checker))
          .trim();
        const ptags = ts
          .getJSDocTags(c)
          .filter(
            (t) =>
              (t.tagName.text === 'param' &&
                !/^role\b/.test(String((t as ts.JSDocParameterTag).name?.getText() ?? ''))) ||
              t.tagName.text === 'throws',
          )
          .map((t) =>
            t.tagName.text === 'throws'
              ? `- **throws** ${(ts.getTextOfJSDocComment(t.comment) ?? '').replace(/\s*\n\s*/g, ' ')}`
              : `- **param** \`${(t as ts.JSDocParameterTag).name.getText()}\` ${ts.getTextOfJSDocComment(t.comment) ?? ''}`.trimEnd(),
          );
        lines.push(
          `- \`${sig}\`${cdoc || ptags.length ? `\n\n${indent([cdoc, ptags.join('\n')].filter(Boolean).join('\n\n'))}` : ''}`,
        );
      }
    }
    const type = checker.getDeclaredTypeOfSymbol(symbol);
    const members = ts.isClassDeclaration(decl)
      ? [
          ...(symbol.members ? [...symbol.members.values()] : []),
          ...(symbol.exports ? [...symbol.exports.values()] : []),
        ]
      : checker.getPropertiesOfType(type).filter((p) => p.getDeclarations()?.some((d) => d.parent === decl));
    for (const m of members) {
      const md = m.getDeclarations()?.find((d) => !ts.isSetAccessorDeclaration(d)) ?? m.getDeclarations()?.[0];
      if (!md || md.parent !== decl || ts.isTypeParameterDeclaration(md)) continue;
      const line = memberLine(m, md, checker);
      if (line) lines.push(line);
    }
    if (lines.length) out.push(lines.join('\n'));
  } else if (ts.isFunctionDeclaration(decl)) {
    out.push(
      '```ts\n' +
        decls
          .filter(ts.isFunctionDeclaration)
          .map((d) => declarationText(d))
          .join('\n') +
        '\n```',
    );
    if (doc) out.push(doc);
  } else if (ts.isTypeAliasDeclaration(decl) || ts.isEnumDeclaration(decl)) {
    out.push('```ts\n' + declarationText(decl).replace(/^export (declare )?/, '') + '\n```');
    if (doc) out.push(doc);
  } else if (ts.isVariableDeclaration(decl)) {
    const type =
      decl.type?.getText() ?? checker.typeToString(checker.getTypeOfSymbolAtLocation(symbol, decl), undefined, PRINT);
    out.push('```ts\n' + `const ${name}: ${type}` + '\n```');
    if (doc) out.push(doc);
  }
  return out.join('\n\n');
}

/** The reference, as Markdown. */
export function apiReference(): string {
  const options = {
    ...ts.getDefaultCompilerOptions(),
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    types: ['node'],
  };
  const program = ts.createProgram(
    ENTRIES.map(([, f]) => root + f),
    options,
  );
  const checker = program.getTypeChecker();
  const parts = [
    '# API reference',
    '',
    'Generated from the TSDoc in `packages/websocket/src` by `packages/websocket/scripts/api-reference.ts` (`pnpm api`); the test suite fails when it is out of date. Guides: [handlers](handlers.md), [configuration](config.md), [pub/sub](pubsub.md), [client](client.md), [testing](testing.md).',
    '',
    ...ENTRIES.map(([name]) => `- [\`${name}\`](#${name.replace('/', '')})`),
  ];
  for (const [name, file] of ENTRIES) {
    const sf = program.getSourceFile(root + file)!;
    const moduleSymbol = checker.getSymbolAtLocation(sf)!;
    const exports = checker.getExportsOfModule(moduleSymbol).sort((a, b) => a.getName().localeCompare(b.getName()));
    parts.push('', `## \`${name}\``, '');
    const moduleDoc = ts
      .getJSDocCommentsAndTags(sf.statements[0]!)
      .map((d) => ts.getTextOfJSDocComment((d as ts.JSDoc).comment) ?? '')
      .join('\n')
      .trim();
    if (moduleDoc && /@module/.test(sf.getFullText().slice(0, 2000))) parts.push(moduleDoc, '');
    for (const exported of exports) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if (!symbol.getDeclarations()?.length) continue;
      parts.push(section(exported.getName(), symbol, checker), '');
    }
  }
  return (
    parts
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd() + '\n'
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = apiReference();
  if (process.argv.includes('--check')) {
    const current = readFileSync(OUTPUT, 'utf8');
    if (current !== text) {
      console.error('docs/api.md is out of date: run pnpm api');
      process.exit(1);
    }
  } else {
    writeFileSync(OUTPUT, text);
    console.log(`wrote ${OUTPUT} (${text.length} characters)`);
  }
}
