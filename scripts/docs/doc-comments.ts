import ts from 'typescript';

/**
 * The doc comment of every top-level class, function and `const` a TypeScript source declares,
 * by name, as one line of text. The reference pages quote what the code says of itself.
 */
export function docComments(source: string): Map<string, string> {
  const file = ts.createSourceFile('source.ts', source, ts.ScriptTarget.ES2022, true);
  const out = new Map<string, string>();
  const text = (node: ts.Node) =>
    ts
      .getJSDocCommentsAndTags(node)
      .filter(ts.isJSDoc)
      .map((doc) => ts.getTextOfJSDocComment(doc.comment) ?? '')
      .join(' ')
      .replace(/\s+/g, ' ')
      .trim();
  for (const statement of file.statements) {
    if ((ts.isClassDeclaration(statement) || ts.isFunctionDeclaration(statement)) && statement.name) {
      const doc = text(statement);
      if (doc) out.set(statement.name.text, doc);
    } else if (ts.isVariableStatement(statement)) {
      const doc = text(statement);
      for (const declaration of statement.declarationList.declarations)
        if (doc && ts.isIdentifier(declaration.name)) out.set(declaration.name.text, doc);
    }
  }
  return out;
}
