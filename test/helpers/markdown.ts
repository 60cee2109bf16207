/**
 * Just enough Markdown reading for the documentation tests: sections by
 * heading, table rows, inline code, fenced code blocks, links and the anchors
 * GitHub gives headings. Fenced code is never mistaken for prose.
 */

/** A fenced code block: its info string's first word and its text. */
export interface CodeBlock {
  readonly lang: string;
  readonly code: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
}

/** Splits a document into its lines, marking those inside fenced code blocks. */
function linesOf(doc: string): Array<{ text: string; fenced: boolean }> {
  let fence: string | undefined;
  return doc.split('\n').map(text => {
    const m = /^\s*(```+|~~~+)/.exec(text);
    if (m) {
      if (fence === undefined) fence = m[1];
      else if (m[1].startsWith(fence)) fence = undefined;
      return { text, fenced: true };
    }
    return { text, fenced: fence !== undefined };
  });
}

/** The prose of a document: its lines outside fenced code blocks. */
export function prose(doc: string): string {
  return linesOf(doc)
    .map(l => (l.fenced ? '' : l.text))
    .join('\n');
}

/** Sections at heading `level` (2 for `##`), by title as written, each up to the next heading of that level or higher. */
export function markdownSections(doc: string, level: number): Map<string, string> {
  const sections = new Map<string, string>();
  let title: string | undefined;
  let body: string[] = [];
  const close = (): void => {
    if (title !== undefined) sections.set(title, body.join('\n'));
  };
  for (const { text, fenced } of linesOf(doc)) {
    const m = fenced ? null : /^(#{1,6})\s+(.*?)\s*$/.exec(text);
    if (m && m[1].length <= level) {
      close();
      title = m[1].length === level ? m[2] : undefined;
      body = [];
    } else {
      body.push(text);
    }
  }
  close();
  return sections;
}

/** The data rows of every table in `text` (header and separator rows left out), cells trimmed; `\|` stays in its cell. */
export function tableRows(text: string): string[][] {
  const rows: string[][] = [];
  let inTable = false;
  for (const { text: line, fenced } of linesOf(text)) {
    if (fenced || !line.trimStart().startsWith('|')) {
      inTable = false;
      continue;
    }
    const cells = line
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map(c => c.trim());
    if (!inTable) {
      inTable = true; // the header row
      continue;
    }
    if (cells.every(c => /^:?-+:?$/.test(c))) continue;
    rows.push(cells);
  }
  return rows;
}

/** Every inline code span of the prose (outside fenced blocks). */
export function backticked(text: string): Set<string> {
  return new Set([...prose(text).matchAll(/`([^`\n]+)`/g)].map(m => m[1]));
}

/** The fenced code blocks of a document. */
export function codeBlocks(doc: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = doc.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*(```+|~~~+)\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i].trimStart().startsWith(open[1]); i++) body.push(lines[i]);
    blocks.push({ lang: open[2], code: body.join('\n'), line: start + 1 });
  }
  return blocks;
}

/** Every inline link and image target of the prose, with its 1-based line. */
export function links(doc: string): Array<{ target: string; line: number }> {
  const found: Array<{ target: string; line: number }> = [];
  linesOf(doc).forEach(({ text, fenced }, i) => {
    if (fenced) return;
    const withoutCode = text.replace(/`[^`]*`/g, '');
    for (const m of withoutCode.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) found.push({ target: m[1], line: i + 1 });
  });
  return found;
}

/** The anchors GitHub generates for a document's headings (`#some-heading`, `-1` suffixes for repeats). */
export function headingAnchors(doc: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text, fenced } of linesOf(doc)) {
    const m = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!m) continue;
    const slug = m[1]
      .toLowerCase()
      .replace(/<[^>]+>/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** A printed trace tree without what differs between runs: durations, trace, span and chain ids, short hashes. */
export function normalizeTree(text: string): string {
  return text
    .replace(/\b\d+(?:\.\d+)? (ms|s)\b/g, '<d> $1')
    .replace(/\b[0-9a-f]{32}\b/g, '<trace>')
    .replace(/\b[0-9a-f]{16}\b/g, '<span>')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '<chain>')
    .replace(/\b[0-9a-f]{8}…[0-9a-f]{8}\b/g, '<head>')
    .trimEnd();
}
