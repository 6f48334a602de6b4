/**
 * Policy diagnostics: what a load reports about a policy file, each pinned to file:line:col and a JSON path.
 *
 * Positions come from byte offsets in the source; lines and columns are 1-based and count UTF-16 units,
 * as editors do for the characters policy files contain.
 */

export type DiagnosticSeverity = 'error' | 'warning'

export interface PolicyDiagnostic {
  file: string
  line: number
  col: number
  /** JSON path of the offending value, e.g. `grants[0].dst[1]`; empty for the whole document. */
  path: string
  /** Stable SCREAMING_SNAKE code, e.g. UNKNOWN_GATEWAY. */
  code: string
  message: string
  /** One line telling the author how to fix it; may be empty. */
  hint: string
  severity: DiagnosticSeverity
}

/** Where a value sits in the source: its offset and its JSON path. */
export interface Site {
  offset: number
  path: string
}

/** `policies/policy.hujson:12:5 grants[0].dst[1]: unknown gateway "eu-9" (hint: …)` */
export function formatDiagnostic(d: PolicyDiagnostic): string {
  const where = `${d.file}:${d.line}:${d.col}`
  const prefix = d.severity === 'warning' ? 'warning: ' : ''
  const hint = d.hint === '' ? '' : ` (hint: ${d.hint})`
  // A multi-line message (a failing test's diff) keeps the hint on its first line, so that line stands alone.
  const [first, ...rest] = d.message.split('\n')
  const tail = rest.length === 0 ? '' : `\n${rest.join('\n')}`
  return `${where} ${d.path === '' ? '(root)' : d.path}: ${prefix}${first}${hint}${tail}`
}

/** Appends one key to a JSON path; keys that are not plain identifiers are quoted so the path stays unambiguous. */
export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return path === '' ? key : `${path}.${key}`
  return `${path}[${JSON.stringify(key)}]`
}

/** Maps offsets to line and column with one scan of the source, then binary search per lookup. */
export class LineIndex {
  private readonly starts: number[]

  constructor(source: string) {
    this.starts = [0]
    for (let i = 0; i < source.length; i++) {
      const c = source.charCodeAt(i)
      if (c === 10) this.starts.push(i + 1)
      else if (c === 13 && source.charCodeAt(i + 1) !== 10) this.starts.push(i + 1)
    }
  }

  position(offset: number): { line: number; col: number } {
    let lo = 0
    let hi = this.starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.starts[mid]! <= offset) lo = mid
      else hi = mid - 1
    }
    return { line: lo + 1, col: offset - this.starts[lo]! + 1 }
  }
}

/** Collects diagnostics for one file so every check can report without knowing about lines. */
export class DiagnosticSink {
  readonly errors: PolicyDiagnostic[] = []
  readonly warnings: PolicyDiagnostic[] = []
  private readonly lines: LineIndex

  readonly file: string

  constructor(file: string, source: string) {
    this.file = file
    this.lines = new LineIndex(source)
  }

  error(at: Site, code: string, message: string, hint = ''): void {
    this.errors.push(this.make(at, code, message, hint, 'error'))
  }

  warning(at: Site, code: string, message: string, hint = ''): void {
    this.warnings.push(this.make(at, code, message, hint, 'warning'))
  }

  position(offset: number): { line: number; col: number } {
    return this.lines.position(offset)
  }

  private make(
    at: Site,
    code: string,
    message: string,
    hint: string,
    severity: DiagnosticSeverity,
  ): PolicyDiagnostic {
    const { line, col } = this.lines.position(at.offset)
    return { file: this.file, line, col, path: at.path, code, message, hint, severity }
  }
}
